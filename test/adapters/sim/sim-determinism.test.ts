// Same inputs, same history: a busy multi-day scenario run twice gives identical event logs, and
// keeps the simulator's invariants (capacity, conserved work) on the way.
import { describe, expect, it } from 'vitest'
import { SimCluster } from '../../../adapters/sim/sim-cluster.js'
import { formatSimEvent } from '../../../adapters/sim/sim-event-log.js'
import { jobTimes } from '../../../adapters/sim/sim-metrics.js'
import { asSubmissionKey } from '../../../src/scheduler/scheduler-adapter.js'
import { gpus, MIXED_NODES, seconds, submission } from './sim-submissions.js'

/** A tiny seeded generator (LCG): the scenario's own inputs, fixed by the seed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

const HOUR = seconds(3600)

function scenario(seed: number): SimCluster {
  const next = seeded(seed)
  const cluster = new SimCluster({ nodes: MIXED_NODES, requeueExitCodes: [85] })
  // three days of arrivals, each scheduled on the virtual clock as a scenario step
  for (let i = 0; i < 300; i++) {
    const at = Math.floor(next() * 72 * HOUR)
    const gpu = next() < 0.5
    const checkpoints = next() < 0.5
    const env: Record<string, string> = { RPO_SIM_DURATION: String(Math.floor(600 + next() * 6 * 3600)) }
    if (checkpoints) env.RPO_SIM_CHECKPOINT_EVERY = '600'
    if (next() < 0.1) env.RPO_SIM_EXIT = '2'
    const key = `job${i}`
    const upstream = i > 0 && next() < 0.2 ? `job${Math.floor(next() * i)}` : null
    cluster.clock.at(at, () => {
      cluster.submit([
        submission(key, {
          cpus: 1 + Math.floor(next() * 8),
          memoryMb: 1000 + Math.floor(next() * 16_000),
          gpus: gpu ? gpus(1 + Math.floor(next() * 4), ...(next() < 0.5 ? ['a100'] : [])) : null,
          partition: gpu ? 'gpu' : 'cpu',
          timeLimitSeconds: 8 * 3600,
          priority: Math.floor(next() * 3),
          env,
          dependsOn:
            upstream && cluster.findBySubmissionKey([asSubmissionKey(upstream)]).size > 0
              ? [{ submissionKey: asSubmissionKey(upstream), jobId: null, condition: 'succeeded' }]
              : [],
        }),
      ])
    })
  }
  // a node failure, a repair, and a round of checkpoint signals (a budget policy's preemption)
  cluster.clock.at(20 * HOUR, () => cluster.failNode('gpu1'))
  cluster.clock.at(26 * HOUR, () => cluster.restoreNode('gpu1'))
  cluster.clock.at(40 * HOUR, () => {
    const running = cluster.jobs().filter((j) => j.state === 'running')
    cluster.signal(
      running.map((j) => j.id),
      'USR2',
    )
  })
  cluster.runUntilIdle()
  return cluster
}

describe('determinism', () => {
  it('two runs of the same scenario give the same event log, job times and timeline', () => {
    const first = scenario(42)
    const second = scenario(42)
    expect(first.events().length).toBeGreaterThan(600)
    expect(second.events().map(formatSimEvent)).toEqual(first.events().map(formatSimEvent))
    expect(jobTimes(second)).toEqual(jobTimes(first))
    expect(second.samples()).toEqual(first.samples())
    // and a different seed is a different history
    expect(scenario(7).events().map(formatSimEvent)).not.toEqual(first.events().map(formatSimEvent))
  })

  it('never allocates more GPUs than are up, and conserves the work of jobs that checkpoint', () => {
    const cluster = scenario(42)
    for (const sample of cluster.samples()) {
      for (const [type, busy] of Object.entries(sample.gpusBusy))
        expect(busy).toBeLessThanOrEqual(sample.gpusUp[type] ?? 0)
    }
    const jobs = cluster.jobs()
    expect(jobs.some((j) => j.restarts > 0)).toBe(true)
    for (const job of jobs.filter((j) => j.state === 'succeeded')) {
      const duration = job.workload.durationSeconds
      const every = job.workload.checkpointEverySeconds
      expect(job.workDoneSeconds).toBeGreaterThanOrEqual(duration)
      // each restart redoes at most one checkpoint interval (everything, for a job without checkpoints)
      const worstRedo = every === null ? job.restarts * duration : job.restarts * every
      expect(job.workDoneSeconds).toBeLessThanOrEqual(duration + worstRedo + 1e-9)
    }
    expect(cluster.jobs().every((j) => j.state !== 'running' && j.state !== 'pending')).toBe(true)
  })
})
