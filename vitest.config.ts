import { defineConfig } from 'vitest/config'

// two projects: everything that runs on this machine alone, and the live Slurm testbed suites,
// which run one file at a time (they share one cluster, and the fault tests cut its SSH sessions).
// `npm test` (test/run-projects.sh) runs the two side by side, in a vitest process each.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['test/support/build-dist.ts'],
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts', 'adapters/**/*.ts'],
      exclude: ['**/*.d.ts'],
      reporter: ['text-summary', 'json-summary'],
      thresholds: { lines: 85 },
    },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/cluster/**', 'test/faults/live/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts', 'test/faults/live/**/*.test.ts'],
          fileParallelism: false,
          // one worker runs every file in turn, loading rpo's modules once rather than once per file
          // (seconds of CPU each); the files share no module state (each opens and closes its own
          // SSH connections, workspaces and runs)
          isolate: false,
          // a group of its own after `unit` when both run in one process, as without isolate: false
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
