// The simulated queue: priority order, submission refusals, dependencies, hold and release.
import { describe, expect, it } from 'vitest'
import { SimCluster } from '../../../adapters/sim/sim-cluster.js'
import { asNativeJobId, asSubmissionKey } from '../../../src/scheduler/scheduler-adapter.js'
import { gpus, jobIdOf, MIXED_NODES, seconds, submission, work } from './sim-submissions.js'

const ONE_NODE = [{ name: 'n1', cpus: 4, memoryMb: 16_000 }]
const startOrder = (cluster: SimCluster) =>
  cluster
    .jobs()
    .filter((j) => j.runs.length > 0)
    .sort((a, b) => (a.runs[0]?.startedAtMs ?? 0) - (b.runs[0]?.startedAtMs ?? 0) || Number(a.id) - Number(b.id))
    .map((j) => j.submissionKey)

describe('priority order', () => {
  it('starts waiting jobs lower nice first, then in submission order', () => {
    const cluster = new SimCluster({ nodes: ONE_NODE })
    cluster.submit([submission('blocker', { cpus: 4, env: work(100) })])
    cluster.submit([
      submission('low', { cpus: 4, env: work(10), priority: -5 }),
      submission('first', { cpus: 4, env: work(10) }),
      submission('second', { cpus: 4, env: work(10) }),
      submission('high', { cpus: 4, env: work(10), priority: 5 }),
    ])
    expect(cluster.jobs().map((j) => [j.submissionKey, j.state, j.reason])).toEqual([
      ['blocker', 'running', null],
      ['low', 'pending', 'Resources'],
      ['first', 'pending', 'Resources'],
      ['second', 'pending', 'Resources'],
      ['high', 'pending', 'Resources'],
    ])
    cluster.runUntilIdle()
    expect(startOrder(cluster)).toEqual(['blocker', 'high', 'first', 'second', 'low'])
    expect(cluster.now()).toBe(seconds(140))
  })

  it('reorders the queue when a job is reniced', () => {
    const cluster = new SimCluster({ nodes: ONE_NODE })
    const [, a, b] = cluster.submit([
      submission('blocker', { cpus: 4, env: work(100) }),
      submission('a', { cpus: 4, env: work(10) }),
      submission('b', { cpus: 4, env: work(10) }),
    ])
    cluster.setNice([jobIdOf(a)], 10)
    expect(cluster.job(jobIdOf(a))?.nice).toBe(10)
    expect(cluster.job(jobIdOf(b))?.nice).toBe(0)
    cluster.runUntilIdle()
    expect(startOrder(cluster)).toEqual(['blocker', 'b', 'a'])
  })

  it('first-fit lets a smaller job past one that does not fit; strict does not', () => {
    const scenario = (queuePolicy: 'first-fit' | 'strict') => {
      const cluster = new SimCluster({ nodes: ONE_NODE, queuePolicy })
      cluster.submit([
        submission('half', { cpus: 2, env: work(100) }),
        submission('big', { cpus: 4, env: work(10) }),
        submission('small', { cpus: 2, env: work(10) }),
      ])
      return cluster
    }
    const greedy = scenario('first-fit')
    expect(greedy.jobs().map((j) => j.state)).toEqual(['running', 'pending', 'running'])
    const strict = scenario('strict')
    expect(strict.jobs().map((j) => [j.state, j.reason])).toEqual([
      ['running', null],
      ['pending', 'Resources'],
      ['pending', 'Priority'],
    ])
    strict.runUntilIdle()
    expect(startOrder(strict)).toEqual(['half', 'big', 'small'])
  })
})

