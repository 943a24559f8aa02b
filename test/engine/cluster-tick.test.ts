// The cluster tick: one round over K running runs of a cluster asks the scheduler once — one
// poll, at most one lookup by submission key, one submission batch — whatever K, and every task of
// every run runs exactly once. Real engine, real SQLite store, the simulated cluster; the adapter's
// calls are counted by a wrapper around the real SimAdapter.
import { afterEach, describe, expect, it } from 'vitest'
import { SimAdapter } from '../../adapters/sim/sim-adapter.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import type { JobSubmission, NativeJobId, SubmissionKey } from '../../src/scheduler/scheduler-adapter.js'
import { simEngine } from '../support/sim-engine.js'

const START = Date.parse('2026-11-02T08:00:00Z')
const closing: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closing.splice(0)) await close()
})

/** The real SimAdapter, counting what the engine asks of it per kind of call. */
class CountingSimAdapter extends SimAdapter {
  readonly calls = { poll: 0, submit: 0, find: 0, cancel: 0, submittedJobs: 0 }
  override async poll(ids: readonly NativeJobId[]) {
    this.calls.poll++
    return super.poll(ids)
  }
  override async submit(jobs: readonly JobSubmission[]) {
    this.calls.submit++
    this.calls.submittedJobs += jobs.length
    return super.submit(jobs)
  }
  override async findBySubmissionKey(keys: readonly SubmissionKey[]) {
    this.calls.find++
    return super.findBySubmissionKey(keys)
  }
  override async cancel(ids: readonly NativeJobId[]) {
    this.calls.cancel++
    return super.cancel(ids)
  }
}

async function simCluster() {
  let adapter: CountingSimAdapter | null = null
  const sim = await simEngine({
    start: START,
    nodes: Array.from({ length: 8 }, (_, i) => ({ name: `c${i}`, cpus: 64, memoryMb: 256_000 })),
    adapter: (cluster) => {
      adapter = new CountingSimAdapter({ cluster })
      return adapter
    },
  })
  closing.push(() => sim.close())
  if (adapter === null) throw new Error('simEngine built no adapter')
  return { ...sim, adapter: adapter as CountingSimAdapter }
}

const PIPELINE = loadPipelineText(
  '/sim/p.yaml',
  `name: p
tasks:
  prep: { command: x, env: { RPO_SIM_DURATION: 30s } }
  train: { command: x, after: [prep], matrix: { lr: [1, 2, 3] }, env: { RPO_SIM_DURATION: 60s } }
  report: { command: x, after: [train], env: { RPO_SIM_DURATION: 10s } }
`,
)

describe('the cluster tick', () => {
  for (const k of [1, 10, 40]) {
    it(`asks the scheduler once per round for ${k} running run(s), and runs every task once`, async () => {
      const { cluster, store, adapter, engine } = await simCluster()
      const runIds: string[] = []
      for (let i = 0; i < k; i++) runIds.push((await engine.startRun(PIPELINE, { resume: false })).run.id)
      const rounds: { poll: number; submit: number; find: number; runs: number }[] = []
      for (let round = 0; round < 50; round++) {
        const before = { ...adapter.calls }
        const result = await engine.tickCluster()
        expect(result.heldBy).toBeNull()
        rounds.push({
          poll: adapter.calls.poll - before.poll,
          submit: adapter.calls.submit - before.submit,
          find: adapter.calls.find - before.find,
          runs: result.runs.length,
        })
        if (result.runs.every((r) => r.state !== 'running')) break
        cluster.advanceBy(30_000)
      }
      // the first round plans every run and submits all their jobs in one batch
      expect(rounds[0]).toEqual({ poll: 0, submit: 1, find: 0, runs: k })
      expect(adapter.calls.submittedJobs).toBe(k * 5)
      for (const round of rounds) {
        expect(round.poll).toBeLessThanOrEqual(1)
        expect(round.submit).toBeLessThanOrEqual(1)
        expect(round.find).toBe(0)
      }
      for (const runId of runIds) {
        expect((await store.getRun(runId)).state).toBe('succeeded')
        const attempts = await store.listAttempts(runId)
        expect(attempts.map((a) => `${a.taskId}#${a.attempt}`).sort()).toEqual(
          ['prep#1', 'report#1', 'train.0#1', 'train.1#1', 'train.2#1'].sort(),
        )
      }
    })
  }

  it("ticks a run's cluster for engine.tick(runId) and says where that run stands", async () => {
    const { store, engine, adapter } = await simCluster()
    const a = (await engine.startRun(PIPELINE, { resume: false })).run.id
    const b = (await engine.startRun(PIPELINE, { resume: false })).run.id
    const result = await engine.tick(a)
    expect(result).toMatchObject({ runId: a, state: 'running', submitted: 5 })
    // b was planned in the same round: its jobs went out in the same batch
    expect(adapter.calls.submit).toBe(1)
    expect((await store.listAttempts(b)).length).toBe(5)
  })
})
