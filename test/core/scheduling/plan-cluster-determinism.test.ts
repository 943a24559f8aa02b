/**
 * planCluster is a pure function of its input: the same runs give deep-equal plans, in whatever
 * order the runs are listed; its admissions respect the shared limits and the rank order; and for
 * one run on one cluster it decides exactly what planTick decides.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { planCluster, type RunPlanInput } from '../../../src/core/scheduling/plan-cluster.js'
import { planTick } from '../../../src/core/scheduling/plan-tick.js'
import type { TickPlan } from '../../../src/core/scheduling/tick-plan.js'
import { deepFreeze, PlanDriver, pipelineOf, snapshotOf } from '../../support/fixtures.js'
import { clusterOptions } from './cluster-fixtures.js'

const sweeps = [1, 2, 3, 4, 5, 6].map((n) =>
  pipelineOf(
    `name: demo\ntasks:\n  t: { command: "x {{params.i}}", matrix: { i: [${Array.from({ length: n }, (_, i) => i).join(', ')}] } }\n`,
  ),
)

const inputs = fc.record({
  runs: fc.uniqueArray(
    fc.record({
      id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
      size: fc.integer({ min: 1, max: 6 }),
      rank: fc.integer({ min: 0, max: 2 }),
    }),
    { minLength: 1, maxLength: 5, selector: (r) => r.id },
  ),
  maxActive: fc.integer({ min: 0, max: 20 }),
  cpus: fc.option(fc.integer({ min: 0, max: 20 }), { nil: null }),
  shuffle: fc.array(fc.nat(), { minLength: 5, maxLength: 5 }),
})

function runsOf(runs: readonly { id: string; size: number; rank: number }[]): RunPlanInput[] {
  return runs.map(({ id, size, rank }) => ({
    snapshot: deepFreeze(snapshotOf(sweeps[size - 1] as (typeof sweeps)[number], 'running', id)),
    observations: [],
    cluster: 'hpc',
    rank,
  }))
}

/** Plans by run id, order-free. */
const byRun = (plans: ReadonlyMap<string, TickPlan>) => Object.fromEntries(plans)

describe('planCluster is deterministic', () => {
  it('same runs, in any order, give the same plans; limits and rank order hold', () => {
    fc.assert(
      fc.property(inputs, ({ runs, maxActive, cpus, shuffle }) => {
        const options = clusterOptions({
          maxActive,
          capacity: cpus === null ? null : { cpus, memoryMb: 1_000_000, gpus: {} },
        })
        const input = runsOf(runs)
        const first = planCluster(input, options)
        expect(byRun(planCluster(runsOf(runs), options))).toEqual(byRun(first))
        const permuted = input.map((run, k) => ({ run, key: shuffle[k] ?? 0 })).sort((x, y) => x.key - y.key)
        expect(byRun(planCluster(permuted.map((p) => p.run).reverse(), options))).toEqual(byRun(first))

        const admitted = runs.map((r) => first.get(r.id)?.submissions.length ?? 0)
        const total = admitted.reduce((a, b) => a + b, 0)
        expect(total).toBeLessThanOrEqual(Math.min(maxActive, cpus ?? Number.POSITIVE_INFINITY))
        // a run gets nothing while a higher-ranked run's ready work is left out
        runs.forEach((run, i) => {
          if ((admitted[i] ?? 0) === 0) return
          runs.forEach((other, j) => {
            if (other.rank > run.rank) expect(admitted[j]).toBe(other.size)
          })
        })
        // and the limits are used: nothing left out while room remains
        const ready = runs.reduce((a, r) => a + r.size, 0)
        expect(total).toBe(Math.min(ready, maxActive, cpus ?? Number.POSITIVE_INFINITY))
      }),
      { numRuns: 150 },
    )
  })

  it('for one run on one cluster, decides what planTick decides, tick by tick', () => {
    const yaml = `
name: demo
tasks:
  prep: { command: prep }
  train: { command: "t {{params.i}}", matrix: { i: [1, 2, 3] }, after: [prep], maxParallel: 2 }
  eval: { command: eval, after: [train] }
`
    const run = new PlanDriver(yaml, { nativeDependencies: true, maxActive: 3 })
    const steps: (() => Parameters<typeof planTick>[1])[] = [
      () => [],
      () => [run.observe('prep', 'succeeded')],
      () => [run.observe('train.0', 'failed'), run.observe('train.1', 'succeeded')],
      () => [],
    ]
    for (const observationsOf of steps) {
      const observations = observationsOf()
      const { admit: _none, ...options } = { ...run.options, now: run.now }
      const alone = planCluster(
        [{ snapshot: run.snapshot, observations, cluster: 'hpc' }],
        clusterOptions({ ...options, cluster: 'hpc' }),
      )
      expect(alone.get('run1')).toEqual(planTick(run.snapshot, observations, options))
      run.tick(observations)
    }
    expect(run.task('eval').state).toBe('upstream_failed')
  })

  it('refuses the same run twice in one tick', () => {
    const snapshot = snapshotOf(sweeps[0] as (typeof sweeps)[number])
    const run = { snapshot, observations: [], cluster: 'hpc' }
    expect(() => planCluster([run, run], clusterOptions())).toThrow('run run1 was given twice')
  })
})
