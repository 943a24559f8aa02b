// The pure decision of which notifications a tick owes: once per change, whatever order and
// repetition the inputs come in.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type BudgetStandingInput,
  decideNotifications,
  type RunDeadlineInput,
  type SubjectChange,
} from '../../../src/core/notify/decide-notifications.js'

const HOUR = 3_600_000
const DEADLINE = Date.parse('2026-12-01T00:00:00Z')

function run(projectedEnd: number, bottleneck: string | null = null): RunDeadlineInput {
  return {
    runId: 'r1',
    project: 'vision',
    deadline: DEADLINE,
    projectedEnd,
    bottleneck,
    remainingCriticalPathSeconds: 100,
  }
}

function budget(used: number, projectedExhaustion: string | null = null, periodKey = '2026-11'): BudgetStandingInput {
  return {
    ruleId: 'vision.budgets[0]',
    project: 'vision',
    user: null,
    resource: 'gpu-hours',
    gpuType: null,
    cap: 'hard',
    used,
    effective: 100,
    period: `month ${periodKey}`,
    periodKey,
    projectedExhaustion,
  }
}

/** Feeds a sequence of observations through the decision, keeping its state as the store would. */
function replay(steps: readonly { runs?: RunDeadlineInput[]; budgets?: BudgetStandingInput[] }[]): SubjectChange[] {
  const last = new Map<string, string>()
  const all: SubjectChange[] = []
  for (const step of steps) {
    const changes = decideNotifications({ runs: step.runs ?? [], budgets: step.budgets ?? [], last })
    for (const c of changes) last.set(c.subject, c.to)
    all.push(...changes)
  }
  return all
}

const notices = (changes: readonly SubjectChange[]) => changes.flatMap((c) => (c.notice ? [c.notice] : []))

describe('decideNotifications', () => {
  it('says a run at risk once, and its recovery once it has the margin back', () => {
    const said = notices(
      replay([
        { runs: [run(DEADLINE - HOUR)] },
        { runs: [run(DEADLINE + HOUR)] },
        { runs: [run(DEADLINE + 2 * HOUR)] },
        // back on the deadline but inside the 10-minute margin: still at risk, nothing said
        { runs: [run(DEADLINE - 5 * 60_000)] },
        { runs: [run(DEADLINE - HOUR)] },
        { runs: [run(DEADLINE - 2 * HOUR)] },
      ]),
    )
    expect(said.map((n) => n.type === 'deadline.at-risk' && n.payload.state)).toEqual(['at-risk', 'recovered'])
    expect(said[0]).toMatchObject({
      runId: 'r1',
      project: 'vision',
      payload: { slackSeconds: -3600, deadline: '2026-12-01T00:00:00.000Z', projectedEnd: '2026-12-01T01:00:00.000Z' },
    })
  })

  it('follows the bottleneck silently at first, then says each change', () => {
    const changes = replay([
      { runs: [run(DEADLINE - HOUR, 'prep')] },
      { runs: [run(DEADLINE - HOUR, 'prep')] },
      { runs: [run(DEADLINE - HOUR, 'train')] },
      { runs: [run(DEADLINE - HOUR, null)] },
    ])
    expect(changes.map((c) => c.to)).toEqual(['prep', 'train'])
    expect(notices(changes)).toEqual([
      {
        type: 'bottleneck.changed',
        project: 'vision',
        runId: 'r1',
        payload: { from: 'prep', to: 'train', remainingCriticalPathSeconds: 100 },
      },
    ])
  })

  it('says 80 % and 100 % of a budget once each, and again in a new period', () => {
    const said = notices(
      replay([
        { budgets: [budget(10)] },
        { budgets: [budget(80)] },
        { budgets: [budget(95)] },
        { budgets: [budget(100)] },
        { budgets: [budget(130)] },
        { budgets: [budget(85, null, '2026-12')] },
      ]),
    )
    expect(said.map((n) => n.type === 'budget.threshold' && [n.payload.level, n.payload.percent])).toEqual([
      ['warning', 80],
      ['exhausted', 100],
      ['warning', 85],
    ])
  })

  it('says a budget heading to run out within its period once, until it stops heading there', () => {
    const out = '2026-11-20T00:00:00.000Z'
    const said = notices(
      replay([
        { budgets: [budget(10, out)] },
        { budgets: [budget(20, out)] },
        { budgets: [budget(20, null)] },
        { budgets: [budget(30, out)] },
      ]),
    )
    expect(said.map((n) => n.type === 'budget.threshold' && n.payload.level)).toEqual(['projected', 'projected'])
  })

  // properties over arbitrary sequences of observations
  const projectedEnds = fc.array(
    fc.integer({ min: -10, max: 10 }).map((h) => DEADLINE + h * HOUR),
    {
      minLength: 1,
      maxLength: 30,
    },
  )
  const stages = fc.array(fc.option(fc.constantFrom('prep', 'train', 'eval'), { nil: null }), { maxLength: 30 })
  const usages = fc.array(fc.double({ min: 0, max: 200, noNaN: true }), { maxLength: 30 })

  it('deciding again from its own result says nothing (property)', () => {
    fc.assert(
      fc.property(projectedEnds, stages, usages, (ends, names, used) => {
        const last = new Map<string, string>()
        const steps = ends.map((end, i) => ({
          runs: [run(end, names[i] ?? null)],
          budgets: used[i] === undefined ? [] : [budget(used[i] as number)],
        }))
        for (const step of steps) {
          for (const c of decideNotifications({ ...step, last })) last.set(c.subject, c.to)
          expect(decideNotifications({ ...step, last })).toEqual([])
        }
      }),
    )
  })

  it('alternates at-risk and recovered, starting with at-risk (property)', () => {
    fc.assert(
      fc.property(projectedEnds, (ends) => {
        const states = notices(replay(ends.map((end) => ({ runs: [run(end)] })))).map(
          (n) => n.type === 'deadline.at-risk' && n.payload.state,
        )
        states.forEach((state, i) => {
          expect(state).toBe(i % 2 === 0 ? 'at-risk' : 'recovered')
        })
        // the last notice agrees with where the run ended up, give or take the margin
        const final = (ends.at(-1) as number) - DEADLINE
        if (final > 0) expect(states.at(-1)).toBe('at-risk')
        if (final < -10 * 60_000) expect(states.at(-1) ?? 'recovered').toBe('recovered')
      }),
    )
  })

  it('says each budget level at most once while use only grows (property)', () => {
    fc.assert(
      fc.property(usages, (used) => {
        const growing = [...used].sort((a, b) => a - b)
        const levels = notices(replay(growing.map((u) => ({ budgets: [budget(u)] })))).map(
          (n) => n.type === 'budget.threshold' && n.payload.level,
        )
        expect(new Set(levels).size).toBe(levels.length)
        const top = growing.at(-1) ?? 0
        expect(levels.includes('exhausted')).toBe(top >= 100)
        if (top >= 80 && top < 100) expect(levels).toEqual(['warning'])
      }),
    )
  })
})
