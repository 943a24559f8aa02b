// Expected vs actual for a run: the critical path of what remains at expected durations plus
// waits, running tasks at what is left of them, the bottleneck stage and the slack to a deadline.
import { describe, expect, it } from 'vitest'
import { EMPTY_DURATION_HISTORY, indexDurationSamples, taskShape } from '../../../src/core/estimate/duration-model.js'
import { projectProject } from '../../../src/core/estimate/project-projection.js'
import { EMPTY_QUEUE_WAIT_HISTORY, indexQueueWaits } from '../../../src/core/estimate/queue-wait-model.js'
import { projectRun, type RunProjectionInput } from '../../../src/core/estimate/run-projection.js'
import type { RunSnapshot } from '../../../src/core/scheduling/run-snapshot.js'
import { MIN, snapshotOf, T0, type TaskMove } from './estimate-fixtures.js'

const CHAIN = `
name: chain
tasks:
  a: { command: a.sh, expected: 10m }
  b: { command: b.sh, expected: 20m, after: [a] }
  c: { command: c.sh, expected: 5m, after: [b] }
`

function project(snapshot: RunSnapshot, now: number, extra: Partial<RunProjectionInput> = {}) {
  return projectRun({
    snapshot,
    cluster: 'hpc',
    createdAt: T0,
    finishedAt: null,
    durations: EMPTY_DURATION_HISTORY,
    waits: EMPTY_QUEUE_WAIT_HISTORY,
    now,
    ...extra,
  })
}

