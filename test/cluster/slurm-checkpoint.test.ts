// Checkpoint-resume on the live Slurm testbed with real PyTorch (Debian's python3-torch): a
// deterministic training job is interrupted by its time limit (Slurm's --signal), by a node failure
// (scontrol … state=down while it runs) and by `rpo checkpoint`; each time it resumes from its
// checkpoint and ends with the weights of an uninterrupted run, redoing at most one interval.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, spawnCli, writePipeline } from '../support/cli-harness.js'
import { testbedSsh, testbedWorkspace } from './testbed.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const EXAMPLES = path.join(ROOT, 'templates/checkpoint/examples')
const TRAINERS = ['train_torch.py', 'train_sklearn.py'] as const
const HELPER = readFileSync(path.join(ROOT, 'templates/checkpoint/rpo_checkpoint.py'), 'utf8')
const PYTHON = '/usr/bin/python3'
const ssh = testbedSsh()
afterAll(() => ssh.close())

interface TrainResult {
  readonly weights_sha256: string
  readonly loss: number
  readonly executed_total: number
}

/** The same job run straight through on the cluster, as the reference. */
async function uninterrupted(remoteDir: string, args: string, trainer = 'train_torch.py'): Promise<TrainResult> {
  const result = await ssh.execScript(
    `mkdir -p ${remoteDir}/ref && cd ${remoteDir} && PYTHONPATH=${remoteDir}/reflib PYTHONDONTWRITEBYTECODE=1 ${PYTHON} ${trainer} ${args} --dir ${remoteDir}/ref --step-delay 0 --progress-every 0`,
    { timeoutMs: 120_000 },
  )
  expect(result.exitCode, result.stderr).toBe(0)
  return JSON.parse(result.stdout.trim().split('\n').at(-1) as string) as TrainResult
}

async function workspaceWithTrainer(): Promise<{ dir: string; remoteDir: string }> {
  const workspace = testbedWorkspace({ pollInterval: '500ms' })
  // the job imports rpo_checkpoint from the copy rpo stages on PYTHONPATH, not from beside the script
  await ssh.execScript(`mkdir -p ${workspace.remoteDir}/reflib`, { timeoutMs: 10_000 })
  for (const trainer of TRAINERS) {
    await ssh.writeFile(`${workspace.remoteDir}/${trainer}`, readFileSync(path.join(EXAMPLES, trainer), 'utf8'))
  }
  // only the reference run, outside rpo, gets the helper from here
  await ssh.writeFile(`${workspace.remoteDir}/reflib/rpo_checkpoint.py`, HELPER)
  return workspace
}

function pipeline(args: string, resources: string, checkpoint: string, trainer = 'train_torch.py'): string {
  return `
name: ckpt
tasks:
  train:
    command: exec ${PYTHON} ${trainer} ${args} --progress-every 0
    resources: ${resources}
    checkpoint: ${checkpoint}
`
}

/** Wait until the task's checkpoint folder holds a checkpoint at or after `step`. */
async function waitForCheckpoint(remoteDir: string, step: number, timeoutMs = 90_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = await ssh.execScript(`cat ${remoteDir}/runs/*/train/checkpoints/manifest.json 2>/dev/null || true`, {
      timeoutMs: 10_000,
    })
    if (found.stdout.trim()) {
      const manifest = JSON.parse(found.stdout) as { checkpoints: { step: number }[] }
      if (manifest.checkpoints.some((c) => c.step >= step)) return found.stdout
    }
    if (Date.now() > deadline) throw new Error(`no checkpoint at step ≥ ${step} in ${remoteDir}`)
    await new Promise((r) => setTimeout(r, 500))
  }
}

async function checkpointEvents(remoteDir: string): Promise<{ event: string; code?: number; restart?: number }[]> {
  const read = await ssh.execScript(`cat ${remoteDir}/runs/*/train/checkpoints/events.jsonl`, { timeoutMs: 10_000 })
  return read.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
}

interface TaskProgress {
  readonly id: string
  readonly state: string
  readonly attempt: number
  readonly jobId: string
  readonly outputs: TrainResult | null
}

function trainOf(stdout: string): TaskProgress {
  const progress = JSON.parse(stdout) as { tasks: TaskProgress[] }
  return progress.tasks.find((t) => t.id === 'train') as TaskProgress
}

