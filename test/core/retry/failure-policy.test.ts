/**
 * The failure policy as the planner applies it: resume from a checkpoint after exit 85, a time
 * limit, a node failure or a preemption (bounded, not counted as failures), memory escalation after
 * out-of-memory up to a ceiling, and exclusion of a node that failed a job.
 */
import { describe, expect, it } from 'vitest'
import { PlanDriver, submissionOf, submittedIds } from '../../support/fixtures.js'

const TRAIN = (extra: string) => `
name: demo
tasks:
  train:
    command: python train.py
    resources: { memory: 4G, time: 1h }
${extra}
  eval: { command: e, after: [train] }
`
const CKPT = '    checkpoint: { every: 500steps, keep: 2, leadTime: 2m, maxResumes: 2 }\n'

describe('checkpoint resume', () => {
  it('resubmits at once after exit 85, not as a failure, with RPO_RESUME=1 and the same checkpoint folder', () => {
    const run = new PlanDriver(TRAIN(CKPT))
    run.tick()
    const first = submissionOf(run, 'train')
    expect(first.env).toMatchObject({
      RPO_CHECKPOINT_DIR: '/runs/run1/train/checkpoints',
      RPO_CHECKPOINT_EVERY: '500steps',
      RPO_CHECKPOINT_KEEP: '2',
      RPO_CHECKPOINT_SIGNAL: 'USR2',
      RPO_CHECKPOINT_LEAD_SECONDS: '120',
      RPO_CHECKPOINT_PROTOCOL: '1',
    })
    expect(first.checkpoint).toEqual({ signal: 'USR2', leadSeconds: 120, maxRestarts: 2 })
    // the resume goes out in the same tick that saw the exit
    const plan = run.tick([run.observe('train', 'failed', { exitCode: 85 })])
    expect(run.task('train')).toMatchObject({ state: 'active', attempts: 2, failures: 0, resumes: 1 })
    expect(plan.submissions).toMatchObject([{ taskId: 'train', attempt: 2 }])
    expect(plan.events).toContainEqual(
      expect.objectContaining({
        type: 'task:resuming',
        message: 'checkpointed and asked to be resumed (exit 85); resuming from its last checkpoint (resume 1/2)',
      }),
    )
    const second = submissionOf(run, 'train', 0)
    expect(second.env.RPO_RESUME).toBe('1')
    expect(second.env.RPO_CHECKPOINT_DIR).toBe(first.env.RPO_CHECKPOINT_DIR)
    // the in-place restart budget shrinks with every resume rpo already made
    expect(second.checkpoint?.maxRestarts).toBe(1)
  })

  it.each(['timeout', 'node_fail', 'preempted'] as const)('resumes after %s when the task checkpoints', (state) => {
    const run = new PlanDriver(TRAIN(CKPT))
    run.tick()
    expect(submittedIds(run.tick([run.observe('train', state)]))).toEqual(['train'])
    expect(run.task('train')).toMatchObject({ state: 'active', attempts: 2, failures: 0, resumes: 1 })
  })

  it('stops resuming after checkpoint.maxResumes and says why', () => {
    const run = new PlanDriver(TRAIN(CKPT))
    run.tick()
    for (let i = 0; i < 2; i++) run.tick([run.observe('train', 'failed', { exitCode: 85 })])
    run.tick([run.observe('train', 'failed', { exitCode: 85 })])
    expect(run.task('train')).toMatchObject({ state: 'failed', attempts: 3, resumes: 2 })
    expect(run.task('train').reason).toBe(
      'checkpointed and asked to be resumed (exit 85); not resumed: already resumed 2 times (checkpoint.maxResumes 2)',
    )
    expect(run.task('eval').state).toBe('upstream_failed')
  })

  it('treats exit 85 as an ordinary failure for a task without a checkpoint', () => {
    const run = new PlanDriver(TRAIN(''))
    run.tick()
    run.tick([run.observe('train', 'failed', { exitCode: 85 })])
    expect(run.task('train')).toMatchObject({ state: 'failed', resumes: 0, reason: 'exited with code 85' })
  })

  it('resumes a failed attempt only through the retry policy, counted as a failure', () => {
    const run = new PlanDriver(TRAIN(`${CKPT}    retries: 1\n`))
    run.tick()
    run.tick([run.observe('train', 'failed', { exitCode: 1 })])
    expect(run.task('train')).toMatchObject({ state: 'retry_wait', failures: 1, resumes: 0 })
  })
})

