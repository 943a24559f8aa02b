// A replay small enough to work out by hand, on one node of 4 GPUs. A (2 GPUs, 100 s) runs from 0;
// B (4 GPUs, 100 s, loose deadline) arrives at 1 and cannot fit; C (1 GPU, 50 s) arrives at 2;
// E (4 GPUs, 10 s, deadline at 154 s) arrives at 4.
// - fifo: nothing passes B: A 0, B 100, C 200, E 250 (E misses its deadline);
// - backfill: C ends before A's time limit frees B's GPUs, so it starts at once; then B (older) at
//   100 and E at 200 (E misses);
// - rpo: C backfills too; at 100 rpo's policy puts E (little slack left) before B: E 100, B 110,
//   and no deadline is missed.
import { describe, expect, it } from 'vitest'
import { replayFigures } from '../../src/simulate/replay-metrics.js'
import type { PolicyName } from '../../src/simulate/replay-policies.js'
import type { DeadlinedJob } from '../../src/simulate/trace-deadlines.js'
import { replayTrace } from '../../src/simulate/trace-replay.js'

const NODE = [{ name: 'n1', cpus: 16, memoryMb: 64_000, gpus: [{ type: 'gpu', count: 4 }] }]

function job(
  id: string,
  submit: number,
  gpus: number,
  duration: number,
  deadline: number,
  project = 'p',
): DeadlinedJob {
  return {
    id,
    submitSeconds: submit,
    durationSeconds: duration,
    gpus,
    gpuType: null,
    cpus: 1,
    memoryMb: 1000,
    project,
    line: submit + 2,
    deadlineSeconds: deadline,
  }
}

const JOBS = [job('A', 0, 2, 100, 1000), job('B', 1, 4, 100, 1001), job('C', 2, 1, 50, 1002), job('E', 4, 4, 10, 154)]

function starts(policy: PolicyName, jobs = JOBS, budgets?: Map<string, number>) {
  const outcome = replayTrace(jobs, { policy, nodes: NODE, ...(budgets ? { budgets } : {}) })
  const at = Object.fromEntries(outcome.jobs.map((r) => [r.job.id, r.startedMs === null ? null : r.startedMs / 1000]))
  return { at, figures: replayFigures(outcome) }
}

describe('a replay worked out by hand', () => {
  it('fifo: the big job blocks the small one behind it', () => {
    const { at, figures } = starts('fifo')
    expect(at).toEqual({ A: 0, B: 100, C: 200, E: 250 })
    expect(figures.deadlineMisses).toBe(1)
    expect(figures.meanWaitSeconds).toBe((0 + 99 + 198 + 246) / 4)
    expect(figures.makespanSeconds).toBe(260)
  })

  it('backfill: the small job goes through without delaying the big one; age orders the rest', () => {
    const { at, figures } = starts('backfill')
    expect(at).toEqual({ A: 0, C: 2, B: 100, E: 200 })
    expect(figures.deadlineMisses).toBe(1)
  })

  it('rpo: backfills too, and runs the deadline-critical job first', () => {
    const { at, figures } = starts('rpo')
    expect(at).toEqual({ A: 0, C: 2, E: 100, B: 110 })
    expect(figures.deadlineMisses).toBe(0)
    expect(figures.makespanSeconds).toBe(210)
    // GPU-seconds busy ÷ offered over 0–210 s: A 200, C 50, E 40, B 400
    expect(figures.gpuUtilization).toBeCloseTo(690 / 840, 6)
    expect(figures.gpuHoursByProject.p).toBeCloseTo(690 / 3600, 9)
  })

  it('rpo: fair share puts the project that used less first when deadlines do not press', () => {
    const jobs = [
      job('A', 0, 4, 100, 100_000, 'heavy'),
      job('H', 1, 4, 100, 100_000, 'heavy'),
      job('L', 2, 4, 100, 100_000, 'light'),
    ]
    expect(starts('rpo', jobs).at).toEqual({ A: 0, L: 100, H: 200 })
    expect(starts('fifo', jobs).at).toEqual({ A: 0, H: 100, L: 200 })
  })

  it('a budget holds a project once its GPU-hours would cross the cap, under every policy', () => {
    const jobs = [
      job('A', 0, 4, 3600, 100_000, 'x'),
      job('B', 1, 4, 3600, 100_000, 'x'),
      job('C', 2, 1, 60, 100_000, 'y'),
    ]
    for (const policy of ['rpo', 'fifo', 'backfill'] as const) {
      const { at, figures } = starts(policy, jobs, new Map([['x', 5]]))
      expect(at).toEqual({ A: 0, B: null, C: 3600 })
      expect(figures.neverStarted).toBe(1)
      expect(figures.gpuHoursByProject.x).toBe(4)
    }
  })

  it('the same inputs replay to the same outcome', () => {
    expect(starts('rpo').figures).toEqual(starts('rpo').figures)
  })
})

describe('EASY backfill', () => {
  it('lets a job through only if it cannot delay the reserved one', () => {
    // D (1 GPU, 500 s) fits at 3 but would still hold a GPU when A's limit frees B's: it waits
    const jobs = [job('A', 0, 2, 100, 1000), job('B', 1, 4, 100, 1001), job('D', 3, 1, 500, 5000)]
    expect(starts('backfill', jobs).at).toEqual({ A: 0, B: 100, D: 200 })
  })

  it('judges a job on the nodes it would start on, not on some other node that has room then', () => {
    // two nodes of 8 GPUs. L and M fill n1, X takes half of n2; H (8 GPUs) is booked on n2 for
    // when X ends. Z (4 GPUs, 500 s) fits now only on n2, which H needs: it waits until M frees
    // half of n1 at 5, and H starts at 10. (Z would fit beside H on n1 then, but not where it
    // starts now: let in at 2, it held H back until 502.)
    const nodes = ['n1', 'n2'].map((name) => ({ name, cpus: 16, memoryMb: 64_000, gpus: [{ type: 'gpu', count: 8 }] }))
    const jobs = [
      job('L', 0, 4, 1000, 9000),
      job('M', 0, 4, 5, 9000),
      job('X', 0, 4, 10, 9000),
      job('H', 1, 8, 100, 9000),
      job('Z', 2, 4, 500, 9000),
    ]
    const outcome = replayTrace(jobs, { policy: 'backfill', nodes })
    const at = Object.fromEntries(outcome.jobs.map((r) => [r.job.id, r.startedMs === null ? null : r.startedMs / 1000]))
    expect(at).toEqual({ L: 0, M: 0, X: 0, H: 10, Z: 5 })
  })
})

describe('jobs no node can hold', () => {
  it('are refused by the cluster and counted apart from every figure', () => {
    const jobs = [job('A', 0, 2, 100, 1000), job('Huge', 1, 8, 100, 150)]
    for (const policy of ['rpo', 'fifo', 'backfill'] as const) {
      const { at, figures } = starts(policy, jobs)
      expect(at).toEqual({ A: 0, Huge: null })
      expect(figures).toMatchObject({ rejected: 1, completed: 1, deadlineMisses: 0, neverStarted: 0 })
    }
  })
})