// The four cases share nothing but the cluster: they run side by side. The time-limit and
// `rpo checkpoint` cases run on the `cpu` partition (cpu1-2, 16 CPUs each); the node failure downs
// the node its job runs on, so its job runs on the `gpu` partition (gpu1-3), where nothing else of
// this file runs, and Slurm requeues it onto another node there.
describe.concurrent('checkpoint-resume on Slurm with PyTorch', () => {
  it('a job warned before its time limit checkpoints, exits 85 and is resumed to the uninterrupted weights', async () => {
    const { dir, remoteDir } = await workspaceWithTrainer()
    // ~100 s of steps against a 2-minute limit: Slurm's warning (60 s before, checked every ~30 s) stops it
    const args = '--steps 400 --every 50'
    writePipeline(
      dir,
      'pipeline.yaml',
      pipeline(
        `${args} --step-delay 0.25`,
        '{ partition: cpu, time: 2m, memory: 1G }',
        '{ leadTime: 60s, maxResumes: 5 }',
      ),
    )
    // the reference runs outside rpo and Slurm, beside the job: it needs none of the job's files
    const [reference, result] = await Promise.all([
      uninterrupted(remoteDir, args),
      runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet']),
    ])
    expect(result.code, result.stderr + result.stdout).toBe(0)
    const train = trainOf(result.stdout)
    expect(train.state).toBe('succeeded')
    expect(train.attempt).toBeGreaterThanOrEqual(2)
    const events = await checkpointEvents(remoteDir)
    expect(events.filter((e) => e.event === 'checkpoint:signal').length).toBe(train.attempt - 1)
    expect(events.filter((e) => e.event === 'checkpoint:exit').every((e) => e.code === 85)).toBe(true)
    const outputs = train.outputs as TrainResult
    expect(outputs.weights_sha256).toBe(reference.weights_sha256)
    expect(outputs.loss).toBe(reference.loss)
    expect(outputs.executed_total).toBeLessThanOrEqual(400 + 50)
  }, 400_000)

  it.each([
    ['PyTorch', 'train_torch.py'],
    ['scikit-learn', 'train_sklearn.py'],
  ])(
    'rpo checkpoint asks a running %s job to save and stop; rpo resumes it to the uninterrupted weights',
    async (_, trainer) => {
      const { dir, remoteDir } = await workspaceWithTrainer()
      const args = '--steps 300 --every 0'
      writePipeline(
        dir,
        'pipeline.yaml',
        pipeline(
          `${args} --step-delay 0.1`,
          '{ partition: cpu, time: 10m, memory: 1G }',
          '{ every: never, leadTime: 60s }',
          trainer,
        ),
      )
      const reference = uninterrupted(remoteDir, args, trainer)
      reference.catch(() => {}) // awaited below; a failure there fails the test
      const run = spawnCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'], { PYTHONDONTWRITEBYTECODE: '1' })
      try {
        // wait until the job is well into training, then ask it to checkpoint
        for (let i = 0; ; i++) {
          const steps = await ssh.execScript(
            `wc -l < ${remoteDir}/runs/*/train/checkpoints/executed-steps.log 2>/dev/null || echo 0`,
            {
              timeoutMs: 10_000,
            },
          )
          if (Number(steps.stdout.trim()) >= 50) break
          if (i > 180) throw new Error('the training job never got going')
          await new Promise((r) => setTimeout(r, 500))
        }
        const asked = await runCli(dir, ['checkpoint', 'train', '--json'])
        expect(asked.code, asked.stderr).toBe(0)
        expect(JSON.parse(asked.stdout)).toMatchObject({ taskId: 'train', attempt: 1, signal: 'USR2' })
        const { code, stdout, stderr } = await run.closed()
        expect(code, stderr + stdout).toBe(0)
        const train = trainOf(stdout)
        expect(train).toMatchObject({ state: 'succeeded', attempt: 2 })
        const outputs = train.outputs as TrainResult
        expect(outputs.weights_sha256).toBe((await reference).weights_sha256)
        // saved on the signal where it stood: nothing was redone
        expect(outputs.executed_total).toBe(300)
      } finally {
        run.child.kill('SIGTERM')
      }
    },
    300_000,
  )

  it('a job whose node goes down is requeued by Slurm and resumes from its last periodic checkpoint', async () => {
    const { dir, remoteDir } = await workspaceWithTrainer()
    const args = '--steps 300 --every 25'
    writePipeline(
      dir,
      'pipeline.yaml',
      pipeline(
        `${args} --step-delay 0.1`,
        '{ partition: gpu, time: 5m, memory: 1G }',
        '{ leadTime: 60s, maxResumes: 5 }',
      ),
    )
    const reference = uninterrupted(remoteDir, args)
    reference.catch(() => {}) // awaited below; a failure there fails the test
    const run = spawnCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'], { PYTHONDONTWRITEBYTECODE: '1' })
    let downed: string | null = null
    try {
      await waitForCheckpoint(remoteDir, 75)
      const running = spawnSync(
        'squeue',
        ['--noheader', '--user=rpotest', '--partition=gpu', '--states=RUNNING', '--format=%j %N'],
        { encoding: 'utf8' },
      )
      const line = running.stdout.split('\n').find((l) => l.includes(`.train.`))
      downed = line?.split(' ')[1] ?? null
      expect(downed, 'the training job should be running on a node').toMatch(/^gpu[123]$/)
      const down = spawnSync('scontrol', ['update', `nodename=${downed}`, 'state=down', 'reason=rpo-checkpoint-test'], {
        encoding: 'utf8',
      })
      expect(down.status, down.stderr).toBe(0)
      const { code, stdout, stderr } = await run.closed()
      expect(code, stderr + stdout).toBe(0)
      const train = trainOf(stdout)
      expect(train.state).toBe('succeeded')
      const events = await checkpointEvents(remoteDir)
      const loaded = events.filter((e) => e.event === 'checkpoint:loaded')
      expect(loaded.length).toBeGreaterThanOrEqual(1)
      const outputs = train.outputs as TrainResult
      expect(outputs.weights_sha256).toBe((await reference).weights_sha256)
      expect(outputs.executed_total).toBeLessThanOrEqual(300 + 25)
      // Slurm requeued the job in place (--requeue): one attempt, one job id, two runs in accounting
      expect(train.attempt).toBe(1)
      expect(loaded.some((e) => (e.restart ?? 0) >= 1)).toBe(true)
      const runs = await ssh.exec(
        ['sacct', '-X', '--duplicates', '--noheader', '--parsable2', `--jobs=${train.jobId}`, '--format=State'],
        {
          idempotent: true,
        },
      )
      const states = runs.stdout.trim().split('\n')
      expect(states.at(-1)).toBe('COMPLETED')
      expect(
        states.slice(0, -1).some((s) => /NODE_FAIL|REQUEUED/.test(s)),
        runs.stdout,
      ).toBe(true)
    } finally {
      run.child.kill('SIGTERM')
      if (downed) spawnSync('scontrol', ['update', `nodename=${downed}`, 'state=resume'])
    }
  }, 400_000)
})
