// Stopping a run (Ctrl-C, `rpo cancel`) on the simulated cluster, with the moments that used to lose
// work made deterministic: a job that finished before the stop, a process that dies after its cancels
// went out, a follower that ticks while `rpo cancel` waits for the jobs to end.
import { spawnSync } from 'node:child_process'
import os from 'node:os'
import { afterEach, describe, expect, it } from 'vitest'
import { SimAdapter } from '../../adapters/sim/sim-adapter.js'
import { SimClock } from '../../adapters/sim/sim-clock.js'
import { SimCluster } from '../../adapters/sim/sim-cluster.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { RpoError } from '../../src/core/errors.js'
import { Engine } from '../../src/engine/engine.js'
import type { NativeJobId, SchedulerAdapter } from '../../src/scheduler/scheduler-adapter.js'
import { openDatabase } from '../../src/store/open-store.js'
import { RunStore } from '../../src/store/run-store.js'

const START = Date.parse('2026-11-02T08:00:00Z')

interface World {
  /** What the jobs' outputs.json files hold, by path (`/sim/jobs/<submission key>/outputs.json`). */
  readonly files: Map<string, string>
  readonly clock: SimClock
  readonly cluster: SimCluster
  readonly store: RunStore
  engine(options?: { owner?: string; wrap?: (adapter: SchedulerAdapter) => SchedulerAdapter }): Engine
}

const opened: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of opened.splice(0)) await close()
})

async function world(): Promise<World> {
  const clock = new SimClock(START)
  const cluster = new SimCluster({ nodes: [{ name: 'c1', cpus: 8, memoryMb: 16_000 }], clock })
  const store = new RunStore(await openDatabase({ kind: 'sqlite', path: ':memory:', busyTimeoutMs: 1000 }))
  opened.push(() => store.close())
  const files = new Map<string, string>()
  return {
    files,
    clock,
    cluster,
    store,
    engine(options = {}) {
      const adapter = new SimAdapter({ cluster })
      const engine = new Engine({
        store,
        adapter: options.wrap ? options.wrap(adapter) : adapter,
        clusterName: 'sim',
        jobsRoot: '/sim/jobs',
        runsRoot: '/sim/runs',
        readFile: async (file) => files.get(file) ?? null,
        capacity: null,
        clock: () => clock.now(),
        ...(options.owner ? { owner: options.owner } : {}),
      })
      opened.unshift(() => engine.close())
      return engine
    },
  }
}

