// Checkpoint-resume end to end on the local executor with real PyTorch: the launcher warns the
// task before its time limit (like Slurm's --signal), the job saves and exits 85, rpo resumes it
// from the checkpoint until it finishes — with the same final weights as an uninterrupted run.
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeWorkDir, runCli, writePipeline } from '../support/cli-harness.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const TRAIN = path.join(ROOT, 'templates/checkpoint/examples/train_torch.py')
const PYTHON = process.env.RPO_TEST_PYTHON ?? '/usr/bin/python3'
const STEPS = 160
const EVERY = 20

const CONFIG = `
defaultCluster: box
clusters:
  box: { kind: local, cpus: 2, memory: 4G, killGrace: 2s, pollInterval: 100ms }
`

describe('checkpoint resume on the local executor', () => {
  it('resumes a PyTorch job told to stop before its time limit, ending with the uninterrupted weights', async () => {
    const reference = spawnSync(
      PYTHON,
      [TRAIN, '--steps', String(STEPS), '--every', String(EVERY), '--dir', path.join(makeWorkDir(), 'ref')],
      { encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } },
    )
    expect(reference.status, reference.stderr).toBe(0)
    const uninterrupted = JSON.parse(reference.stdout.trim().split('\n').at(-1) as string)

    const dir = makeWorkDir()
    writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: ckpt
tasks:
  train:
    # ~80 steps fit between the start and the warning, so the job needs two or three starts; on a
    # loaded machine importing torch alone can outlast the 5 s before the warning, and each attempt
    # the warning kills that early is one more resume: the default bound (20) leaves room for them
    command: exec ${PYTHON} ${TRAIN} --steps ${STEPS} --every ${EVERY} --step-delay 0.03 --progress-every 0
    resources: { time: 10s }
    checkpoint: { leadTime: 5s, maxResumes: 20 }
  report:
    after: [train]
    command: echo done
`,
    )
    process.env.PYTHONDONTWRITEBYTECODE = '1'
    const result = await runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
    expect(result.code, result.stderr + result.stdout).toBe(0)
    const progress = JSON.parse(result.stdout)
    const train = progress.tasks.find((t: { id: string }) => t.id === 'train')
    expect(train.state).toBe('succeeded')
    expect(train.attempt).toBeGreaterThanOrEqual(2)

    const checkpointDir = path.join(dir, '.rpo/runs', progress.runId, 'train/checkpoints')
    const events = readFileSync(path.join(checkpointDir, 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string; attempt: number; code?: number })
    // an attempt still importing torch when warned dies of the signal (no handler yet) and is resumed
    // like a time-limit ending; every other attempt before the last saved on the warning and exited 85
    const endings = Array.from({ length: train.attempt - 1 }, (_, i) => jobStatus(dir, progress.runId, 'train', i + 1))
    const warnedEarly = endings.filter((s) => s.state === 'timeout' && s.signal === 'SIGUSR2').length
    expect(endings.every((s) => s.exitCode === 85 || (s.state === 'timeout' && s.signal === 'SIGUSR2'))).toBe(true)
    const exits = events.filter((e) => e.event === 'checkpoint:exit')
    expect(exits.length).toBeGreaterThanOrEqual(1)
    expect(exits.length).toBe(train.attempt - 1 - warnedEarly)
    expect(exits.every((e) => e.code === 85)).toBe(true)
    // each attempt that got to train after one had saved on the warning loaded that checkpoint
    expect(events.filter((e) => e.event === 'checkpoint:loaded').length).toBe(exits.length)
    // rpo read them back when each attempt ended
    const explained = JSON.parse((await runCli(dir, ['explain', 'train', '--run', progress.runId, '--json'])).stdout)
    expect(explained.checkpoints).toContainEqual(expect.stringMatching(/^attempt \d+ resumed from step \d+ \(ckpt-/))

    const outputs = JSON.parse(
      readFileSync(path.join(dir, '.rpo/jobs', `rpo.${progress.runId}.train.${train.attempt}`, 'outputs.json'), 'utf8'),
    )
    expect(outputs.weights_sha256).toBe(uninterrupted.weights_sha256)
    expect(outputs.loss).toBe(uninterrupted.loss)
    // a stop on the signal saves where it is, so nothing is redone; at most one interval if it was not
    expect(outputs.executed_total).toBeGreaterThanOrEqual(STEPS)
    expect(outputs.executed_total).toBeLessThanOrEqual(STEPS + EVERY)
  }, 240_000)

  it('resumes a task its warning killed before it handled the signal (still starting), as at its time limit', async () => {
    const dir = makeWorkDir()
    writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
    // attempt 1 sleeps through its warning before it would trap it, like a job still importing torch;
    // `self` kills itself with the same signal, unwarned: that is its own failure, not resumed
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: early-warning
tasks:
  job:
    command: echo "attempt=$RPO_ATTEMPT resume=$RPO_RESUME" >> starts.log; [ "$RPO_RESUME" = 1 ] && exit 0; sleep 60; trap 'exit 85' USR2; sleep 60
    resources: { time: 3s }
    checkpoint: { maxResumes: 3, leadTime: 2s }
  self:
    after: [job]
    command: kill -USR2 $$
    checkpoint: { maxResumes: 3, leadTime: 2s }
`,
    )
    const result = await runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
    const progress = JSON.parse(result.stdout)
    const job = progress.tasks.find((t: { id: string }) => t.id === 'job')
    expect(job, result.stderr).toMatchObject({ state: 'succeeded', attempt: 2, resumes: 1 })
    expect(readFileSync(path.join(dir, 'starts.log'), 'utf8')).toBe('attempt=1 resume=0\nattempt=2 resume=1\n')
    expect(jobStatus(dir, progress.runId, 'job', 1)).toMatchObject({
      state: 'timeout',
      signal: 'SIGUSR2',
      reason: expect.stringMatching(/checkpoint warning 2s before its time limit of 3s, before it handled/),
    })
    const self = progress.tasks.find((t: { id: string }) => t.id === 'self')
    expect(self).toMatchObject({ state: 'failed', attempt: 1, resumes: 0 })
    expect(jobStatus(dir, progress.runId, 'self', 1)).toMatchObject({
      state: 'failed',
      reason: expect.stringMatching(/^killed by SIGUSR2/),
    })
  })

  it('tells the resumed attempt that it resumes, in the tick that saw the exit 85', async () => {
    const dir = makeWorkDir()
    writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: resume-env
tasks:
  job:
    command: echo "attempt=$RPO_ATTEMPT resume=$RPO_RESUME" >> starts.log; [ "$RPO_RESUME" = 1 ] || exit 85
    checkpoint: { maxResumes: 3, leadTime: 1s }
`,
    )
    const result = await runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
    expect(result.code, result.stderr + result.stdout).toBe(0)
    const job = JSON.parse(result.stdout).tasks[0]
    expect(job).toMatchObject({ state: 'succeeded', attempt: 2, resumes: 1 })
    expect(readFileSync(path.join(dir, 'starts.log'), 'utf8')).toBe('attempt=1 resume=0\nattempt=2 resume=1\n')
  })
})

/** What the local launcher recorded for one attempt of a task. */
function jobStatus(
  dir: string,
  runId: string,
  task: string,
  attempt: number,
): { state: string; exitCode: number | null; signal?: string | null; reason?: string | null } {
  return JSON.parse(readFileSync(path.join(dir, '.rpo/jobs', `rpo.${runId}.${task}.${attempt}`, 'status.json'), 'utf8'))
}
