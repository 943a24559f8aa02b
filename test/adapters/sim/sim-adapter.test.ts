// The SchedulerAdapter face of the simulator: what the engine sees, in the shapes real adapters use.
import { describe, expect, it } from 'vitest'
import { SimAdapter } from '../../../adapters/sim/sim-adapter.js'
import { SimClock } from '../../../adapters/sim/sim-clock.js'
import { SimCluster } from '../../../adapters/sim/sim-cluster.js'
import { asNativeJobId, asSubmissionKey } from '../../../src/scheduler/scheduler-adapter.js'
import { gpus, jobIdOf, MIXED_NODES, seconds, submission, work } from './sim-submissions.js'

const EPOCH = Date.parse('2026-03-02T08:00:00Z')
const simAdapter = (options: { advancePerPollMs?: number; requeueDelaySeconds?: number } = {}) =>
  new SimAdapter({
    cluster: new SimCluster({
      nodes: MIXED_NODES,
      clock: new SimClock(EPOCH),
      requeueDelaySeconds: options.requeueDelaySeconds ?? 0,
    }),
    ...options,
  })

describe('SimAdapter', () => {
  it('is a scheduler with native dependencies, hold, priority and signals, but no arrays', () => {
    const adapter = simAdapter()
    expect(adapter.kind).toBe('sim')
    expect(adapter.capabilities).toEqual({
      nativeDependencies: true,
      hold: true,
      arrays: false,
      wholeArrayDependencies: false,
      priority: true,
      signal: true,
      signalsBeforeLimit: true,
    })
  })

  it('reports usage as the Slurm adapter reads sacct: elapsed time and AllocTRES with GPUs by type', async () => {
    const adapter = simAdapter()
    const [train, wide] = await adapter.submit([
      submission('train', { partition: 'gpu', cpus: 8, memoryMb: 32_000, gpus: gpus(2, 'a100'), env: work(3600) }),
      submission('wide', { partition: 'cpu', cpus: 4, memoryMb: 8000, nodes: 2, env: work(60, 3) }),
    ])
    adapter.cluster.advanceBy(seconds(90))
    const [running, ended] = await adapter.poll([jobIdOf(train), jobIdOf(wide)])
    expect(running).toEqual({
      jobId: jobIdOf(train),
      state: 'running',
      nativeState: 'RUNNING',
      exitCode: null,
      signal: null,
      reason: null,
      startedAt: new Date(EPOCH),
      endedAt: null,
      nodes: ['gpu1'],
      name: 'train',
      usage: {
        elapsedSeconds: 90,
        allocTres: { cpu: 8, mem: 32_000, node: 1, 'gres/gpu': 2, 'gres/gpu:a100': 2 },
      },
    })
    expect(ended).toMatchObject({
      state: 'failed',
      nativeState: 'FAILED',
      exitCode: 3,
      endedAt: new Date(EPOCH + seconds(60)),
      nodes: ['cpu1', 'cpu2'],
      usage: { elapsedSeconds: 60, allocTres: { cpu: 8, mem: 16_000, node: 2 } },
    })
  })

  it('says nothing about ids it does not know, and nothing about usage before a start', async () => {
    const adapter = simAdapter({ requeueDelaySeconds: 30 })
    const [blocker, waiting] = await adapter.submit([
      submission('blocker', { partition: 'cpu', cpus: 8, nodes: 2, env: work(100) }),
      submission('waiting', { partition: 'cpu', cpus: 8, env: work(10) }),
    ])
    const observations = await adapter.poll([asNativeJobId('4242'), jobIdOf(waiting)])
    expect(observations).toEqual([
      {
        jobId: jobIdOf(waiting),
        state: 'pending',
        nativeState: 'PENDING',
        exitCode: null,
        signal: null,
        reason: 'Resources',
        startedAt: null,
        endedAt: null,
        nodes: [],
        name: 'waiting',
      },
    ])
    expect(await adapter.poll([])).toEqual([])
    // a requeued job is pending again, without a start, as squeue shows it, and may not start at once
    await adapter.requeue([jobIdOf(blocker)])
    const [requeued] = await adapter.poll([jobIdOf(blocker)])
    expect(requeued).toMatchObject({ state: 'pending', startedAt: null, reason: 'BeginTime' })
    adapter.cluster.advanceBy(seconds(29))
    expect((await adapter.poll([jobIdOf(blocker)]))[0]).toMatchObject({ state: 'pending', reason: 'BeginTime' })
    adapter.cluster.advanceBy(seconds(1))
    expect((await adapter.poll([jobIdOf(blocker)]))[0]).toMatchObject({
      state: 'running',
      startedAt: new Date(EPOCH + seconds(30)),
    })
  })

  it('finds jobs by submission key and lists its nodes', async () => {
    const adapter = simAdapter()
    const [result] = await adapter.submit([submission('findme')])
    const found = await adapter.findBySubmissionKey([asSubmissionKey('findme'), asSubmissionKey('nope')])
    expect([...found]).toEqual([['findme', jobIdOf(result)]])
    const inventory = await adapter.inventory()
    expect(inventory.nodes[2]).toEqual({
      name: 'gpu1',
      cpus: 16,
      memoryMb: 128_000,
      gpus: [{ type: 'a100', count: 4 }],
      partitions: ['gpu'],
      state: 'idle',
    })
    expect(inventory.nodes[0]?.state).toBe('mixed')
  })

  it('passes control operations through, counting one scheduler call per batch', async () => {
    const adapter = simAdapter()
    const [blocker, a, b] = await adapter.submit([
      submission('blocker', { partition: 'cpu', cpus: 8, nodes: 2, env: work(100) }),
      submission('a', { partition: 'cpu', cpus: 8, env: { ...work(100), RPO_SIM_CHECKPOINT_EVERY: '10' } }),
      submission('b', { partition: 'cpu', cpus: 8, env: work(100) }),
    ])
    const before = adapter.commandsRun
    await adapter.setPriority([jobIdOf(b)], 100)
    expect(adapter.cluster.job(jobIdOf(b))?.nice).toBe(-100)
    await adapter.control([jobIdOf(a)], { kind: 'nice', nice: 5 })
    expect(adapter.cluster.job(jobIdOf(a))?.nice).toBe(5)
    await adapter.control([jobIdOf(a)], { kind: 'hold' })
    await adapter.cancel([jobIdOf(blocker)])
    expect((await adapter.poll([jobIdOf(a), jobIdOf(b)])).map((o) => o.state)).toEqual(['held', 'running'])
    await adapter.control([jobIdOf(a)], { kind: 'release' })
    expect((await adapter.poll([jobIdOf(a)]))[0]?.state).toBe('running')
    adapter.cluster.advanceBy(seconds(30))
    await adapter.control([jobIdOf(a)], { kind: 'signal', signal: 'USR2' })
    expect((await adapter.poll([jobIdOf(a)]))[0]).toMatchObject({ state: 'failed', exitCode: 85 })
    await adapter.requeue([jobIdOf(a)], { hold: true })
    expect((await adapter.poll([jobIdOf(a)]))[0]?.state).toBe('held')
    await adapter.control([], { kind: 'hold' })
    expect(adapter.commandsRun - before).toBe(11)
    await expect(adapter.cancel([asNativeJobId('999')])).rejects.toMatchObject({ code: 'command-failed' })
    await adapter.close()
  })

  it('waits by moving virtual time to the next job change, or by the timeout', async () => {
    const adapter = simAdapter()
    await adapter.submit([submission('a', { env: work(40) }), submission('b', { env: work(100) })])
    await adapter.waitForChange(seconds(3600))
    expect(adapter.cluster.now()).toBe(EPOCH + seconds(40))
    await adapter.waitForChange(seconds(10))
    expect(adapter.cluster.now()).toBe(EPOCH + seconds(50))
    await adapter.waitForChange(seconds(3600))
    expect(adapter.cluster.now()).toBe(EPOCH + seconds(100))
    await adapter.waitForChange(seconds(5))
    expect(adapter.cluster.now()).toBe(EPOCH + seconds(105))
  })

  it('can advance virtual time by a fixed step on every poll, for callers that wait in real time', async () => {
    const adapter = simAdapter({ advancePerPollMs: seconds(1) })
    const [result] = await adapter.submit([submission('short', { env: work(3) })])
    const states: string[] = []
    for (let i = 0; i < 4; i++) states.push((await adapter.poll([jobIdOf(result)]))[0]?.state ?? 'missing')
    expect(states).toEqual(['running', 'running', 'succeeded', 'succeeded'])
  })
})
