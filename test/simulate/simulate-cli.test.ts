// `rpo simulate` as a user runs it: help, the side-by-side table, --json, what-if budgets, and
// bad arguments refused with a clear message and exit code 2. Small slices of the real traces.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../support/cli-harness.js'
import { ALIBABA_TRACE, PHILLY_TRACE } from '../support/shared-traces.js'

const ALIBABA = ALIBABA_TRACE
const PHILLY = PHILLY_TRACE
const cwd = tmpdir()

describe('rpo simulate', () => {
  it('--help documents the command and its what-if flags', async () => {
    const result = await runCli(cwd, ['simulate', '--help'])
    expect(result.code).toBe(0)
    for (const flag of [
      '--policy',
      '--nodes',
      '--gpus-per-node',
      '--limit',
      '--window',
      '--budget',
      '--budget-scale',
      '--json',
    ]) {
      expect(result.stdout).toContain(flag)
    }
  })

  it('prints the three policies side by side for a slice of a trace', async () => {
    const result = await runCli(cwd, ['simulate', PHILLY, '--limit', '60', '--nodes', '8', '--no-progress'])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('60 jobs, the first 60 of the file')
    expect(result.stdout).toMatch(/^\s+rpo\s+fifo\s+backfill$/m)
    for (const row of ['GPU utilization', 'p95 queue wait', 'makespan', 'deadline misses', 'GPU-hours by project']) {
      expect(result.stdout).toContain(row)
    }
    expect(result.stderr).toBe('')
  })

  it('--json gives the figures per policy, and --policy picks one', async () => {
    const result = await runCli(cwd, ['simulate', ALIBABA, '--limit', '50', '--policy', 'fifo', '--json'])
    expect(result.code).toBe(0)
    const parsed = JSON.parse(result.stdout)
    expect(parsed.trace).toMatchObject({ format: 'alibaba-gpu-2023', jobs: 50, limit: 50 })
    expect(parsed.cluster).toMatchObject({ nodes: 4, gpusPerNode: 8 })
    expect(parsed.policies.map((p: { policy: string }) => p.policy)).toEqual(['fifo'])
    expect(parsed.policies[0].completed).toBe(50)
    expect(Object.keys(parsed.policies[0].gpuHoursByProject).sort()).toEqual(['BE', 'Burstable', 'LS'])
    // progress goes to stderr, never into the JSON
    expect(result.stderr).toContain('simulate: fifo: done')
  })

  it('a halved budget is a what-if: that project gets at most half its GPU-hours', async () => {
    const args = ['simulate', PHILLY, '--limit', '80', '--nodes', '8', '--json', '--no-progress']
    const full = JSON.parse((await runCli(cwd, [...args, '--policy', 'rpo'])).stdout)
    const halved = JSON.parse(
      (await runCli(cwd, [...args, '--policy', 'rpo', '--budget-scale', 'VggnetModel256=0.5'])).stdout,
    )
    const asked = halved.demandGpuHours.VggnetModel256
    expect(halved.budgets.VggnetModel256).toBeCloseTo(asked / 2, 6)
    expect(full.policies[0].gpuHoursByProject.VggnetModel256).toBeCloseTo(asked, 6)
    expect(halved.policies[0].gpuHoursByProject.VggnetModel256).toBeLessThanOrEqual(asked / 2 + 1e-6)
    expect(halved.policies[0].neverStarted).toBeGreaterThan(0)
  })

  it('bad arguments and bad files get a clear message and exit code 2', async () => {
    const policy = await runCli(cwd, ['simulate', PHILLY, '--policy', 'sjf'])
    expect(policy.code).toBe(2)
    expect(policy.stderr).toContain("argument 'sjf' is invalid. Allowed choices are rpo, fifo, backfill, all")
    const budget = await runCli(cwd, ['simulate', PHILLY, '--budget', 'vision'])
    expect(budget.code).toBe(2)
    expect(budget.stderr).toContain('expected PROJECT=NUMBER, got "vision"')
    const window = await runCli(cwd, ['simulate', PHILLY, '--window', '20d:10d'])
    expect(window.code).toBe(2)
    expect(window.stderr).toContain('expected FROM:TO in trace time')
    const scale = await runCli(cwd, [
      'simulate',
      PHILLY,
      '--limit',
      '5',
      '--budget-scale',
      'nobody=0.5',
      '--no-progress',
    ])
    expect(scale.code).toBe(2)
    expect(scale.stderr).toContain('--budget-scale nobody: no replayed job is of project nobody')
    const missing = await runCli(cwd, ['simulate', '/nonexistent/trace.csv'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('trace file not found: /nonexistent/trace.csv')
    const dir = mkdtempSync(path.join(tmpdir(), 'rpo-sim-cli-'))
    const bad = path.join(dir, 'pods.csv')
    writeFileSync(
      bad,
      'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\nopenb-pod-0,1000,1024,one,1000,,LS,Running,0,10,0\n',
    )
    const row = await runCli(cwd, ['simulate', bad, '--no-progress'])
    expect(row.code).toBe(2)
    expect(row.stderr).toContain(`${bad}:2 (column num_gpu): expected a whole number, got "one"`)
    expect(row.stderr).not.toMatch(/\n\s+at /)
  })
})
