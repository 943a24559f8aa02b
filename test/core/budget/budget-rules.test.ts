/** Budget rules from the config, who they cover, and how amounts read in sentences. */
import { describe, expect, it } from 'vitest'
import { periodWindow } from '../../../src/core/budget/budget-period.js'
import { budgetRulesOf, formatAmount, ruleCovers } from '../../../src/core/budget/budget-rules.js'
import { indexUsage, projectUsage } from '../../../src/core/budget/budget-usage.js'
import { chargeOf } from '../policy/enforcement-fixtures.js'

describe('budgetRulesOf', () => {
  it('names rules by their config path and applies the schema defaults', () => {
    const rules = budgetRulesOf('vision', [
      { resource: 'gpu-hours', gpuType: 'a100', amount: 100 },
      { resource: 'cpu-hours', gpuType: 'a100', amount: 5, cap: 'soft', user: 'alice', period: { rollingDays: 7 } },
    ])
    expect(rules).toEqual([
      {
        id: 'vision.budgets[0]',
        project: 'vision',
        user: null,
        resource: 'gpu-hours',
        gpuType: 'a100',
        amount: 100,
        period: 'month',
        cap: 'hard',
      },
      // a GPU type narrows only GPU-hours
      {
        id: 'vision.budgets[1]',
        project: 'vision',
        user: 'alice',
        resource: 'cpu-hours',
        gpuType: null,
        amount: 5,
        period: { rollingDays: 7 },
        cap: 'soft',
      },
    ])
    expect(ruleCovers(rules[0] as (typeof rules)[0], 'vision', 'bob')).toBe(true)
    expect(ruleCovers(rules[1] as (typeof rules)[0], 'vision', 'bob')).toBe(false)
    expect(ruleCovers(rules[1] as (typeof rules)[0], 'nlp', 'alice')).toBe(false)
  })
})

describe('formatAmount', () => {
  it('writes one decimal, like toFixed(1) on ordinary amounts', () => {
    expect([0, 1, 2.25, 10.04, 15, 1234.56, -3.5, -0.04].map(formatAmount)).toEqual([
      '0.0',
      '1.0',
      '2.3',
      '10.0',
      '15.0',
      '1234.6',
      '-3.5',
      '0.0',
    ])
  })
})

describe('projectUsage', () => {
  it('gives every project its usage of one scope in a window: the fair-share input', () => {
    const entries = [
      chargeOf('vision', 10, { type: 'a100' }),
      chargeOf('vision', 4, { type: 'v100' }),
      chargeOf('nlp', 3),
    ]
    const usage = projectUsage(
      indexUsage(entries),
      periodWindow('month', Date.parse('2026-11-20T00:00:00Z')),
      { resource: 'gpu-hours', gpuType: null },
      { vision: { a100: 2 } },
    )
    expect([...usage]).toEqual([
      ['nlp', 3],
      ['vision', 24],
    ])
  })
})
