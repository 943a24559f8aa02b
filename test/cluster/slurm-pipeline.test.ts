// A pipeline file runs on the real Slurm testbed over SSH: native dependencies, GPUs as GRES,
// sweeps, failure isolation. Checked in Slurm's own accounting, not in rpo's store.
import { afterAll, describe, expect, it } from 'vitest'
import { SlurmAdapter } from '../../adapters/slurm/slurm-adapter.js'
import { asSubmissionKey } from '../../src/scheduler/scheduler-adapter.js'
import { runCli, writePipeline } from '../support/cli-harness.js'
import { sacctSettled, testbedSsh, testbedWorkspace } from './testbed.js'

const ssh = testbedSsh()
afterAll(() => ssh.close())

describe('rpo run on Slurm over SSH', () => {
  it('runs prep → GPU sweep → report with native dependencies and the requested GRES', async () => {
    const { dir } = testbedWorkspace()
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: stages
tasks:
  prep:
    command: sleep 1; echo prepared > "$RPO_OUTPUT_DIR/data.txt"
    resources: { partition: cpu, time: 2m, memory: 200M }
  train:
    after: [prep]
    matrix: { lr: [0.1, 0.01], depth: [2, 4] }
    command: cat "$RPO_RUN_DIR/prep/data.txt"; echo "gpus=$CUDA_VISIBLE_DEVICES"; sleep 1
    resources: { partition: gpu, gpus: { count: 2, type: a100 }, time: 2m, memory: 500M }
  small:
    after: [prep]
    command: sleep 1
    resources: { partition: gpu, gpus: { count: 1, type: v100 }, time: 2m, memory: 200M }
  report:
    after: [train, small]
    command: echo done
    resources: { partition: cpu, time: 1m, memory: 100M }
`,
    )
    const result = await runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
    expect(result.code, result.stderr + result.stdout).toBe(0)
    const progress = JSON.parse(result.stdout)
    expect(progress.tasks.map((t: { state: string }) => t.state)).toEqual(Array(7).fill('succeeded'))

    const rows = await sacctSettled(
      ssh,
      progress.tasks.map((t: { jobId: string }) => t.jobId),
    )
    // by job id: the sweep went out as one array job, whose instances share its name
    const taskOfJob = new Map(progress.tasks.map((t: { id: string; jobId: string }) => [t.jobId, t.id]))
    const byTask = new Map(rows.map((r) => [taskOfJob.get(r.jobId) as string, r]))
    expect([...byTask.keys()].sort()).toEqual(['prep', 'report', 'small', 'train.0', 'train.1', 'train.2', 'train.3'])
    for (const row of rows) expect(row.state).toBe('COMPLETED')
    const prep = byTask.get('prep')!
    for (const id of ['train.0', 'train.1', 'train.2', 'train.3']) {
      const train = byTask.get(id)!
      expect(train.start).toBeGreaterThanOrEqual(prep.end)
      expect(train.allocTres).toContain('gres/gpu:a100=2')
      expect(train.nodes).toMatch(/^gpu[12]$/)
      expect(byTask.get('report')!.start).toBeGreaterThanOrEqual(train.end)
    }
    expect(byTask.get('small')!.allocTres).toContain('gres/gpu:v100=1')
    expect(byTask.get('small')!.nodes).toBe('gpu3')
    // one round of submissions: the whole DAG went to Slurm before prep finished
    expect(byTask.get('report')!.start).toBeGreaterThan(0)
  }, 120_000)

  it('a failing stage leaves its dependents upstream_failed and cancelled on the cluster; an independent branch succeeds', async () => {
    const { dir } = testbedWorkspace()
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: isolation
defaults:
  resources: { partition: cpu, time: 1m, memory: 100M }
tasks:
  broken: { command: "sleep 1; echo boom >&2; exit 3" }
  after-broken: { command: "echo never", after: [broken] }
  then-more: { command: "echo never", after: [after-broken] }
  independent: { command: "sleep 2; echo fine" }
`,
    )
    const result = await runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
    expect(result.code).toBe(1)
    const tasks = Object.fromEntries(JSON.parse(result.stdout).tasks.map((t: { id: string }) => [t.id, t]))
    expect(tasks.broken).toMatchObject({ state: 'failed' })
    expect(tasks.broken.reason).toMatch(/exit|code 3|FAILED/i)
    expect(tasks['after-broken'].state).toBe('upstream_failed')
    expect(tasks['then-more'].state).toBe('upstream_failed')
    expect(tasks.independent.state).toBe('succeeded')
    const { runId, tasks: list } = JSON.parse(result.stdout)
    const rows = await sacctSettled(
      ssh,
      list.map((t: { jobId: string }) => t.jobId),
    )
    // by job id: right after the jobs end, slurmdbd may still list their name as "allocation"
    const jobOf = new Map(list.map((t: { id: string; jobId: string }) => [t.id, t.jobId]))
    const state = (task: string) => rows.find((r) => r.jobId === jobOf.get(task))?.state
    void runId
    expect(state('broken')).toBe('FAILED')
    expect(state('independent')).toBe('COMPLETED')
    // submitted with native dependencies, then cancelled when their upstream failed
    expect(state('after-broken')).toMatch(/^CANCELLED/)
    expect(state('then-more')).toMatch(/^CANCELLED/)
  }, 120_000)
})