describe('projecting a run', () => {
  it('lays a chain end to end from now, with b (the longest) as the bottleneck', () => {
    const p = project(snapshotOf(CHAIN), T0)
    expect(p.projectedEnd).toBe(T0 + 35 * MIN)
    expect(p.plannedEnd).toBe(T0 + 35 * MIN)
    expect(p.remainingCriticalPathSeconds).toBe(35 * 60)
    expect(p.criticalPath).toEqual(['a', 'b', 'c'])
    expect(p.bottleneck).toBe('b')
    expect(p.stages.map((s) => [s.stage, s.criticalSeconds])).toEqual([
      ['a', 600],
      ['b', 1200],
      ['c', 300],
    ])
    expect(p.tasks.find((t) => t.id === 'b')?.projected).toEqual({ start: T0 + 10 * MIN, end: T0 + 30 * MIN })
  })

  it('counts a running task at what is left of it, and at nothing once it overran', () => {
    const running: Record<string, TaskMove> = { a: { state: 'active', submitted: T0, started: T0 } }
    const early = project(snapshotOf(CHAIN, running), T0 + 4 * MIN)
    expect(early.projectedEnd).toBe(T0 + 35 * MIN)
    expect(early.remainingCriticalPathSeconds).toBe(31 * 60)
    // 15 minutes into a 10-minute task: it is expected to end any moment, not in the past
    const late = project(snapshotOf(CHAIN, running), T0 + 15 * MIN)
    expect(late.tasks[0]?.projected).toEqual({ start: T0, end: T0 + 15 * MIN })
    expect(late.projectedEnd).toBe(T0 + 40 * MIN)
    expect(late.tasks[0]?.actual).toEqual({ start: T0, end: null })
    // the baseline does not move: the plan said a would be done at 10 minutes
    expect(late.tasks[0]?.planned).toEqual({ start: T0, end: T0 + 10 * MIN })
  })

  it('takes finished tasks as they happened and what remains from now', () => {
    const moves: Record<string, TaskMove> = {
      a: { state: 'succeeded', submitted: T0, started: T0, ended: T0 + 12 * MIN },
      b: { state: 'active', submitted: T0 + 12 * MIN },
    }
    const p = project(snapshotOf(CHAIN, moves), T0 + 13 * MIN)
    expect(p.tasks[0]).toMatchObject({ finished: true, actual: { start: T0, end: T0 + 12 * MIN } })
    // b is queued: no wait expected without history, so it starts now
    expect(p.tasks[1]?.projected).toEqual({ start: T0 + 13 * MIN, end: T0 + 33 * MIN })
    expect(p.projectedEnd).toBe(T0 + 38 * MIN)
    expect(p.criticalPath).toEqual(['b', 'c'])
    expect(p.doneWorkSeconds).toBe(600)
    expect(p.expectedWorkSeconds).toBe(35 * 60)
  })

  it('adds the expected queue wait of the partition before each start', () => {
    const waits = indexQueueWaits([{ cluster: 'hpc', partition: null, gpuType: null, seconds: 120, startedAt: T0 }])
    const queued = snapshotOf(CHAIN, { a: { state: 'active', submitted: T0 } })
    const p = project(queued, T0 + 1 * MIN, { waits })
    // a: submitted at T0, expected to wait 2 min; b and c wait 2 min each after their upstream
    expect(p.tasks[0]?.projected).toEqual({ start: T0 + 2 * MIN, end: T0 + 12 * MIN })
    expect(p.projectedEnd).toBe(T0 + (12 + 2 + 20 + 2 + 5) * MIN)
    expect(p.tasks[0]?.wait).toMatchObject({ seconds: 120, samples: 1, source: 'history' })
  })

  it("prefers the scheduler's own start estimate for a queued job to the queue-wait history", () => {
    const waits = indexQueueWaits([{ cluster: 'hpc', partition: null, gpuType: null, seconds: 120, startedAt: T0 }])
    // Slurm expects a to start 30 min after its submission (a full node ahead of it); history says 2 min
    const queued = snapshotOf(CHAIN, { a: { state: 'active', submitted: T0, schedulerStart: T0 + 30 * MIN } })
    const p = project(queued, T0 + 1 * MIN, { waits })
    expect(p.tasks[0]).toMatchObject({
      schedulerStart: T0 + 30 * MIN,
      projected: { start: T0 + 30 * MIN, end: T0 + 40 * MIN },
    })
    // what follows still waits as history says
    expect(p.projectedEnd).toBe(T0 + (40 + 2 + 20 + 2 + 5) * MIN)
    // the baseline is a plan from the run's start: no scheduler had been asked yet
    expect(p.tasks[0]?.planned).toEqual({ start: T0 + 2 * MIN, end: T0 + 12 * MIN })
    // an estimate already past (a stale one, or a start under way) starts it now, never in the past
    const stale = snapshotOf(CHAIN, { a: { state: 'active', submitted: T0, schedulerStart: T0 + 1 * MIN } })
    expect(project(stale, T0 + 5 * MIN, { waits }).tasks[0]?.projected.start).toBe(T0 + 5 * MIN)
    // without an estimate: submission + the history's wait, as before
    const unknown = snapshotOf(CHAIN, { a: { state: 'active', submitted: T0 } })
    expect(project(unknown, T0 + 1 * MIN, { waits }).tasks[0]).toMatchObject({
      schedulerStart: null,
      projected: { start: T0 + 2 * MIN },
    })
  })

  it('takes the branch that ends last as the critical path; the other branch contributes nothing', () => {
    const diamond = `
name: diamond
tasks:
  a: { command: a.sh, expected: 5m }
  slow: { command: s.sh, expected: 30m, after: [a] }
  fast: { command: f.sh, expected: 5m, after: [a] }
  d: { command: d.sh, expected: 5m, after: [slow, fast] }
`
    const p = project(snapshotOf(diamond), T0)
    expect(p.criticalPath).toEqual(['a', 'slow', 'd'])
    expect(p.bottleneck).toBe('slow')
    expect(p.stages.find((s) => s.stage === 'fast')?.criticalSeconds).toBe(0)
    expect(p.projectedEnd).toBe(T0 + 40 * MIN)
  })

  it('counts matrix instances as their stage, in waves of maxParallel', () => {
    const sweep = `
name: sweep
tasks:
  train:
    command: train.sh {{params.seed}}
    matrix: { seed: [1, 2, 3, 4, 5] }
    maxParallel: 2
    resources: { time: 2h }
`
    const durations = indexDurationSamples([
      { pipeline: 'sweep', stage: 'train', shape: 'x', seconds: 600, endedAt: T0 - 1 },
      { pipeline: 'sweep', stage: 'train', shape: 'x', seconds: 600, endedAt: T0 - 2 },
    ])
    const moves = { 'train.0': { state: 'active', submitted: T0, started: T0 } } as const
    const p = project(snapshotOf(sweep, moves), T0 + 5 * MIN, { durations })
    expect(p.tasks.map((t) => t.stage)).toEqual(Array(5).fill('train'))
    expect(p.tasks[3]?.expected).toMatchObject({ seconds: 600, samples: 2, source: 'history' })
    // train.0 ends at 10 min; the other lane takes train.1 now (5–15), then train.2 at 10, train.3 at 15, train.4 at 20
    expect(p.projectedEnd).toBe(T0 + 30 * MIN)
    const stage = p.stages[0]
    expect(stage).toMatchObject({ stage: 'train', instances: 5, finished: 0, actual: { start: T0, end: null } })
    expect(stage?.planned).toEqual({ start: T0, end: T0 + 30 * MIN })
  })

  it('waits for a retry until its next attempt time', () => {
    const moves: Record<string, TaskMove> = { a: { state: 'retry_wait', nextAttemptAt: T0 + 20 * MIN } }
    expect(project(snapshotOf(CHAIN, moves), T0).projectedEnd).toBe(T0 + 55 * MIN)
  })

  it('counts a fan-out whose list is not known yet as one instance', () => {
    const fanOut = `
name: fan
tasks:
  list: { command: list.sh, expected: 1m }
  each: { command: 'run.sh {{item}}', expected: 10m, foreach: { task: list, output: items } }
`
    const p = project(snapshotOf(fanOut), T0)
    expect(p.projectedEnd).toBe(T0 + 11 * MIN)
  })

  it('is done once the run ended: completion is its end, nothing remains', () => {
    const moves: Record<string, TaskMove> = {
      a: { state: 'succeeded', submitted: T0, started: T0, ended: T0 + 9 * MIN },
      b: { state: 'failed', submitted: T0 + 9 * MIN, started: T0 + 9 * MIN, ended: T0 + 11 * MIN },
      c: { state: 'upstream_failed' },
    }
    const p = project(snapshotOf(CHAIN, moves), T0 + 60 * MIN, { finishedAt: T0 + 11 * MIN })
    expect(p).toMatchObject({
      finished: true,
      projectedEnd: T0 + 11 * MIN,
      actualEnd: T0 + 11 * MIN,
      remainingCriticalPathSeconds: 0,
      bottleneck: null,
    })
    expect(p.stages[1]?.actual).toEqual({ start: T0 + 9 * MIN, end: T0 + 11 * MIN })
  })

  it('uses history of the same command shape from another pipeline', () => {
    const snapshot = snapshotOf(CHAIN)
    const b = snapshot.pipeline.tasks[1]
    const durations = indexDurationSamples([
      { pipeline: 'elsewhere', stage: 'bb', shape: taskShape(b as never), seconds: 60, endedAt: T0 },
    ])
    const p = project(snapshot, T0, { durations })
    expect(p.tasks[1]?.expected).toMatchObject({ seconds: 60, basis: 'command-shape' })
    expect(p.projectedEnd).toBe(T0 + 16 * MIN)
    expect(p.bottleneck).toBe('a')
  })
})

describe('projecting a project', () => {
  it('takes its latest run and measures slack to the deadline', () => {
    const early = project(snapshotOf(CHAIN), T0)
    const late = project(snapshotOf(CHAIN), T0 + 30 * MIN)
    const runs = [
      { runId: 'r1', projection: early },
      { runId: 'r2', projection: late },
    ]
    const onTime = projectProject('vision', T0 + 2 * 60 * MIN, runs)
    expect(onTime).toMatchObject({
      projectedCompletion: T0 + 65 * MIN,
      slackSeconds: 55 * 60,
      atRisk: false,
      bottleneck: { runId: 'r2', stage: 'b' },
      runs: 2,
    })
    const atRisk = projectProject('vision', T0 + 60 * MIN, runs)
    expect(atRisk).toMatchObject({ slackSeconds: -5 * 60, atRisk: true })
    expect(projectProject('vision', null, runs)).toMatchObject({ slackSeconds: null, atRisk: false })
    expect(projectProject('vision', T0, [])).toMatchObject({ projectedCompletion: null, slackSeconds: null })
  })
})
