// Issue #10: one project's bad budget setting (or a deadline that is not a date) must not switch
// budget enforcement off for every project: the decision is still made, the bad project's pending
// work is held with the setting named, and every other project is judged as before.
import { describe, expect, it } from 'vitest'
import { budgetRulesOf } from '../../../src/core/budget/budget-rules.js'
import { decideEnforcement } from '../../../src/core/policy/enforcement-plan.js'
import { actionsOf, chargeOf, explanationOf, jobOf, NOW, projectOf, snapshotOf } from './enforcement-fixtures.js'

const BAD_PERIOD = { from: '2026-05-01', until: '2026-01-01' }

describe('decideEnforcement with a budget it cannot judge', () => {
  const capped = [{ resource: 'gpu-hours' as const, amount: 0, cap: 'hard' as const }]

  it('still holds the capped project and holds the unjudgeable one, naming the setting', () => {
    const snapshot = snapshotOf({
      budgets: { capped, other: [{ resource: 'gpu-hours', amount: 5, period: BAD_PERIOD }] },
      jobs: [
        jobOf('capped', { jobId: 'c1' }),
        jobOf('other', { jobId: 'o1' }),
        jobOf('other', { jobId: 'o2', state: 'held', heldByRpo: true }),
        jobOf('other', { jobId: 'o3', state: 'running', elapsedSeconds: 60 }),
        jobOf('free', { jobId: 'f1' }),
      ],
    })
    const plan = decideEnforcement(snapshot, NOW)
    expect(
      actionsOf(plan, 'hold')
        .map((a) => a.jobId)
        .sort(),
    ).toEqual(['c1', 'o1'])
    expect(actionsOf(plan, 'release')).toEqual([])
    expect(explanationOf(plan, 'c1').reason).toMatch(/project capped would exceed its hard gpu-hours cap/)
    expect(explanationOf(plan, 'o1')).toMatchObject({ decision: 'hold' })
    expect(explanationOf(plan, 'o1').reason).toMatch(
      /^the budget of project other cannot be judged: the gpu-hours budget other\.budgets\[0\] .*2026-05-01\.\.2026-01-01.*must come before until/,
    )
    expect(explanationOf(plan, 'o2')).toMatchObject({ decision: 'keep-held' })
    // a setting rpo cannot read is no reason to destroy running work
    expect(explanationOf(plan, 'o3')).toMatchObject({ decision: 'run' })
    expect(actionsOf(plan, 'requeue')).toEqual([])
    expect(explanationOf(plan, 'f1')).toMatchObject({ decision: 'wait' })
    expect(plan.problems).toEqual([
      expect.objectContaining({ project: 'other', kind: 'budget', source: 'other.budgets[0]' }),
    ])
    expect(plan.statuses.map((s) => s.project)).toEqual(['capped'])
  })

  it('judges a project unjudgeable for a rolling window of 0 days or an amount that is not a number', () => {
    for (const bad of [
      { resource: 'gpu-hours' as const, amount: 5, period: { rollingDays: 0 } },
      { resource: 'gpu-hours' as const, amount: Number.NaN },
      { resource: 'gpu-hours' as const, amount: Number.POSITIVE_INFINITY },
      { resource: 'gpu-hours' as const, amount: -3 },
    ]) {
      const plan = decideEnforcement(
        snapshotOf({ budgets: { capped, other: [bad] }, jobs: [jobOf('capped'), jobOf('other')] }),
        NOW,
      )
      expect(actionsOf(plan, 'hold')).toHaveLength(2)
      expect(plan.problems.map((p) => p.project)).toEqual(['other'])
    }
  })

  it('holds the projects of a ledger entry it cannot read and judges the rest', () => {
    const broken = { ...chargeOf('other', 1), key: 'broken', at: 'yesterday' }
    const plan = decideEnforcement(
      snapshotOf({
        budgets: { capped: [{ resource: 'gpu-hours', amount: 10 }], other: [{ resource: 'gpu-hours', amount: 10 }] },
        entries: [chargeOf('capped', 9.5), broken],
        jobs: [jobOf('capped', { jobId: 'c1' }), jobOf('other', { jobId: 'o1' })],
      }),
      NOW,
    )
    expect(
      actionsOf(plan, 'hold')
        .map((a) => a.jobId)
        .sort(),
    ).toEqual(['c1', 'o1'])
    expect(explanationOf(plan, 'o1').reason).toMatch(
      /ledger entry "broken": its time "yesterday" is not an ISO timestamp/,
    )
  })

  it('ranks a project whose deadline is not a date as having none, and says so', () => {
    const plan = decideEnforcement(
      {
        ...snapshotOf({
          budgets: { capped },
          jobs: [jobOf('capped', { jobId: 'c1' }), jobOf('late', { jobId: 'l1' })],
        }),
        projects: [projectOf('capped'), projectOf('late', { deadline: 'not a date' })],
      },
      NOW,
    )
    expect(actionsOf(plan, 'hold').map((a) => a.jobId)).toEqual(['c1'])
    expect(explanationOf(plan, 'l1')).toMatchObject({ decision: 'wait' })
    expect(plan.projectScores.find((p) => p.project === 'late')?.terms.urgency).toBe(0)
    expect(plan.problems).toEqual([
      expect.objectContaining({ project: 'late', kind: 'deadline', message: expect.stringMatching(/"not a date"/) }),
    ])
  })

  it('makes no difference to projects that can be judged', () => {
    const good = { capped, roomy: [{ resource: 'gpu-hours' as const, amount: 100 }] }
    const jobs = [jobOf('capped', { jobId: 'c1' }), jobOf('roomy', { jobId: 'r1' })]
    const clean = decideEnforcement(snapshotOf({ budgets: good, jobs }), NOW)
    const withBad = decideEnforcement(
      snapshotOf({ budgets: { ...good, other: [{ resource: 'cpu-hours', amount: 1, period: BAD_PERIOD }] }, jobs }),
      NOW,
    )
    expect(withBad.actions).toEqual(clean.actions)
    expect(withBad.explanations).toEqual(clean.explanations)
    expect(budgetRulesOf('roomy', good.roomy)).toHaveLength(1)
  })
})
