// judgeBudgets: a rule, ledger entry or status that cannot be computed makes its own project
// unjudgeable (a problem naming the setting), never every project, and never "no budget".
import { describe, expect, it } from 'vitest'
import { judgeBudgets } from '../../../src/core/budget/budget-judgement.js'
import { type BudgetRule, budgetRulesOf } from '../../../src/core/budget/budget-rules.js'
import { computeBudgetStatus } from '../../../src/core/budget/budget-status.js'
import { chargeOf } from '../policy/enforcement-fixtures.js'

const NOW = Date.parse('2026-11-20T12:00:00Z')
const good = [
  ...budgetRulesOf('vision', [{ resource: 'gpu-hours', amount: 50 }]),
  ...budgetRulesOf('nlp', [{ resource: 'gpu-hours', amount: 20 }]),
]
const entries = [chargeOf('vision', 6), chargeOf('nlp', 4)]
const input = (rules: readonly BudgetRule[], ledger = entries) => ({
  rules,
  entries: ledger,
  commitments: [],
  gpuWeights: {},
  now: NOW,
})

describe('judgeBudgets', () => {
  it('is computeBudgetStatus when everything can be judged', () => {
    expect(judgeBudgets(input(good))).toEqual({ statuses: computeBudgetStatus(input(good)), problems: [] })
  })

  it('leaves out only the project of a bad rule, with a sentence naming the setting and its origin', () => {
    const bad: BudgetRule = {
      ...budgetRulesOf('other', [{ resource: 'gpu-hours', amount: 5 }])[0]!,
      id: 'other.set[0]',
      period: { from: '2026-05-01', until: '2026-01-01' },
      origin: 'rpo budget set by mallory at 2026-11-20T11:00:00.000Z',
    }
    const { statuses, problems } = judgeBudgets(input([...good, bad]))
    expect(statuses).toEqual(computeBudgetStatus(input(good)))
    expect(problems).toEqual([
      {
        project: 'other',
        kind: 'budget',
        source: 'other.set[0]',
        message:
          'the budget of project other cannot be judged: the gpu-hours budget other.set[0] of project other (5 per 2026-05-01..2026-01-01, hard cap; rpo budget set by mallory at 2026-11-20T11:00:00.000Z): budget period from "2026-05-01" must come before until "2026-01-01"',
      },
    ])
  })

  it('judges every rule of a project with one bad rule unjudgeable', () => {
    const rules = [
      ...good,
      ...budgetRulesOf('nlp', [{ resource: 'cpu-hours', amount: 1, period: { rollingDays: -1 } }]),
    ]
    const { statuses, problems } = judgeBudgets(input(rules))
    expect(statuses.map((s) => s.project)).toEqual(['vision'])
    expect(problems.map((p) => p.project)).toEqual(['nlp'])
  })

  it.each([
    ['a resource it does not know', { resource: 'gpus' }, /"gpus" is not a budget resource/],
    ['a cap that is neither', { cap: 'maybe' }, /its cap "maybe" is neither hard nor soft/],
    ['an absurd amount', { amount: 1e300 }, /more than the largest allowed/],
    ['an empty user', { user: '' }, /its user name is empty/],
    ['a period that is not one', { period: { weeks: 2 } }, /budget period/],
  ])('refuses a rule with %s', (_, change, message) => {
    const bad = { ...budgetRulesOf('other', [{ resource: 'gpu-hours', amount: 5 }])[0]!, ...change } as BudgetRule
    const { statuses, problems } = judgeBudgets(input([...good, bad]))
    expect(statuses).toHaveLength(2)
    expect(problems).toEqual([expect.objectContaining({ project: 'other', message: expect.stringMatching(message) })])
  })

  it('names a ledger entry it cannot read against the projects it moves between', () => {
    const grant = {
      ...chargeOf('nlp', 1),
      key: 'g1',
      kind: 'grant' as const,
      from: 'allocation:nlp' as const,
      to: 'allocation:other' as const,
      expiresAt: 'never',
    }
    const { statuses, problems } = judgeBudgets(input(good, [...entries, grant]))
    expect(statuses.map((s) => s.project)).toEqual(['vision'])
    expect(problems.map((p) => [p.project, p.source])).toEqual([
      ['nlp', 'g1'],
      ['other', 'g1'],
    ])
    expect(problems[0]?.message).toMatch(/ledger entry "g1": its expiry "never" is not an ISO timestamp/)
  })

  it('counts the readable entries after an unreadable one at their own times', () => {
    // the times of the entries are read once and kept beside them: an entry left out must not
    // shift a later entry onto an earlier one's time (last month's charge would count this month)
    const unreadable = { ...chargeOf('nlp', 1), key: 'bad', at: 'yesterday' }
    const ledger = [
      chargeOf('vision', 6, { at: '2026-11-02T00:00:00.000Z' }),
      unreadable,
      chargeOf('vision', 100, { at: '2026-10-15T00:00:00.000Z' }),
      chargeOf('vision', 3, { at: '2026-11-15T00:00:00.000Z' }),
    ]
    const { statuses, problems } = judgeBudgets(input(good, ledger))
    expect(problems.map((p) => [p.project, p.source])).toEqual([['nlp', 'bad']])
    expect(statuses.map((s) => [s.project, s.used])).toEqual([['vision', 9]])
  })

  it('refuses to read a status whose numbers are not finite: NaN would admit anything', () => {
    const nan = { ...chargeOf('nlp', 1), key: 'nan' }
    const broken = { ...nan, hours: { ...nan.hours, gpu: { a100: Number.NaN } } }
    const { statuses, problems } = judgeBudgets(input(good, [...entries, broken]))
    expect(statuses.map((s) => s.project)).toEqual(['vision'])
    expect(problems[0]?.message).toMatch(/ledger entry "nan": its hours are not finite/)
  })
})
