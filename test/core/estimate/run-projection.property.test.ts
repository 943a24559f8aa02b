// Properties of the projection over random pipelines, progress and histories: it never projects
// an unfinished run to end before now, longer durations or waits never make it end earlier, and
// the stages' contributions add up to the remaining critical path.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type DurationSample, indexDurationSamples } from '../../../src/core/estimate/duration-model.js'
import { indexQueueWaits } from '../../../src/core/estimate/queue-wait-model.js'
import { projectRun } from '../../../src/core/estimate/run-projection.js'
import { MIN, snapshotOf, T0, type TaskMove } from './estimate-fixtures.js'

interface StageSpec {
  readonly after: readonly number[]
  readonly instances: number
  readonly maxParallel: number | null
  readonly minutes: number
}

const stageArb = fc.record({
  after: fc.uniqueArray(fc.nat(5), { maxLength: 3 }),
  instances: fc.integer({ min: 1, max: 3 }),
  maxParallel: fc.option(fc.integer({ min: 1, max: 2 }), { nil: null }),
  minutes: fc.integer({ min: 1, max: 120 }),
})

function pipelineText(stages: readonly StageSpec[]): string {
  const lines = ['name: random', 'tasks:']
  stages.forEach((s, i) => {
    const after = [...new Set(s.after.filter((a) => a < i))].map((a) => `s${a}`)
    lines.push(`  s${i}:`)
    lines.push(`    command: 'work {{params.k}}'`)
    lines.push(`    matrix: { k: [${Array.from({ length: s.instances }, (_, k) => k).join(', ')}] }`)
    if (after.length > 0) lines.push(`    after: [${after.join(', ')}]`)
    if (s.maxParallel !== null) lines.push(`    maxParallel: ${s.maxParallel}`)
    lines.push(`    resources: { time: 4h }`)
  })
  return lines.join('\n')
}

// what each instance is doing: 0 pending, 1 queued, 2 running, 3 succeeded, 4 retry wait
const scenarioArb = fc.array(stageArb, { minLength: 1, maxLength: 6 }).chain((stages) =>
  fc.record({
    stages: fc.constant(stages),
    phases: fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 300 })), {
      minLength: 18,
      maxLength: 18,
    }),
    nowMinutes: fc.integer({ min: 0, max: 600 }),
    waitMinutes: fc.integer({ min: 0, max: 30 }),
    factor: fc.double({ min: 1, max: 4, noNaN: true }),
    extraWait: fc.integer({ min: 0, max: 30 }),
  }),
)

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer S> ? S : never

function setUp(s: Scenario) {
  const now = T0 + s.nowMinutes * MIN
  const moves: Record<string, TaskMove> = {}
  let n = 0
  s.stages.forEach((stage, i) => {
    for (let k = 0; k < stage.instances; k++) {
      const [phase, offset] = s.phases[n++ % s.phases.length] as [number, number]
      const at = Math.min(now, T0 + offset * MIN)
      if (phase === 1) moves[`s${i}.${k}`] = { state: 'active', submitted: at }
      if (phase === 2) moves[`s${i}.${k}`] = { state: 'active', submitted: at, started: at }
      if (phase === 3) moves[`s${i}.${k}`] = { state: 'succeeded', submitted: at, started: at, ended: at }
      if (phase === 4) moves[`s${i}.${k}`] = { state: 'retry_wait', nextAttemptAt: T0 + offset * MIN }
    }
  })
  const snapshot = snapshotOf(pipelineText(s.stages), moves)
  const samples = (factor: number): DurationSample[] =>
    s.stages.map((stage, i) => ({
      pipeline: 'random',
      stage: `s${i}`,
      shape: 'x',
      seconds: stage.minutes * 60 * factor,
      endedAt: T0,
    }))
  const waits = (minutes: number) =>
    indexQueueWaits([{ cluster: 'hpc', partition: null, gpuType: null, seconds: minutes * 60, startedAt: T0 }])
  const run = (factor: number, waitMinutes: number) =>
    projectRun({
      snapshot,
      cluster: 'hpc',
      createdAt: T0,
      finishedAt: null,
      durations: indexDurationSamples(samples(factor)),
      waits: waits(waitMinutes),
      now,
    })
  return { now, run }
}

describe('projection properties', () => {
  it('never projects an unfinished run, or any unfinished task, to end before now', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { now, run } = setUp(s)
        const p = run(1, s.waitMinutes)
        expect(p.projectedEnd).toBeGreaterThanOrEqual(now)
        expect(p.remainingCriticalPathSeconds).toBeGreaterThanOrEqual(0)
        for (const t of p.tasks) if (!t.finished) expect(t.projected.end as number).toBeGreaterThanOrEqual(now)
      }),
      { numRuns: 200 },
    )
  })

  it('is monotone: longer durations or longer waits never make anything end earlier', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { run } = setUp(s)
        const base = run(1, s.waitMinutes)
        const slower = run(s.factor, s.waitMinutes + s.extraWait)
        expect(slower.projectedEnd).toBeGreaterThanOrEqual(base.projectedEnd)
        expect(slower.plannedEnd).toBeGreaterThanOrEqual(base.plannedEnd)
        base.tasks.forEach((t, i) => {
          expect(slower.tasks[i]?.projected.end ?? 0).toBeGreaterThanOrEqual(t.projected.end ?? 0)
        })
      }),
      { numRuns: 200 },
    )
  })

  it("adds the stages' contributions up to the remaining critical path; the bottleneck contributes most", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const p = setUp(s).run(1, s.waitMinutes)
        const total = p.stages.reduce((sum, stage) => sum + stage.criticalSeconds, 0)
        expect(total).toBeCloseTo(p.remainingCriticalPathSeconds, 6)
        if (p.bottleneck === null) expect(p.remainingCriticalPathSeconds).toBe(0)
        else {
          const most = Math.max(...p.stages.map((stage) => stage.criticalSeconds))
          expect(p.stages.find((stage) => stage.stage === p.bottleneck)?.criticalSeconds).toBe(most)
        }
      }),
      { numRuns: 200 },
    )
  })

  it('is deterministic: the same inputs give the same projection', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        expect(setUp(s).run(1, s.waitMinutes)).toEqual(setUp(s).run(1, s.waitMinutes))
      }),
      { numRuns: 50 },
    )
  })
})
