// Checkpoint-resume in the simulator: work is conserved across signals, requeues and new attempts.
import { describe, expect, it } from 'vitest'
import { SimCluster } from '../../../adapters/sim/sim-cluster.js'
import { jobIdOf, seconds, submission, work } from './sim-submissions.js'

const NODES = [{ name: 'n1', cpus: 4, memoryMb: 16_000 }]
/** 100 s of work, a checkpoint every 10 s of progress. */
const CHECKPOINTING = { ...work(100), RPO_SIM_CHECKPOINT_EVERY: '10' }

describe('checkpoint and resume', () => {
  it('a 100 s job asked to checkpoint at 40 s exits 85, and requeued finishes after exactly 100 s of work', () => {
    const cluster = new SimCluster({ nodes: NODES })
    const id = jobIdOf(cluster.submit([submission('train', { env: CHECKPOINTING })])[0])
    cluster.advanceTo(seconds(40))
    expect(cluster.job(id)).toMatchObject({ state: 'running', progressSeconds: 40, checkpointedSeconds: 40 })
    cluster.signal([id], 'SIGUSR2')
    expect(cluster.job(id)).toMatchObject({
      state: 'failed',
      nativeState: 'FAILED',
      exitCode: 85,
      endedAtMs: seconds(40),
      checkpointedSeconds: 40,
    })
    cluster.advanceTo(seconds(50))
    cluster.requeue([id])
    expect(cluster.job(id)).toMatchObject({ state: 'running', startedAtMs: seconds(50), endedAtMs: null, restarts: 1 })
    cluster.runUntilIdle()
    expect(cluster.job(id)).toMatchObject({
      state: 'succeeded',
      exitCode: 0,
      endedAtMs: seconds(110),
      workDoneSeconds: 100,
      progressSeconds: 100,
      restarts: 1,
    })
    expect(cluster.job(id)?.runs.map((r) => [r.startedAtMs, r.endedAtMs, r.endState, r.exitCode])).toEqual([
      [0, seconds(40), 'failed', 85],
      [seconds(50), seconds(110), 'succeeded', 0],
    ])
    expect(cluster.events().map((e) => e.kind)).toEqual([
      'submit',
      'start',
      'signal',
      'checkpoint',
      'end',
      'requeue',
      'start',
      'end',
    ])
  })

  it('a stop between checkpoints loses at most one interval: requeued at 45 s, it redoes 40–45 s', () => {
    const cluster = new SimCluster({ nodes: NODES })
    const id = jobIdOf(cluster.submit([submission('train', { env: CHECKPOINTING })])[0])
    cluster.advanceTo(seconds(45))
    cluster.requeue([id])
    expect(cluster.job(id)).toMatchObject({ state: 'running', restarts: 1, progressSeconds: 40 })
    cluster.runUntilIdle()
    const job = cluster.job(id)
    expect(job).toMatchObject({ state: 'succeeded', endedAtMs: seconds(105), workDoneSeconds: 105 })
    expect(job?.workDoneSeconds).toBeLessThanOrEqual(100 + 10)
    expect(job?.runs[0]?.endState).toBe('requeued')
  })

  it('a save takes its time, and the job does no work meanwhile', () => {
    const cluster = new SimCluster({ nodes: NODES })
    const env = { ...CHECKPOINTING, RPO_SIM_CHECKPOINT_SAVE: '5' }
    const id = jobIdOf(cluster.submit([submission('train', { env })])[0])
    cluster.advanceTo(seconds(43))
    cluster.signal([id], 'USR2')
    expect(cluster.job(id)?.state).toBe('running')
    cluster.advanceTo(seconds(48))
    expect(cluster.job(id)).toMatchObject({ state: 'failed', exitCode: 85, checkpointedSeconds: 43 })
    cluster.requeue([id])
    cluster.runUntilIdle()
    expect(cluster.job(id)).toMatchObject({ endedAtMs: seconds(48 + 57), workDoneSeconds: 100 })
  })

  it('requeues by itself on exit 85 when told to (Slurm RequeueExit=85)', () => {
    const cluster = new SimCluster({ nodes: NODES, requeueExitCodes: [85] })
    const id = jobIdOf(cluster.submit([submission('train', { env: CHECKPOINTING })])[0])
    cluster.advanceTo(seconds(30))
    cluster.signal([id], 'USR2')
    expect(cluster.job(id)).toMatchObject({
      state: 'running',
      restarts: 1,
      startedAtMs: seconds(30),
      progressSeconds: 30,
    })
    cluster.runUntilIdle()
    expect(cluster.job(id)).toMatchObject({ state: 'succeeded', endedAtMs: seconds(100), workDoneSeconds: 100 })
  })

  it('requeues held when asked, and resumes once released', () => {
    const cluster = new SimCluster({ nodes: NODES })
    const id = jobIdOf(cluster.submit([submission('train', { env: CHECKPOINTING })])[0])
    cluster.advanceTo(seconds(20))
    cluster.requeue([id], { hold: true })
    expect(cluster.job(id)).toMatchObject({
      state: 'held',
      nativeState: 'PENDING',
      reason: 'JobHeldUser',
      startedAtMs: null,
    })
    cluster.advanceTo(seconds(1000))
    expect(cluster.job(id)?.state).toBe('held')
    cluster.release([id])
    cluster.runUntilIdle()
    expect(cluster.job(id)).toMatchObject({ state: 'succeeded', endedAtMs: seconds(1080), workDoneSeconds: 100 })
  })

  it('refuses to requeue a cancelled job, and only holds a pending one', () => {
    const cluster = new SimCluster({ nodes: NODES })
    const [running, queued] = cluster.submit([
      submission('running', { cpus: 4, env: work(100) }),
      submission('queued', { cpus: 4, env: work(100) }),
    ])
    cluster.requeue([jobIdOf(queued)])
    expect(cluster.job(jobIdOf(queued))).toMatchObject({ state: 'pending', restarts: 0 })
    cluster.requeue([jobIdOf(queued)], { hold: true })
    expect(cluster.job(jobIdOf(queued))).toMatchObject({ state: 'held', restarts: 0 })
    cluster.cancel([jobIdOf(running)])
    expect(() => cluster.requeue([jobIdOf(running)])).toThrow(
      expect.objectContaining({
        code: 'command-failed',
        message: expect.stringMatching(/cancelled and cannot be requeued/),
      }),
    )
  })

  it('a new attempt with RPO_RESUME=1 resumes from the task checkpoints the last attempt left', () => {
    const cluster = new SimCluster({ nodes: NODES })
    const env = { RPO_SIM_DURATION: '100', RPO_CHECKPOINT_DIR: '/ckpt/train', RPO_CHECKPOINT_EVERY: '10s' }
    const first = jobIdOf(cluster.submit([submission('train.1', { taskId: 'train', env, timeLimitSeconds: 65 })])[0])
    cluster.runUntilIdle()
    expect(cluster.job(first)).toMatchObject({
      state: 'timeout',
      nativeState: 'TIMEOUT',
      reason: 'TimeLimit',
      exitCode: null,
    })
    expect(cluster.checkpointedSeconds('/ckpt/train')).toBe(60)
    const second = jobIdOf(
      cluster.submit([submission('train.2', { taskId: 'train', attempt: 2, env: { ...env, RPO_RESUME: '1' } })])[0],
    )
    cluster.runUntilIdle()
    expect(cluster.job(second)).toMatchObject({ state: 'succeeded', startedAtMs: seconds(65), endedAtMs: seconds(105) })
    // a fresh start (no RPO_RESUME) would have begun from zero
    const fresh = jobIdOf(cluster.submit([submission('train.3', { taskId: 'train', env })])[0])
    expect(cluster.job(fresh)?.progressSeconds).toBe(0)
  })
})

