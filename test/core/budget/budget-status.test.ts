/** Where each budget rule stands: per-user vs project usage, weights, commitments, burn rate, caps and windows. */
import { describe, expect, it } from 'vitest'
import { budgetRulesOf } from '../../../src/core/budget/budget-rules.js'
import { computeBudgetStatus, remainingWorstCase } from '../../../src/core/budget/budget-status.js'
import { tresHoursOf } from '../../../src/core/budget/tres-hours.js'
import { chargeOf, gpuRate } from '../policy/enforcement-fixtures.js'

const NOW = Date.parse('2026-11-20T12:00:00Z')

describe('computeBudgetStatus', () => {
  const entries = [
    chargeOf('vision', 6, { user: 'alice', type: 'a100' }),
    chargeOf('vision', 4, { user: 'bob', type: 'a100' }),
    chargeOf('vision', 8, { user: 'bob', type: 'v100' }),
    chargeOf('nlp', 100, { user: 'alice', type: 'a100' }),
  ]

  it('counts all users for a project rule and only that user for a per-user rule', () => {
    const rules = budgetRulesOf('vision', [
      { resource: 'gpu-hours', gpuType: 'a100', amount: 50 },
      { resource: 'gpu-hours', gpuType: 'a100', amount: 20, user: 'alice' },
    ])
    const [project, alice] = computeBudgetStatus({ rules, entries, commitments: [], gpuWeights: {}, now: NOW })
    expect(project).toMatchObject({ ruleId: 'vision.budgets[0]', user: null, used: 10, remaining: 40, state: 'ok' })
    expect(alice).toMatchObject({ ruleId: 'vision.budgets[1]', user: 'alice', used: 6, remaining: 14 })
  })

  it('weights GPU types for an all-types rule and keeps the raw hours beside it', () => {
    const rules = budgetRulesOf('vision', [{ resource: 'gpu-hours', amount: 100 }])
    const [status] = computeBudgetStatus({
      rules,
      entries,
      commitments: [],
      gpuWeights: { vision: { a100: 2, v100: 0.5 } },
      now: NOW,
    })
    expect(status?.used).toBe(10 * 2 + 8 * 0.5)
    expect(status?.usedRaw.gpu).toEqual({ a100: 10, v100: 8 })
    expect(status?.gpuWeights).toEqual({ a100: 2, v100: 0.5 })
  })

  it('commits the worst case still to come of in-flight jobs: rate × (time limit − elapsed)', () => {
    expect(remainingWorstCase(gpuRate('a100', 2), 3600, 4 * 3600).gpu).toEqual({ a100: 6 })
    expect(remainingWorstCase(gpuRate('a100', 2), 5 * 3600, 4 * 3600).gpu).toEqual({ a100: 0 })
    const rules = budgetRulesOf('vision', [
      { resource: 'gpu-hours', amount: 40 },
      { resource: 'gpu-hours', amount: 30, user: 'bob' },
    ])
    const commitments = [
      { project: 'vision', user: 'alice', rate: gpuRate('a100', 2), elapsedSeconds: 3600, timeLimitSeconds: 4 * 3600 },
      { project: 'nlp', user: 'bob', rate: gpuRate('a100', 8), elapsedSeconds: 0, timeLimitSeconds: 3600 },
    ]
    const [project, bob] = computeBudgetStatus({ rules, entries, commitments, gpuWeights: {}, now: NOW })
    expect(project).toMatchObject({ used: 18, committed: 6, remaining: 16 })
    expect(bob).toMatchObject({ used: 12, committed: 0, remaining: 18 })
  })

  it('marks a hard cap reached and a soft cap exceeded once used reaches the effective amount', () => {
    const rules = budgetRulesOf('vision', [
      { resource: 'gpu-hours', gpuType: 'a100', amount: 10, cap: 'hard' },
      { resource: 'gpu-hours', gpuType: 'a100', amount: 9, cap: 'soft' },
      { resource: 'gpu-hours', gpuType: 'v100', amount: 8.5, cap: 'hard' },
    ])
    const states = computeBudgetStatus({ rules, entries, commitments: [], gpuWeights: {}, now: NOW }).map(
      (s) => s.state,
    )
    expect(states).toEqual(['hard-reached', 'soft-exceeded', 'ok'])
  })

  it('gives a burn rate per day of the window so far and the projected exhaustion', () => {
    const rules = budgetRulesOf('vision', [{ resource: 'gpu-hours', amount: 50 }])
    // 19.5 days into November: 39 hours used is 2 per day; 11 left last 5.5 days
    const used = [chargeOf('vision', 39)]
    const [status] = computeBudgetStatus({ rules, entries: used, commitments: [], gpuWeights: {}, now: NOW })
    expect(status?.burnPerDay).toBeCloseTo(2, 10)
    expect(status?.projectedExhaustion).toBe('2026-11-26T00:00:00.000Z')
    const slow = computeBudgetStatus({
      rules,
      entries: [chargeOf('vision', 10)],
      commitments: [],
      gpuWeights: {},
      now: NOW,
    })
    expect(slow[0]?.projectedExhaustion).toBeNull()
    const none = computeBudgetStatus({ rules, entries: [], commitments: [], gpuWeights: {}, now: NOW })
    expect([none[0]?.burnPerDay, none[0]?.projectedExhaustion]).toEqual([0, null])
  })

  it('resets at the month boundary: usage of November is not December’s', () => {
    const rules = budgetRulesOf('vision', [{ resource: 'gpu-hours', amount: 10 }])
    const late = [chargeOf('vision', 10, { at: '2026-11-30T23:30:00.000Z' })]
    const november = computeBudgetStatus({
      rules,
      entries: late,
      commitments: [],
      gpuWeights: {},
      now: Date.parse('2026-11-30T23:59:00Z'),
    })
    expect(november[0]).toMatchObject({ used: 10, state: 'hard-reached' })
    expect(november[0]?.window.label).toBe('month 2026-11')
    const december = computeBudgetStatus({
      rules,
      entries: late,
      commitments: [],
      gpuWeights: {},
      now: Date.parse('2026-12-01T00:30:00Z'),
    })
    expect(december[0]).toMatchObject({ used: 0, remaining: 10, state: 'ok' })
    expect(december[0]?.window.label).toBe('month 2026-12')
  })

  it('counts only the last N days of a rolling window', () => {
    const rules = budgetRulesOf('vision', [{ resource: 'gpu-hours', amount: 10, period: { rollingDays: 7 } }])
    const entries2 = [
      chargeOf('vision', 3, { at: '2026-11-12T00:00:00Z' }),
      chargeOf('vision', 2, { at: '2026-11-19T00:00:00Z' }),
    ]
    const [status] = computeBudgetStatus({ rules, entries: entries2, commitments: [], gpuWeights: {}, now: NOW })
    expect(status?.used).toBe(2)
    expect(status?.burnPerDay).toBeCloseTo(2 / 7, 10)
  })

  it('counts CPU, memory and billing rules from the same charges', () => {
    const rules = budgetRulesOf('vision', [
      { resource: 'cpu-hours', amount: 100 },
      { resource: 'memory-gb-hours', amount: 1000 },
      { resource: 'billing', amount: 10 },
    ])
    const charge = {
      ...chargeOf('vision', 1),
      hours: tresHoursOf({ cpu: 4, mem: 8192, billing: 3 }, 2 * 3600),
    }
    const used = computeBudgetStatus({ rules, entries: [charge], commitments: [], gpuWeights: {}, now: NOW }).map(
      (s) => s.used,
    )
    expect(used).toEqual([8, 16, 6])
  })
})