describe('submission', () => {
  it('refuses, per job and in sbatch words, what can never run here', () => {
    const cluster = new SimCluster({ nodes: MIXED_NODES })
    const results = cluster.submit([
      submission('ok', { partition: 'gpu', gpus: gpus(1, 'a100') }),
      submission('too-big', { cpus: 64 }),
      submission('no-such-gpu', { gpus: gpus(1, 'h100') }),
      submission('wrong-partition', { partition: 'gpu', gpus: gpus(8) }),
      submission('bad-partition', { partition: 'debug' }),
      submission('bad-env', { env: { RPO_SIM_DURATION: 'forever' } }),
      submission('bad-upstream', {
        dependsOn: [{ submissionKey: asSubmissionKey('x'), jobId: asNativeJobId('999'), condition: 'succeeded' }],
      }),
    ])
    expect(results.map((r) => (r.kind === 'rejected' ? r.message : r.kind))).toEqual([
      'submitted',
      'Requested node configuration is not available',
      'Requested node configuration is not available',
      'Requested node configuration is not available',
      'invalid partition specified: debug',
      'RPO_SIM_DURATION="forever" is not a duration (90, 90s, 2h, 01:30:00)',
      'Job dependency problem: no job 999',
    ])
    expect(cluster.events().filter((e) => e.kind === 'reject')).toHaveLength(6)
  })

  it('confines a job to its partition, or the default partition', () => {
    const cluster = new SimCluster({ nodes: MIXED_NODES, defaultPartition: 'gpu' })
    const [plain, cpu] = cluster.submit([submission('plain'), submission('cpu', { partition: 'cpu' })])
    expect(cluster.job(jobIdOf(plain))?.nodes).toEqual(['gpu1'])
    expect(cluster.job(jobIdOf(cpu))?.nodes).toEqual(['cpu1'])
  })

  it('finds the latest job of a submission key; a resend is a new job, as with sbatch', () => {
    const cluster = new SimCluster({ nodes: ONE_NODE, firstJobId: 500 })
    cluster.submit([submission('k')])
    cluster.submit([submission('k')])
    const found = cluster.findBySubmissionKey([asSubmissionKey('k'), asSubmissionKey('never')])
    expect([...found]).toEqual([['k', '501']])
  })
})

describe('dependencies', () => {
  const dep = (key: string, condition: 'succeeded' | 'finished' | 'failed') => ({
    submissionKey: asSubmissionKey(key),
    jobId: null,
    condition,
  })

  it('wires a batch by submission key and starts dependents as their upstreams end', () => {
    const cluster = new SimCluster({ nodes: ONE_NODE })
    cluster.submit([
      submission('ok', { env: work(10) }),
      submission('bad', { env: work(20, 3) }),
      submission('afterok', { env: work(5), dependsOn: [dep('ok', 'succeeded')] }),
      submission('afterany', { env: work(5), dependsOn: [dep('ok', 'finished'), dep('bad', 'finished')] }),
      submission('afternotok', { env: work(5), dependsOn: [dep('bad', 'failed')] }),
      submission('doomed', { env: work(5), dependsOn: [dep('bad', 'succeeded')] }),
      submission('doomed-too', { env: work(5), dependsOn: [dep('ok', 'failed')] }),
    ])
    expect(cluster.jobs().map((j) => j.reason)).toEqual([
      null,
      null,
      'Dependency',
      'Dependency',
      'Dependency',
      'Dependency',
      'Dependency',
    ])
    cluster.runUntilIdle()
    const byKey = Object.fromEntries(cluster.jobs().map((j) => [j.submissionKey, j]))
    expect(byKey.afterok).toMatchObject({ state: 'succeeded', startedAtMs: seconds(10) })
    expect(byKey.afterany).toMatchObject({ state: 'succeeded', startedAtMs: seconds(20) })
    expect(byKey.afternotok).toMatchObject({ state: 'succeeded', startedAtMs: seconds(20) })
    // like Slurm with --kill-on-invalid-dep=yes: cancelled as soon as the dependency cannot be met
    expect(byKey.doomed).toMatchObject({
      state: 'cancelled',
      nativeState: 'CANCELLED',
      reason: 'DependencyNeverSatisfied',
      startedAtMs: null,
      endedAtMs: seconds(20),
    })
    expect(byKey['doomed-too']).toMatchObject({ state: 'cancelled', endedAtMs: seconds(10) })
  })

  it('dooms a whole chain when its head fails, and keeps a met dependency met', () => {
    const cluster = new SimCluster({ nodes: ONE_NODE })
    cluster.submit([
      submission('head', { env: work(10, 1) }),
      submission('mid', { dependsOn: [dep('head', 'succeeded')] }),
      submission('tail', { dependsOn: [dep('mid', 'succeeded')] }),
    ])
    cluster.runUntilIdle()
    expect(cluster.jobs().map((j) => [j.state, j.reason])).toEqual([
      ['failed', null],
      ['cancelled', 'DependencyNeverSatisfied'],
      ['cancelled', 'DependencyNeverSatisfied'],
    ])

    const again = new SimCluster({ nodes: ONE_NODE })
    const [up] = again.submit([submission('up', { env: work(10) })])
    const [down] = again.submit([
      submission('down', {
        env: work(10),
        dependsOn: [{ submissionKey: asSubmissionKey('up'), jobId: jobIdOf(up), condition: 'succeeded' }],
      }),
    ])
    again.hold([jobIdOf(down)])
    again.advanceTo(seconds(15))
    // the upstream goes back to the queue; the dependency, once met, stays met (Slurm drops it)
    again.requeue([jobIdOf(up)])
    again.release([jobIdOf(down)])
    expect(again.job(jobIdOf(down))?.state).toBe('running')
  })
})