describe('time limits', () => {
  it('ends a job that outlives its time limit `timeout`, keeping its periodic checkpoints', () => {
    const cluster = new SimCluster({ nodes: NODES })
    const id = jobIdOf(
      cluster.submit([
        submission('long', { env: { ...work(100), RPO_SIM_CHECKPOINT_EVERY: '25' }, timeLimitSeconds: 60 }),
      ])[0],
    )
    cluster.runUntilIdle()
    expect(cluster.job(id)).toMatchObject({
      state: 'timeout',
      endedAtMs: seconds(60),
      progressSeconds: 60,
      checkpointedSeconds: 50,
    })
    // a job that finishes exactly at its limit has finished
    const exact = jobIdOf(cluster.submit([submission('exact', { env: work(30), timeLimitSeconds: 30 })])[0])
    cluster.runUntilIdle()
    expect(cluster.job(exact)?.state).toBe('succeeded')
  })

  it('signals a protocol job ahead of its limit (--signal=B:USR2@lead), so it saves and exits 85 in time', () => {
    const cluster = new SimCluster({ nodes: NODES })
    const env = { ...work(100), RPO_CHECKPOINT_DIR: '/c/x', RPO_CHECKPOINT_LEAD_SECONDS: '10' }
    const id = jobIdOf(cluster.submit([submission('x', { env, timeLimitSeconds: 60 })])[0])
    cluster.runUntilIdle()
    expect(cluster.job(id)).toMatchObject({
      state: 'failed',
      exitCode: 85,
      endedAtMs: seconds(50),
      checkpointedSeconds: 50,
    })
    expect(cluster.events().find((e) => e.kind === 'signal')).toMatchObject({ atMs: seconds(50), detail: 'USR2' })
  })

  it('loses a save the time limit cuts short, falling back to the last periodic checkpoint', () => {
    const cluster = new SimCluster({ nodes: NODES })
    const env = {
      ...work(100),
      RPO_CHECKPOINT_DIR: '/c/y',
      RPO_CHECKPOINT_EVERY: '30s',
      RPO_CHECKPOINT_LEAD_SECONDS: '10',
      RPO_SIM_CHECKPOINT_SAVE: '20',
    }
    const id = jobIdOf(cluster.submit([submission('y', { env, timeLimitSeconds: 60 })])[0])
    cluster.runUntilIdle()
    expect(cluster.job(id)).toMatchObject({ state: 'timeout', endedAtMs: seconds(60), checkpointedSeconds: 30 })
  })
})

