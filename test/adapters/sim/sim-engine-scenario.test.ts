// How an integrator drives rpo on the simulator: the real engine (planner, SQLite store) ticks two
// competing runs against a small GPU cluster in virtual time — two and a half days of cluster time,
// with a node failure and a crashing attempt, in well under a second of test time per day.
import { describe, expect, it } from 'vitest'
import { SimAdapter } from '../../../adapters/sim/sim-adapter.js'
import { SimClock } from '../../../adapters/sim/sim-clock.js'
import { SimCluster } from '../../../adapters/sim/sim-cluster.js'
import { gpuUtilization, jobTimes } from '../../../adapters/sim/sim-metrics.js'
import { loadPipelineText } from '../../../src/config/load-pipeline.js'
import { Engine } from '../../../src/engine/engine.js'
import { openDatabase } from '../../../src/store/open-store.js'
import { RunStore } from '../../../src/store/run-store.js'

const START = Date.parse('2026-03-02T08:00:00Z')
const MINUTE = 60_000
const HOUR = 60 * MINUTE

// eight 10 h trainings of 2 GPUs per project: 16 × 10 h on 4 two-GPU slots ≈ 40 h of contention
const pipeline = (name: string) => `
name: ${name}
project: ${name}
defaults:
  resources: { cpus: 4, memory: 16G, time: 12h }
  retries: { max: 2, backoff: 1m }
tasks:
  prepare:
    command: prepare.sh
    env: { RPO_SIM_DURATION: 30m }
  train:
    after: [prepare]
    matrix: { seed: [1, 2, 3, 4, 5, 6, 7, 8] }
    command: train.sh --seed {{params.seed}}
    resources: { cpus: 8, memory: 64G, gpus: { count: 2, type: a100 }, time: 12h }
    env: { RPO_SIM_DURATION: 10h, RPO_SIM_CHECKPOINT_EVERY: 30m }
  evaluate:
    after: [train]
    command: evaluate.sh
    env: { RPO_SIM_DURATION: 1h, RPO_SIM_FAIL_AT: 10m, RPO_SIM_FAIL_ATTEMPTS: "1" }
`

describe('the rpo engine on the simulator', () => {
  it('drives two competing runs through a multi-day scenario in virtual time', async () => {
    const clock = new SimClock(START)
    const cluster = new SimCluster({
      clock,
      nodes: [
        { name: 'g1', cpus: 32, memoryMb: 256_000, gpus: [{ type: 'a100', count: 4 }] },
        { name: 'g2', cpus: 32, memoryMb: 256_000, gpus: [{ type: 'a100', count: 4 }] },
        { name: 'c1', cpus: 16, memoryMb: 64_000 },
      ],
    })
    const store = new RunStore(await openDatabase({ kind: 'sqlite', path: ':memory:', busyTimeoutMs: 1000 }))
    const engine = new Engine({
      store,
      adapter: new SimAdapter({ cluster }),
      clusterName: 'sim',
      jobsRoot: '/sim/jobs',
      runsRoot: '/sim/runs',
      readFile: async () => null,
      capacity: null,
      clock: () => clock.now(),
    })
    try {
      const runs = [
        (await engine.startRun(loadPipelineText('/sim/vision.yaml', pipeline('vision')))).run.id,
        (await engine.startRun(loadPipelineText('/sim/nlp.yaml', pipeline('nlp')))).run.id,
      ]
      // the world's own events go on the same clock as the engine's ticks
      clock.at(START + 20 * HOUR + 10 * MINUTE, () => cluster.failNode('g1'))
      clock.at(START + 23 * HOUR, () => cluster.restoreNode('g1'))

      // the sync loop: tick every run, then let five minutes of cluster time pass
      const states = new Map<string, string>()
      while (clock.now() < START + 7 * 24 * HOUR) {
        for (const runId of runs) states.set(runId, (await engine.tick(runId)).state)
        if ([...states.values()].every((s) => s !== 'running')) break
        cluster.advanceBy(5 * MINUTE)
      }

      expect([...states.values()]).toEqual(['succeeded', 'succeeded'])
      const hours = (clock.now() - START) / HOUR
      expect(hours).toBeGreaterThan(40)
      expect(hours).toBeLessThan(60)
      // GPUs stayed busy whenever eligible training was waiting, the node outage aside
      const busy = gpuUtilization(cluster, { fromMs: START, toMs: clock.now(), onlyWhilePending: true })
      expect(busy.ratio).toBeGreaterThan(0.85)
      // trainings cut by the node failure resumed from their checkpoints (requeued by the scheduler)
      const trainings = jobTimes(cluster).filter((j) => j.submissionKey.includes('.train.'))
      expect(trainings).toHaveLength(16)
      const restarted = trainings.filter((j) => j.restarts > 0)
      expect(restarted).toHaveLength(2)
      // each redid the 10 minutes since its last half-hourly checkpoint, and no more
      for (const j of restarted) expect(j.runSeconds).toBe(10 * 3600 + 10 * 60)
      for (const j of trainings) expect(j.runSeconds).toBeLessThanOrEqual(10 * 3600 + 30 * 60 * j.restarts)

      // the store holds what a budget ledger charges: allocated TRES × elapsed, per attempt
      const attempts = await store.listAttempts(runs[0] as string)
      const train = attempts.find((a) => a.taskId === 'train.1')
      expect(train?.usage?.allocTres).toEqual({ cpu: 8, mem: 65_536, node: 1, 'gres/gpu': 2, 'gres/gpu:a100': 2 })
      expect(train?.usage?.elapsedSeconds).toBeGreaterThan(0)
      // the evaluation crashed once and its retry succeeded
      expect(attempts.filter((a) => a.taskId === 'evaluate').map((a) => a.state)).toEqual(['failed', 'succeeded'])
    } finally {
      await engine.close()
      await store.close()
    }
  })
})
