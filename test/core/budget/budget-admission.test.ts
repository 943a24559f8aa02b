/** Admission against hard and soft caps, one-off and incremental (BudgetBook), with sentences that carry the numbers. */
import { describe, expect, it } from 'vitest'
import { admit, BudgetBook } from '../../../src/core/budget/budget-admission.js'
import { budgetRulesOf } from '../../../src/core/budget/budget-rules.js'
import { computeBudgetStatus } from '../../../src/core/budget/budget-status.js'
import { scaleTresHours, tresHoursOf } from '../../../src/core/budget/tres-hours.js'
import { chargeOf, gpuRate } from '../policy/enforcement-fixtures.js'

const NOW = Date.parse('2026-11-20T12:00:00Z')
const running = {
  project: 'vision',
  user: 'bob',
  rate: gpuRate('a100', 1),
  elapsedSeconds: 0,
  timeLimitSeconds: 2 * 3600,
}

function statuses(budgets: Parameters<typeof budgetRulesOf>[1], used = 10) {
  return computeBudgetStatus({
    rules: budgetRulesOf('vision', budgets),
    entries: used > 0 ? [chargeOf('vision', used, { user: 'alice' })] : [],
    commitments: [running],
    gpuWeights: {},
    now: NOW,
  })
}

const fourHours = { project: 'vision', user: 'alice', worstCase: scaleTresHours(gpuRate('a100', 1), 4) }

describe('admit', () => {
  it('refuses work whose worst case would cross a hard cap, saying so with the numbers', () => {
    expect(admit(statuses([{ resource: 'gpu-hours', amount: 15 }]), fourHours)).toEqual({
      kind: 'refuse',
      ruleId: 'vision.budgets[0]',
      reason:
        'project vision would exceed its hard gpu-hours cap: used 10.0 + committed 2.0 + this job 4.0 > 15.0 (month 2026-11)',
    })
  })

  it('admits work that exactly fills the cap, and names the tightest hard rule', () => {
    const decision = admit(
      statuses([
        { resource: 'gpu-hours', amount: 16 },
        { resource: 'gpu-hours', amount: 100 },
      ]),
      fourHours,
    )
    expect(decision).toEqual({
      kind: 'admit',
      overSoft: false,
      softReasons: [],
      tightest: {
        ruleId: 'vision.budgets[0]',
        reason: "project vision's hard gpu-hours cap: used 10.0 + committed 2.0 + this job 4.0 <= 16.0 (month 2026-11)",
      },
    })
  })

  it('admits over a soft cap, marked over-soft with the reason', () => {
    const decision = admit(statuses([{ resource: 'gpu-hours', amount: 15, cap: 'soft' }]), fourHours)
    expect(decision).toMatchObject({ kind: 'admit', overSoft: true, tightest: null })
    expect(decision.kind === 'admit' && decision.softReasons).toEqual([
      {
        ruleId: 'vision.budgets[0]',
        reason:
          'project vision would exceed its soft gpu-hours cap: used 10.0 + committed 2.0 + this job 4.0 > 15.0 (month 2026-11)',
      },
    ])
  })

  it('applies a per-user rule only to that user', () => {
    const perUser = statuses([{ resource: 'gpu-hours', amount: 11, user: 'alice' }])
    expect(admit(perUser, fourHours).kind).toBe('refuse')
    expect(admit(perUser, { ...fourHours, user: 'carol' }).kind).toBe('admit')
    const refusal = admit(perUser, fourHours)
    expect(refusal.kind === 'refuse' && refusal.reason).toBe(
      'user alice of project vision would exceed its hard gpu-hours cap: used 10.0 + committed 0.0 + this job 4.0 > 11.0 (month 2026-11)',
    )
  })

  it('never refuses a job that uses nothing the rule counts, even at the cap', () => {
    const cpuOnly = { ...fourHours, worstCase: tresHoursOf({ cpu: 4 }, 4 * 3600) }
    expect(admit(statuses([{ resource: 'gpu-hours', amount: 5 }]), cpuOnly).kind).toBe('admit')
    expect(admit(statuses([{ resource: 'cpu-hours', amount: 5 }], 0), cpuOnly).kind).toBe('refuse')
  })

  it('refuses on a typed rule only jobs of that type', () => {
    const typed = statuses([{ resource: 'gpu-hours', gpuType: 'a100', amount: 12 }])
    expect(admit(typed, fourHours).kind).toBe('refuse')
    expect(admit(typed, { ...fourHours, worstCase: scaleTresHours(gpuRate('v100', 1), 4) }).kind).toBe('admit')
  })
})

describe('BudgetBook', () => {
  it('reserves as it admits, so two jobs that each fit do not together cross the cap', () => {
    const book = new BudgetBook(statuses([{ resource: 'gpu-hours', amount: 20 }]))
    const job = { ...fourHours, worstCase: scaleTresHours(gpuRate('a100', 1), 5) }
    expect(book.check(job).kind).toBe('admit')
    book.reserve(job)
    expect(book.check(job).kind).toBe('refuse')
  })

  it('counts accrued, not yet charged usage', () => {
    const book = new BudgetBook(statuses([{ resource: 'gpu-hours', amount: 16 }]))
    book.accrue('vision', 'bob', gpuRate('a100', 1))
    const decision = book.check(fourHours)
    expect(decision.kind === 'refuse' && decision.reason).toContain('used 11.0 + committed 2.0 + this job 4.0 > 16.0')
  })
})