describe('other endings', () => {
  it('crashes at RPO_SIM_FAIL_AT, and a signal the job does not handle kills it', () => {
    const cluster = new SimCluster({ nodes: NODES })
    const [crash, plain] = cluster.submit([
      submission('crash', { cpus: 1, env: { ...work(100), RPO_SIM_FAIL_AT: '30' } }),
      submission('plain', { cpus: 1, env: work(100) }),
    ])
    cluster.advanceTo(seconds(40))
    cluster.signal([jobIdOf(plain)], 'USR2')
    expect(cluster.job(jobIdOf(crash))).toMatchObject({ state: 'failed', exitCode: 1, endedAtMs: seconds(30) })
    expect(cluster.job(jobIdOf(plain))).toMatchObject({
      state: 'failed',
      exitCode: null,
      signal: 'USR2',
      endedAtMs: seconds(40),
    })
  })

  it('ignores signals whose default action is to do nothing', () => {
    const cluster = new SimCluster({ nodes: NODES })
    const id = jobIdOf(cluster.submit([submission('calm', { env: work(10) })])[0])
    cluster.signal([id], 'CONT')
    cluster.runUntilIdle()
    expect(cluster.job(id)?.state).toBe('succeeded')
  })
})

describe('node failure', () => {
  const TWO = [
    { name: 'n1', cpus: 4, memoryMb: 16_000 },
    { name: 'n2', cpus: 4, memoryMb: 16_000 },
  ]

  it('ends the jobs of a failed node `node_fail`, and places nothing there until it is back', () => {
    const cluster = new SimCluster({ nodes: TWO })
    const [lost] = cluster.submit([submission('lost', { cpus: 4, env: work(100) })])
    cluster.advanceTo(seconds(25))
    cluster.failNode('n1')
    expect(cluster.job(jobIdOf(lost))).toMatchObject({
      state: 'node_fail',
      nativeState: 'NODE_FAIL',
      reason: 'NodeFail',
      endedAtMs: seconds(25),
      nodes: ['n1'],
    })
    expect(cluster.inventory().nodes.map((n) => n.state)).toEqual(['down', 'idle'])
    const [a, b] = cluster.submit([submission('a', { cpus: 4 }), submission('b', { cpus: 4 })])
    expect(cluster.job(jobIdOf(a))?.nodes).toEqual(['n2'])
    expect(cluster.job(jobIdOf(b))?.state).toBe('pending')
    cluster.restoreNode('n1')
    expect(cluster.job(jobIdOf(b))).toMatchObject({ state: 'running', nodes: ['n1'] })
    expect(() => cluster.failNode('n9')).toThrow(expect.objectContaining({ code: 'usage' }))
  })

  it('puts a requeueable job back in the queue, resuming elsewhere from its last periodic checkpoint', () => {
    const cluster = new SimCluster({ nodes: TWO })
    const id = jobIdOf(cluster.submit([submission('train', { cpus: 4, env: CHECKPOINTING })])[0])
    cluster.advanceTo(seconds(25))
    cluster.failNode('n1')
    expect(cluster.job(id)).toMatchObject({ state: 'running', nodes: ['n2'], restarts: 1, progressSeconds: 20 })
    cluster.runUntilIdle()
    expect(cluster.job(id)).toMatchObject({ state: 'succeeded', endedAtMs: seconds(105), workDoneSeconds: 105 })
    expect(cluster.job(id)?.runs.map((r) => r.endState)).toEqual(['node_fail', 'succeeded'])
  })
})
