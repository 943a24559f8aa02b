/** The double-entry ledger: idempotent charging per job run, balances, and the invariant check. */
import { describe, expect, it } from 'vitest'
import {
  allocationAccount,
  chargedByUsageKey,
  checkLedger,
  type LedgerEntry,
  ledgerBalances,
  ledgerTotal,
  parseAccount,
  planCharges,
  type UsageObservation,
  usageAccount,
} from '../../../src/core/budget/budget-ledger.js'
import { tresHoursOf } from '../../../src/core/budget/tres-hours.js'

const A100x2 = { cpu: 16, mem: 65_536, 'gres/gpu': 2, 'gres/gpu:a100': 2 }

function observe(usageKey: string, hoursRun: number, at: string, user: string | null = 'alice'): UsageObservation {
  return { usageKey, project: 'vision', user, at, hours: tresHoursOf(A100x2, hoursRun * 3600) }
}

describe('accounts', () => {
  it('names allocation and usage accounts per project and user, and parses them back', () => {
    expect(allocationAccount('vision')).toBe('allocation:vision')
    expect(usageAccount('vision', 'alice')).toBe('usage:vision/alice')
    expect(parseAccount('usage:vision/alice')).toEqual({ kind: 'usage', project: 'vision', user: 'alice' })
    expect(parseAccount('allocation:nlp')).toEqual({ kind: 'allocation', project: 'nlp', user: null })
  })
})

describe('planCharges', () => {
  it('charges a running job its cumulative usage as deltas, from allocation to usage', () => {
    const first = planCharges([observe('rpo.r.train.1#0', 1, '2026-11-10T01:00:00Z')], new Map())
    expect(first).toEqual([
      {
        key: 'charge:rpo.r.train.1#0#1',
        at: '2026-11-10T01:00:00Z',
        kind: 'charge',
        from: 'allocation:vision/alice',
        to: 'usage:vision/alice',
        hours: { gpu: { a100: 2 }, cpu: 16, memoryGb: 64, billing: 0 },
        usageKey: 'rpo.r.train.1#0',
        actor: 'rpo',
        note: 'usage of rpo.r.train.1#0 up to 2026-11-10T01:00:00Z',
      },
    ])
    const second = planCharges([observe('rpo.r.train.1#0', 2.5, '2026-11-10T02:30:00Z')], chargedByUsageKey(first))
    expect(second).toHaveLength(1)
    expect(second[0]?.key).toBe('charge:rpo.r.train.1#0#2')
    expect(second[0]?.hours).toEqual({ gpu: { a100: 3 }, cpu: 24, memoryGb: 96, billing: 0 })
    expect(ledgerBalances([...first, ...second]).get('usage:vision/alice')?.gpu.a100).toBe(5)
  })

  it('is idempotent: the same observations twice (a finished job polled again) charge nothing new', () => {
    const observations = [observe('k1#0', 3, '2026-11-10T03:00:00Z'), observe('k2#0', 1, '2026-11-10T03:00:00Z')]
    const entries = planCharges(observations, new Map())
    expect(entries).toHaveLength(2)
    expect(planCharges(observations, chargedByUsageKey(entries))).toEqual([])
  })

  it('keeps the earlier runs of a requeued job charged: each run has its own usageKey', () => {
    const run0 = planCharges([observe('rpo.r.train.1#0', 2, '2026-11-10T02:00:00Z')], new Map())
    // after the requeue the scheduler's elapsed restarts from zero for the new run
    const run1 = planCharges([observe('rpo.r.train.1#1', 0.5, '2026-11-10T03:00:00Z')], chargedByUsageKey(run0))
    expect(run1.map((e) => e.hours.gpu.a100)).toEqual([1])
    expect(ledgerBalances([...run0, ...run1]).get('usage:vision/alice')?.gpu.a100).toBe(5)
  })

  it('never un-charges when a later figure is smaller, and charges only meters that grew', () => {
    const entries = planCharges([observe('k#0', 2, '2026-11-10T02:00:00Z')], new Map())
    const smaller = planCharges([observe('k#0', 1, '2026-11-10T03:00:00Z')], chargedByUsageKey(entries))
    expect(smaller).toEqual([])
    const billingOnly = planCharges(
      [{ ...observe('k#0', 2, '2026-11-10T04:00:00Z'), hours: { ...tresHoursOf(A100x2, 7200), billing: 9 } }],
      chargedByUsageKey(entries),
    )
    expect(billingOnly.map((e) => e.hours)).toEqual([{ gpu: {}, cpu: 0, memoryGb: 0, billing: 9 }])
  })

  it('folds several observations of one run in time order, in any input order', () => {
    const later = observe('k#0', 3, '2026-11-10T03:00:00Z')
    const earlier = observe('k#0', 1, '2026-11-10T01:00:00Z')
    const entries = planCharges([later, earlier], new Map())
    expect(entries.map((e) => [e.key, e.at, e.hours.gpu.a100])).toEqual([
      ['charge:k#0#1', '2026-11-10T01:00:00Z', 2],
      ['charge:k#0#2', '2026-11-10T03:00:00Z', 4],
    ])
  })

  it('charges a project account when the job has no user', () => {
    const [entry] = planCharges([observe('k#0', 1, '2026-11-10T01:00:00Z', null)], new Map())
    expect([entry?.from, entry?.to]).toEqual(['allocation:vision', 'usage:vision'])
  })
})

describe('checkLedger', () => {
  const charges = planCharges(
    [observe('a#0', 1, '2026-11-10T01:00:00Z'), observe('b#0', 2, '2026-11-10T01:00:00Z', 'bob')],
    new Map(),
  )

  it('finds nothing wrong in a sound ledger, whose meters sum to zero', () => {
    expect(checkLedger(charges)).toEqual([])
    expect(ledgerTotal(charges)).toEqual({ gpu: { a100: 0 }, cpu: 0, memoryGb: 0, billing: 0 })
  })

  it('reports duplicate keys, negative hours, charges between the wrong accounts and unknown grants', () => {
    const first = charges[0] as LedgerEntry
    const broken: LedgerEntry[] = [
      first,
      first,
      { ...first, key: 'neg', hours: { ...first.hours, cpu: -1 } },
      { ...first, key: 'cross', to: 'usage:nlp/alice' },
      { ...first, key: 'rv', kind: 'revoke', grantId: 'nope', from: 'allocation:nlp', to: 'allocation:vision' },
    ]
    const problems = checkLedger(broken)
    expect(problems).toContainEqual({ key: first.key, problem: 'duplicate key' })
    expect(problems).toContainEqual({ key: 'neg', problem: 'hours must be finite and non-negative on every meter' })
    expect(problems).toContainEqual({
      key: 'cross',
      problem: 'a charge must move from allocation:<owner> to usage:<owner>',
    })
    expect(problems).toContainEqual({ key: 'rv', problem: 'revokes unknown grant "nope"' })
  })
})
