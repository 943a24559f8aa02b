// The same pipeline file through `rpo run` on a cluster entry of kind pbs: the testbed's Torque-style
// command set (qsub/qstat/qhold/... wrappers over Slurm), reached over SSH.
import { describe, expect, it } from 'vitest'
import { runCli, writePipeline } from '../support/cli-harness.js'
import { testbedWorkspace } from './testbed.js'

describe('rpo run on a PBS cluster entry', () => {
  it('runs prep → sweep → report to success with dependencies enforced by the scheduler', async () => {
    const { dir } = testbedWorkspace({ kind: 'pbs' })
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: viapbs
defaults:
  resources: { partition: cpu, time: 2m, memory: 100M }
tasks:
  prep: { command: "sleep 1; echo ready > \\"$RPO_OUTPUT_DIR/flag\\"" }
  train:
    after: [prep]
    matrix: { seed: [1, 2] }
    command: test -f "$RPO_RUN_DIR/prep/flag" && echo "seed {{params.seed}}"
  report: { command: "echo done", after: [train] }
`,
    )
    const result = await runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
    expect(result.code, result.stderr + result.stdout).toBe(0)
    const progress = JSON.parse(result.stdout)
    expect(progress.tasks.map((t: { id: string; state: string }) => [t.id, t.state])).toEqual([
      ['prep', 'succeeded'],
      ['train.0', 'succeeded'],
      ['train.1', 'succeeded'],
      ['report', 'succeeded'],
    ])
  }, 120_000)
})
