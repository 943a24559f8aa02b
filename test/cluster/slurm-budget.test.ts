// Budgets enforced on the live Slurm testbed: a job whose worst case would cross its project's hard
// cap waits held on the cluster (squeue says so) and is released when another project lends budget;
// a running job of a project whose budget is cut is checkpointed and its task goes back held; what
// rpo charged for a job matches what Slurm's accounting says it used.
import { appendFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, spawnCli, writePipeline } from '../support/cli-harness.js'
import { testbedSsh, testbedWorkspace } from './testbed.js'

const ssh = testbedSsh()
afterAll(() => ssh.close())

const BUDGETS = (visionGpuHours: number) => `
projects:
  vision:
    importance: 2
    budgets:
      - { resource: gpu-hours, amount: ${visionGpuHours}, cap: hard }
  nlp:
    budgets:
      - { resource: gpu-hours, amount: 100, cap: hard }
`

/** The testbed's view of the jobs named like this run's task: `<id> <state> <reason>`. */
async function squeueFor(task: string): Promise<{ id: string; state: string; reason: string }[]> {
  const result = await ssh.exec(['squeue', '--noheader', '--user=rpotest', '--format=%i|%j|%T|%r'], {
    idempotent: true,
  })
  return result.stdout
    .trim()
    .split('\n')
    .filter((l) => l.includes(`.${task}.`))
    .map((l) => l.split('|'))
    .map(([id, , state, reason]) => ({ id: id as string, state: state as string, reason: reason as string }))
}

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== null) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 500))
  }
}

describe('budgets on Slurm', () => {
  it('holds a job that would cross the hard cap, releases it on a grant, and charges what sacct reports', async () => {
    const { dir } = testbedWorkspace()
    appendFileSync(path.join(dir, 'rpo.config.yaml'), BUDGETS(0.1))
    // worst case: 1 GPU × 10 min = 0.167 GPU-hours > 0.1
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: capped
project: vision
tasks:
  train:
    command: sleep 4
    resources: { partition: gpu, gpus: { count: 1, type: a100 }, time: 10m, memory: 100M }
`,
    )
    const run = spawnCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
    try {
      const held = await until('the job held on the cluster', async () => {
        const jobs = await squeueFor('train')
        return jobs.find((j) => j.state === 'PENDING' && /Held/i.test(j.reason)) ?? null
      })
      expect(held.reason).toMatch(/JobHeldUser|JobHeldAdmin/)
      const explained = await runCli(dir, ['explain', 'train', '--json'])
      expect(explained.code, explained.stderr).toBe(0)
      const explanation = JSON.parse(explained.stdout)
      expect(explanation.attempt.heldByRpo).toMatch(/would exceed its hard gpu-hours cap/)

      const grant = await runCli(dir, [
        'budget',
        'grant',
        '--from',
        'nlp',
        '--to',
        'vision',
        '--resource',
        'gpu-hours',
        '--amount',
        '0.2',
        '--expires',
        '1d',
        '--json',
      ])
      expect(grant.code, grant.stderr).toBe(0)
      const { code, stdout, stderr } = await run.closed()
      expect(code, stderr + stdout).toBe(0)
      const train = JSON.parse(stdout).tasks[0]
      expect(train).toMatchObject({ state: 'succeeded', attempt: 1, jobId: held.id })

      // what rpo charged is what Slurm's accounting says the job used
      const sacct = await ssh.exec(
        ['sacct', '-X', '--noheader', '--parsable2', `--jobs=${held.id}`, '--format=ElapsedRaw,AllocTRES'],
        { idempotent: true },
      )
      const [elapsed, tres] = sacct.stdout.trim().split('|')
      expect(tres).toContain('gres/gpu:a100=1')
      const sacctGpuHours = Number(elapsed) / 3600
      const report = await runCli(dir, ['budget', 'report', '--project', 'vision', '--by', 'gpu-type', '--json'])
      const parsed = JSON.parse(report.stdout)
      const a100 = parsed.breakdown.find((b: { key: string }) => b.key === 'a100')
      expect(a100.gpuHours).toBeCloseTo(sacctGpuHours, 6)
      const vision = parsed.budgets.find((b: { resource: string }) => b.resource === 'gpu-hours')
      expect(vision).toMatchObject({ amount: 0.1, borrowed: 0.2, budget: expect.closeTo(0.3, 9) })
      expect(vision.used).toBeCloseTo(sacctGpuHours, 6)
    } finally {
      run.child.kill('SIGTERM')
    }
  }, 180_000)

  it('checkpoints a running job when its budget is cut, and its task goes back held on the cluster', async () => {
    const { dir } = testbedWorkspace()
    appendFileSync(path.join(dir, 'rpo.config.yaml'), BUDGETS(10))
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: cut
project: vision
tasks:
  train:
    # saves on the signal and asks to be resumed (exit 85); resumed, it finishes at once
    command: |
      if [ -e "$RPO_CHECKPOINT_DIR/state" ]; then echo resumed; exit 0; fi
      mkdir -p "$RPO_CHECKPOINT_DIR"; trap 'echo saved > "$RPO_CHECKPOINT_DIR/state"; exit 85' USR2
      for i in $(seq 600); do sleep 1; done
    resources: { partition: gpu, gpus: { count: 1, type: a100 }, time: 15m, memory: 100M }
    checkpoint: { leadTime: 60s }
`,
    )
    const run = spawnCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
    try {
      const running = await until('the job running', async () => {
        const jobs = await squeueFor('train')
        return jobs.find((j) => j.state === 'RUNNING') ?? null
      })
      // let it accrue some usage, then cut the budget below what it used
      await new Promise((r) => setTimeout(r, 5000))
      const cut = await runCli(dir, [
        'budget',
        'set',
        '--project',
        'vision',
        '--resource',
        'gpu-hours',
        '--amount',
        '0.0001',
        '--note',
        'test: cut',
      ])
      expect(cut.code, cut.stderr).toBe(0)
      const resubmitted = await until(
        'the task back on the cluster, held',
        async () => {
          const jobs = await squeueFor('train')
          return jobs.find((j) => j.id !== running.id && j.state === 'PENDING' && /Held/i.test(j.reason)) ?? null
        },
        90_000,
      )
      expect(resubmitted.id).not.toBe(running.id)
      const sacct = await ssh.exec(
        ['sacct', '-X', '--noheader', '--parsable2', `--jobs=${running.id}`, '--format=State,ExitCode'],
        {
          idempotent: true,
        },
      )
      expect(sacct.stdout.trim()).toMatch(/^FAILED\|85:0/)
      const status = await runCli(dir, ['status', '--json'])
      const runId = JSON.parse(status.stdout)[0].runId
      const explained = await runCli(dir, ['explain', 'train', '--run', runId, '--json'])
      const explanation = JSON.parse(explained.stdout)
      expect(explanation.state).toBe('active')
      expect(explanation.attempt).toMatchObject({ number: 2, jobId: resubmitted.id })
      expect(explanation.attempt.heldByRpo).toMatch(/would exceed its hard gpu-hours cap/)
      await runCli(dir, ['cancel', runId])
    } finally {
      run.child.kill('SIGTERM')
    }
  }, 240_000)
})