describe('hold and release', () => {
  it('holds pending jobs only, keeps them held past their dependencies, and runs them once released', () => {
    const cluster = new SimCluster({ nodes: ONE_NODE })
    const [blocker, waiting, running] = cluster.submit([
      submission('blocker', { cpus: 2, env: work(30) }),
      submission('waiting', {
        cpus: 2,
        env: work(10),
        dependsOn: [{ submissionKey: asSubmissionKey('blocker'), jobId: null, condition: 'succeeded' }],
      }),
      submission('running', { cpus: 2, env: work(100) }),
    ])
    cluster.hold([jobIdOf(waiting), jobIdOf(running), jobIdOf(blocker)])
    expect(cluster.jobs().map((j) => [j.state, j.nativeState, j.reason])).toEqual([
      ['running', 'RUNNING', null],
      ['held', 'PENDING', 'JobHeldUser'],
      ['running', 'RUNNING', null],
    ])
    cluster.advanceTo(seconds(60))
    expect(cluster.job(jobIdOf(blocker))?.state).toBe('succeeded')
    expect(cluster.job(jobIdOf(waiting))?.state).toBe('held')
    cluster.release([jobIdOf(waiting)])
    expect(cluster.job(jobIdOf(waiting))).toMatchObject({ state: 'running', startedAtMs: seconds(60) })
    cluster.runUntilIdle()
    expect(cluster.job(jobIdOf(waiting))).toMatchObject({ state: 'succeeded', endedAtMs: seconds(70) })
    expect(
      cluster
        .events()
        .filter((e) => e.kind === 'hold' || e.kind === 'release')
        .map((e) => e.kind),
    ).toEqual(['hold', 'release'])
  })

  it('can reproduce Slurm releasing a held job when it is reniced', () => {
    const renice = (renicingReleasesHold: boolean) => {
      const cluster = new SimCluster({ nodes: ONE_NODE, renicingReleasesHold })
      const [, held] = cluster.submit([submission('busy', { cpus: 4 }), submission('h')])
      cluster.hold([jobIdOf(held)])
      cluster.setNice([jobIdOf(held)], 10)
      return cluster.job(jobIdOf(held))
    }
    expect(renice(true)).toMatchObject({ state: 'pending', nice: 10 })
    expect(renice(false)).toMatchObject({ state: 'held', nice: 10 })
  })

  it('cancels queued and running jobs, leaves ended ones, and refuses ids it never issued', () => {
    const cluster = new SimCluster({ nodes: ONE_NODE })
    const [done, running, queued] = cluster.submit([
      submission('done', { cpus: 1, env: work(1) }),
      submission('running', { cpus: 3, env: work(100) }),
      submission('queued', { cpus: 4, env: work(100) }),
    ])
    cluster.advanceTo(seconds(10))
    expect(() => cluster.cancel([jobIdOf(done), jobIdOf(running), jobIdOf(queued), asNativeJobId('77')])).toThrow(
      expect.objectContaining({ code: 'command-failed', message: 'sim: invalid job id(s): 77' }),
    )
    expect(cluster.jobs().map((j) => [j.state, j.startedAtMs, j.endedAtMs])).toEqual([
      ['succeeded', 0, seconds(1)],
      ['cancelled', 0, seconds(10)],
      ['cancelled', null, seconds(10)],
    ])
  })
})