describe('rpo compile and rpo status against Slurm', () => {
  it('prints the batch scripts without submitting, and status reports the scheduler commands of the last tick', async () => {
    const { dir } = testbedWorkspace()
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: dry
tasks:
  prep: { command: "echo prep", resources: { partition: cpu, time: 1m, memory: 100M } }
  train:
    after: [prep]
    command: "python train.py --lr {{params.lr}}"
    matrix: { lr: ["1e-3", "3e-4"] }
    resources: { partition: gpu, gpus: { count: 2, type: a100 }, time: 10m, memory: 1G }
`,
    )
    const compiled = await runCli(dir, ['compile', 'pipeline.yaml'])
    expect(compiled.code, compiled.stderr).toBe(0)
    expect(compiled.stdout).toContain(
      '# ── train.0 … train.1 (2 tasks as one job array) (after prep; wired as scheduler dependencies at submission)',
    )
    expect(compiled.stdout).toContain('#SBATCH --array=0,1')
    expect(compiled.stdout).toContain('#SBATCH --gres=gpu:a100:2')
    expect(compiled.stdout).toContain("  exec /bin/bash -c 'python train.py --lr 3e-4'")
    const none = await runCli(dir, ['status', '--json'])
    expect(JSON.parse(none.stdout)).toEqual([])

    const bad = await runCli(dir, ['validate', 'pipeline.yaml'])
    expect(bad.code).toBe(0)
    writePipeline(
      dir,
      'huge.yaml',
      'name: huge\ntasks:\n  t: { command: "true", resources: { gpus: { count: 8, type: a100 } } }\n',
    )
    const huge = await runCli(dir, ['validate', 'huge.yaml'])
    expect(huge.code).toBe(2)
    expect(huge.stderr).toContain(
      'asks for 8 GPU(s) of type a100 per node, but the target offers 4×a100, 4×a100, 2×v100',
    )

    writePipeline(
      dir,
      'one.yaml',
      'name: one\ntasks:\n  a: { command: "true", resources: { partition: cpu, time: 1m, memory: 100M } }\n',
    )
    const run = await runCli(dir, ['run', 'one.yaml', '--quiet'])
    expect(run.code, run.stderr).toBe(0)
    // squeue + sacct, and `date +%z` the first time the cluster's jobs are read (once per connection)
    expect(run.stdout).toMatch(/last tick .*: [123] scheduler command\(s\)/)
  }, 120_000)
})

describe('sweeps as job arrays', () => {
  it('submits a sweep as one throttled array job, each instance with its own id, and the report after all of them', async () => {
    const { dir } = testbedWorkspace()
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: arrays
tasks:
  train:
    matrix: { lr: [0.1, 0.2, 0.3, 0.4, 0.5] }
    maxParallel: 2
    command: echo "lr={{params.lr}} task=$SLURM_ARRAY_TASK_ID" > "$RPO_OUTPUT_DIR/log"; sleep 2
    resources: { partition: gpu, gpus: { count: 1, type: a100 }, time: 1m, memory: 100M }
  report:
    after: [train]
    command: cat "$RPO_RUN_DIR"/train.*/log
    resources: { partition: cpu, time: 1m, memory: 100M }
`,
    )
    const result = await runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
    expect(result.code, result.stderr).toBe(0)
    const { tasks } = JSON.parse(result.stdout)
    const trainIds: string[] = tasks
      .filter((t: { id: string }) => t.id.startsWith('train.'))
      .map((t: { jobId: string }) => t.jobId)
    const arrayId = trainIds[0]?.split('_')[0]
    expect(trainIds).toEqual([0, 1, 2, 3, 4].map((i) => `${arrayId}_${i}`))
    const rows = await sacctSettled(ssh, [...trainIds, tasks.at(-1).jobId])
    const train = rows.filter((r) => r.jobId.includes('_'))
    expect(train).toHaveLength(5)
    // the throttle: never more than 2 instances running at the same second
    const busiest = Math.max(...train.map((r) => train.filter((o) => o.start <= r.start && r.start < o.end).length))
    expect(busiest).toBeLessThanOrEqual(2)
    const report = rows.find((r) => !r.jobId.includes('_'))!
    for (const r of train) expect(report.start).toBeGreaterThanOrEqual(r.end)

    // after a crash, each instance is found by its own submission key
    const adapter = new SlurmAdapter({ transport: testbedSsh() })
    const runId = JSON.parse(result.stdout).runId
    const found = await adapter.findBySubmissionKey([0, 4].map((i) => asSubmissionKey(`rpo.${runId}.train.${i}.1`)))
    await adapter.close()
    expect([...found.values()].sort()).toEqual([`${arrayId}_0`, `${arrayId}_4`])
  }, 120_000)
})
