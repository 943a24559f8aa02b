// Issue #13's targets on the real traces, as `rpo simulate` replays them by default: under rpo's
// policy the GPUs stay ≥ 90 % busy while eligible work waits, and both the p95 queue wait and the
// deadline misses are below FIFO's and Slurm-like EASY backfill's. Virtual time, so the figures are
// the same on every machine (docs/simulate.md has them); each replay takes seconds. A change to the
// policy, the replay or the simulated cluster that loses a target fails here, not only in the bench.
import { describe, expect, it } from 'vitest'
import type { ReplayFigures } from '../../src/simulate/replay-metrics.js'
import { type SimulateResult, simulateTrace } from '../../src/simulate/simulate-run.js'
import { ALIBABA_TRACE, PHILLY_TRACE } from '../support/shared-traces.js'

function byPolicy(result: SimulateResult): Record<'rpo' | 'fifo' | 'backfill', ReplayFigures> {
  const find = (name: string) => {
    const figures = result.policies.find((p) => p.policy === name)
    if (!figures) throw new Error(`no ${name} figures`)
    return figures
  }
  return { rpo: find('rpo'), fifo: find('fifo'), backfill: find('backfill') }
}

function expectTargetsMet(result: SimulateResult): void {
  const { rpo, fifo, backfill } = byPolicy(result)
  // every job ran under every policy: the comparison is of the same work
  for (const figures of [rpo, fifo, backfill]) expect(figures.completed).toBe(result.trace.jobs)
  expect(rpo.gpuUtilizationWhileWaiting).toBeGreaterThanOrEqual(0.9)
  expect(rpo.p95WaitSeconds).toBeLessThan(fifo.p95WaitSeconds as number)
  expect(rpo.p95WaitSeconds).toBeLessThan(backfill.p95WaitSeconds as number)
  expect(rpo.deadlineMisses).toBeLessThan(fifo.deadlineMisses)
  expect(rpo.deadlineMisses).toBeLessThan(backfill.deadlineMisses)
}

describe('rpo simulate on the real traces meets the targets against FIFO and backfill', () => {
  it('Alibaba GPU 2023: every pod from day 115 on 4 × 8 GPUs', { timeout: 120_000 }, async () => {
    const result = await simulateTrace({ trace: ALIBABA_TRACE, policies: ['rpo', 'fifo', 'backfill'] })
    expect(result.trace.jobs).toBe(7228)
    expect(result.cluster.nodes).toBe(4)
    expectTargetsMet(result)
  })

  it('Philly-derived: the first 2,000 jobs on 32 × 8 GPUs', { timeout: 120_000 }, async () => {
    const result = await simulateTrace({ trace: PHILLY_TRACE, policies: ['rpo', 'fifo', 'backfill'] })
    expect(result.trace.jobs).toBe(2000)
    expect(result.cluster.nodes).toBe(32)
    expectTargetsMet(result)
  })

  it('Philly-derived: every job on 32 × 8 GPUs', { timeout: 240_000 }, async () => {
    const result = await simulateTrace({ trace: PHILLY_TRACE, policies: ['rpo', 'fifo', 'backfill'], limit: null })
    expect(result.trace.jobs).toBe(5452)
    expectTargetsMet(result)
  })
})