/** The adapter, with `cancel` followed by something else happening (a death, another process's tick). */
function afterCancel(then: () => Promise<void>): (adapter: SchedulerAdapter) => SchedulerAdapter {
  return (adapter) =>
    new Proxy(adapter, {
      get(target, name, receiver) {
        if (name === 'cancel')
          return async (ids: readonly NativeJobId[]) => {
            await target.cancel(ids)
            await then()
          }
        const value = Reflect.get(target, name, receiver)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
}

/** A pid no process has: a process that ran and was reaped. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid as number
}

async function tasksOf(store: RunStore, runId: string): Promise<Record<string, string>> {
  const { snapshot } = await store.loadSnapshot(runId)
  return Object.fromEntries(snapshot.tasks.map((t) => [t.id, t.state]))
}

async function attemptOf(store: RunStore, runId: string, taskId: string) {
  const { snapshot } = await store.loadSnapshot(runId)
  return snapshot.latestAttempts.find((a) => a.taskId === taskId)
}

const PIPELINE = loadPipelineText(
  '/sim/p.yaml',
  `
name: p
tasks:
  fast: { command: x, env: { RPO_SIM_DURATION: 10s } }
  slow: { command: x, env: { RPO_SIM_DURATION: 1h } }
  next: { command: x, after: [fast], env: { RPO_SIM_DURATION: 1h } }
`,
)

describe('stopping a run', () => {
  it('Ctrl-C records a job that had already succeeded as succeeded, and only stops the ones still running', async () => {
    const w = await world()
    const engine = w.engine()
    const runId = (await engine.startRun(PIPELINE)).run.id
    // next goes out too, held by the scheduler until fast succeeds
    expect((await engine.tick(runId)).submitted).toBe(3)
    // fast ends on the cluster (and next starts); no tick sees it before the interrupt
    w.cluster.advanceBy(30_000)
    const { stopped } = await engine.stopRun(runId, 'interrupt')
    expect(stopped).toBe(2)
    expect(await tasksOf(w.store, runId)).toEqual({ fast: 'succeeded', slow: 'pending', next: 'pending' })
    expect((await attemptOf(w.store, runId, 'fast'))?.state).toBe('succeeded')
    expect((await attemptOf(w.store, runId, 'slow'))?.reason).toBe('interrupted by the user')

    // the rerun starts fast's dependent and runs slow again, never fast
    const again = w.engine()
    expect((await again.startRun(PIPELINE)).resumed).toBe(true)
    await again.tick(runId)
    expect((await attemptOf(w.store, runId, 'fast'))?.attempt).toBe(1)
    expect((await tasksOf(w.store, runId)).next).toBe('active')
  })

  it('`rpo cancel` keeps what had already finished and cancels the rest', async () => {
    const w = await world()
    const engine = w.engine()
    const runId = (await engine.startRun(PIPELINE)).run.id
    await engine.tick(runId)
    w.cluster.advanceBy(30_000)
    await engine.stopRun(runId, 'cancel')
    expect((await w.store.getRun(runId)).state).toBe('cancelled')
    expect(await tasksOf(w.store, runId)).toEqual({ fast: 'succeeded', slow: 'cancelled', next: 'cancelled' })
  })

  it('a process that dies after sending its cancels leaves a run the next `rpo run` continues', async () => {
    const w = await world()
    const dying = w.engine({
      owner: `${os.hostname()}:${deadPid()}:dying`,
      wrap: afterCancel(async () => {
        throw new Error('forced exit (a second Ctrl-C) before the stop was recorded')
      }),
    })
    const runId = (await dying.startRun(PIPELINE)).run.id
    await dying.tick(runId)
    await expect(dying.stopRun(runId, 'interrupt')).rejects.toThrow('forced exit')

    const rerun = w.engine()
    expect((await rerun.startRun(PIPELINE)).resumed).toBe(true)
    let state = 'running'
    for (let i = 0; i < 20 && state === 'running'; i++) {
      state = (await rerun.tick(runId)).state
      w.cluster.advanceBy(3_600_000)
    }
    expect(state).toBe('succeeded')
    expect(await tasksOf(w.store, runId)).toEqual({ fast: 'succeeded', slow: 'succeeded', next: 'succeeded' })
    expect((await attemptOf(w.store, runId, 'slow'))?.attempt).toBe(2)
  })

  it('`rpo cancel` while another process follows the run records it cancelled, and the follower sees it', async () => {
    const w = await world()
    const follower = w.engine()
    const runId = (await follower.startRun(PIPELINE)).run.id
    await follower.tick(runId)
    const ticks: string[] = []
    // the follower ticks while the cancel waits for its jobs to end: it sees them cancelled
    const canceller = w.engine({
      wrap: afterCancel(async () => {
        ticks.push((await follower.tick(runId)).state)
      }),
    })
    await canceller.stopRun(runId, 'cancel')
    expect((await w.store.getRun(runId)).state).toBe('cancelled')
    expect(await tasksOf(w.store, runId)).toEqual({ fast: 'cancelled', slow: 'cancelled', next: 'cancelled' })
    expect(ticks).toEqual(['cancelling'])
    expect((await follower.tick(runId)).state).toBe('cancelled')
  })

  it('cancels a job that reaches the scheduler only after the stop first looked for it', async () => {
    const w = await world()
    // a tick that dies between sending the jobs and recording their ids: attempts stay `submitting`
    const sender = w.engine({
      wrap: (adapter) =>
        new Proxy(adapter, {
          get(target, name, receiver) {
            if (name === 'submit')
              return async (jobs: Parameters<SchedulerAdapter['submit']>[0]) => {
                await target.submit(jobs)
                throw new RpoError('ssh-socket', 'connection reset by peer', { retryable: true })
              }
            const value = Reflect.get(target, name, receiver)
            return typeof value === 'function' ? value.bind(target) : value
          },
        }),
    })
    const runId = (await sender.startRun(PIPELINE)).run.id
    await sender.tick(runId)
    expect(w.cluster.jobs().map((j) => j.state)).toEqual(['running', 'running', 'pending'])
    // the scheduler shows the jobs only from the second lookup on (sbatch still running the first time)
    let lookups = 0
    const canceller = w.engine({
      wrap: (adapter) =>
        new Proxy(adapter, {
          get(target, name, receiver) {
            if (name === 'findBySubmissionKey')
              return async (keys: Parameters<SchedulerAdapter['findBySubmissionKey']>[0]) =>
                lookups++ === 0 ? new Map() : target.findBySubmissionKey(keys)
            const value = Reflect.get(target, name, receiver)
            return typeof value === 'function' ? value.bind(target) : value
          },
        }),
    })
    await canceller.stopRun(runId, 'cancel', { waitMs: 0 })
    expect(w.cluster.jobs().map((j) => j.state)).toEqual(['cancelled', 'cancelled', 'cancelled'])
    expect(await tasksOf(w.store, runId)).toEqual({ fast: 'cancelled', slow: 'cancelled', next: 'cancelled' })
  })

  it('a job that finished before Ctrl-C has its outputs read: its fan-out is expanded for the rerun', async () => {
    const w = await world()
    const engine = w.engine()
    const pipeline = loadPipelineText(
      '/sim/fan.yaml',
      `
name: fan
tasks:
  split: { command: x, env: { RPO_SIM_DURATION: 10s } }
  slow: { command: x, env: { RPO_SIM_DURATION: 1h } }
  process: { command: x, foreach: { task: split, output: shards } }
`,
    )
    const runId = (await engine.startRun(pipeline)).run.id
    await engine.tick(runId)
    const split = await attemptOf(w.store, runId, 'split')
    w.files.set(`/sim/jobs/${split?.submissionKey}/outputs.json`, '{"shards": ["a", "b"]}')
    w.cluster.advanceBy(30_000)
    await engine.stopRun(runId, 'interrupt')
    expect(await tasksOf(w.store, runId)).toEqual({
      split: 'succeeded',
      slow: 'pending',
      process: 'expanded',
      'process.0': 'pending',
      'process.1': 'pending',
    })
  })
})