describe('out of memory', () => {
  const OOM = '    retries: { max: 3, backoff: 1s, oomMemoryFactor: 2, oomMaxMemory: 12G }\n'

  it('asks for more memory on each retry, up to the ceiling, then gives up naming it', () => {
    const run = new PlanDriver(TRAIN(OOM))
    run.tick()
    expect(submissionOf(run, 'train').resources.memoryMb).toBe(4096)
    run.tick([run.observe('train', 'out_of_memory')])
    expect(run.task('train').reason).toBe('ran out of memory with 4096 MB; the next attempt asks for 8192 MB')
    expect(submissionOf(run, 'train').resources.memoryMb).toBe(8192)
    run.advance(1)
    run.tick()
    run.tick([run.observe('train', 'out_of_memory')])
    expect(submissionOf(run, 'train').resources.memoryMb).toBe(12288)
    run.advance(2)
    run.tick()
    run.tick([run.observe('train', 'out_of_memory')])
    expect(run.task('train')).toMatchObject({
      state: 'failed',
      failures: 3,
      reason: 'ran out of memory with 12288 MB, the escalation ceiling (retries.oomMaxMemory)',
    })
  })

  it("names the executor's evidence beside the escalation", () => {
    const run = new PlanDriver(TRAIN(OOM))
    run.tick()
    run.tick([run.observe('train', 'out_of_memory', { reason: 'used 9000 MB, over its 4096 MB limit' })])
    expect(run.task('train').reason).toBe(
      'ran out of memory with 4096 MB (used 9000 MB, over its 4096 MB limit); the next attempt asks for 8192 MB',
    )
  })

  it('escalates by 1.5× by default and is bounded by the retry count', () => {
    const run = new PlanDriver(TRAIN('    retries: 1\n'))
    run.tick()
    run.tick([run.observe('train', 'out_of_memory')])
    expect(submissionOf(run, 'train').resources.memoryMb).toBe(6144)
    run.advance(10)
    run.tick()
    run.tick([run.observe('train', 'out_of_memory')])
    expect(run.task('train')).toMatchObject({ state: 'failed', reason: 'ran out of memory (after 2 attempts)' })
  })
})

describe('node exclusion', () => {
  it('keeps the nodes that failed a job off the next attempts', () => {
    const run = new PlanDriver(TRAIN(CKPT))
    run.tick()
    run.tick([run.observe('train', 'running', { nodes: ['gpu1'] })])
    run.tick([run.observe('train', 'node_fail', { nodes: ['gpu1'] })])
    expect(submissionOf(run, 'train', 0).excludeNodes).toEqual(['gpu1'])
    run.tick([run.observe('train', 'node_fail', { nodes: ['gpu2'] })])
    expect(submissionOf(run, 'train', 0).excludeNodes).toEqual(['gpu1', 'gpu2'])
  })

  it('excludes the node on a retry too, for a task without a checkpoint', () => {
    const run = new PlanDriver(TRAIN('    retries: 1\n'))
    run.tick()
    run.tick([run.observe('train', 'node_fail', { nodes: ['cpu1'] })])
    expect(run.task('train')).toMatchObject({ state: 'retry_wait', failures: 1 })
    expect(submissionOf(run, 'train').excludeNodes).toEqual(['cpu1'])
  })
})

describe('checkpoint settings', () => {
  it('refuses a lead time that is not shorter than the time limit', async () => {
    const { pipelineOf } = await import('../../support/fixtures.js')
    expect(() =>
      pipelineOf('name: d\ntasks:\n  t: { command: x, resources: { time: 2m }, checkpoint: { leadTime: 5m } }\n'),
    ).toThrow(/tasks\.t\.checkpoint\.leadTime: 300s is not shorter than the time limit \(120s\)/)
  })

  it('rejects an unreadable interval with the path of the bad value', async () => {
    const { pipelineOf } = await import('../../support/fixtures.js')
    expect(() => pipelineOf('name: d\ntasks:\n  t: { command: x, checkpoint: { every: often } }\n')).toThrow(
      /tasks\.t\.checkpoint\.every/,
    )
  })
})
