/**
 * Lending between projects: a grant moves budget (lent/borrowed/effective), usage above the
 * borrower's own amount is attributed to grants in order, a revoke returns only the unused part,
 * expiry returns it by itself, and the ledger still sums to zero throughout.
 */
import { describe, expect, it } from 'vitest'
import {
  computeGrantStatuses,
  type GrantRequest,
  planGrant,
  planGrantExpiries,
  planRevoke,
} from '../../../src/core/budget/budget-grants.js'
import { checkLedger, type LedgerEntry, ledgerTotal } from '../../../src/core/budget/budget-ledger.js'
import { periodWindow } from '../../../src/core/budget/budget-period.js'
import { budgetRulesOf } from '../../../src/core/budget/budget-rules.js'
import { computeBudgetStatus } from '../../../src/core/budget/budget-status.js'
import { indexUsage } from '../../../src/core/budget/budget-usage.js'
import { isZeroTresHours } from '../../../src/core/budget/tres-hours.js'
import { BudgetError } from '../../../src/core/errors.js'
import { chargeOf } from '../policy/enforcement-fixtures.js'

const A100 = { resource: 'gpu-hours', gpuType: 'a100' } as const
const rules = [
  ...budgetRulesOf('vision', [{ resource: 'gpu-hours', gpuType: 'a100', amount: 20 }]),
  ...budgetRulesOf('nlp', [{ resource: 'gpu-hours', gpuType: 'a100', amount: 10 }]),
]
const base = [
  chargeOf('vision', 5, { at: '2026-11-05T00:00:00.000Z' }),
  chargeOf('nlp', 10, { at: '2026-11-05T00:00:00.000Z' }),
]
const lend: GrantRequest = {
  key: 'grant-1',
  at: '2026-11-10T00:00:00.000Z',
  lender: 'vision',
  borrower: 'nlp',
  scope: A100,
  amount: 6,
  expiresAt: '2026-11-25T00:00:00.000Z',
  actor: 'lead@vision',
}

function statusAt(entries: readonly LedgerEntry[], iso: string) {
  return computeBudgetStatus({ rules, entries, commitments: [], gpuWeights: {}, now: Date.parse(iso) })
}

function grantsAt(entries: readonly LedgerEntry[], iso: string) {
  const now = Date.parse(iso)
  const windows = new Map(rules.map((r) => [r.id, periodWindow(r.period, now)]))
  return computeGrantStatuses(entries, { rules, usage: indexUsage(entries), windows, gpuWeights: {}, now })
}

function errorOf(fn: () => unknown): BudgetError {
  try {
    fn()
  } catch (error) {
    if (error instanceof BudgetError) return error
    throw error
  }
  throw new Error('expected a BudgetError')
}

function expectSound(entries: readonly LedgerEntry[]) {
  expect(checkLedger(entries)).toEqual([])
  expect(isZeroTresHours(ledgerTotal(entries))).toBe(true)
}

describe('planGrant', () => {
  it('moves budget from the lender allocation to the borrower allocation, with scope, expiry and approver', () => {
    const grant = planGrant(lend, statusAt(base, lend.at))
    expect(grant).toEqual({
      key: 'grant-1',
      at: lend.at,
      kind: 'grant',
      from: 'allocation:vision',
      to: 'allocation:nlp',
      hours: { gpu: { a100: 6 }, cpu: 0, memoryGb: 0, billing: 0 },
      ruleScope: A100,
      grantId: 'grant-1',
      expiresAt: lend.expiresAt,
      actor: 'lead@vision',
      note: 'vision lends 6.0 a100 gpu-hours to nlp until 2026-11-25T00:00:00.000Z',
    })
    const [vision, nlp] = statusAt([...base, grant], '2026-11-12T00:00:00.000Z')
    expect(vision).toMatchObject({ amount: 20, lent: 6, borrowed: 0, effective: 14, used: 5, remaining: 9 })
    expect(nlp).toMatchObject({ amount: 10, lent: 0, borrowed: 6, effective: 16, used: 10, state: 'ok' })
    expect(nlp?.grants.map((g) => g.grantId)).toEqual(['grant-1'])
    expectSound([...base, grant])
  })

  it('refuses to lend more than the lender has left, with the numbers', () => {
    const error = errorOf(() => planGrant({ ...lend, amount: 16 }, statusAt(base, lend.at)))
    expect(error.code).toBe('lend-exceeds-remaining')
    expect(error.message).toBe(
      'project vision cannot lend 16.0 a100 gpu-hours: only 15.0 left (effective 20.0 - used 5.0 - committed 0.0, month 2026-11)',
    )
  })

  it.each([
    [{ borrower: 'vision' }, 'project vision cannot lend to itself'],
    [{ amount: 0 }, 'amount must be a positive number, got 0'],
    [{ expiresAt: '2026-11-09T00:00:00.000Z' }, 'must come after 2026-11-10T00:00:00.000Z'],
    [{ scope: { resource: 'gpu-hours', gpuType: 'h100' } }, 'project vision has no h100 gpu-hours budget to lend from'],
    [{ borrower: 'audio' }, 'project audio has no a100 gpu-hours budget for the grant to raise'],
    [{ scope: { resource: 'cpu-hours', gpuType: 'a100' } }, 'gpuType a100 applies only to gpu-hours'],
  ] as const)('refuses an invalid grant %j', (change, message) => {
    const error = errorOf(() => planGrant({ ...lend, ...change } as GrantRequest, statusAt(base, lend.at)))
    expect(error.code).toBe('grant-invalid')
    expect(error.message).toContain(message)
  })
})

describe('attribution, revoke and expiry', () => {
  const grant = planGrant(lend, statusAt(base, lend.at))
  // nlp runs 2 hours past its own 10
  const used = [...base, grant, chargeOf('nlp', 2, { at: '2026-11-12T00:00:00.000Z' })]

  it('attributes the borrower’s usage above its own amount to its grants in grant order', () => {
    const second = planGrant(
      { ...lend, key: 'grant-2', at: '2026-11-11T00:00:00.000Z', amount: 5 },
      statusAt([...base, grant], '2026-11-11T00:00:00.000Z'),
    )
    const more = [...used, second, chargeOf('nlp', 5, { at: '2026-11-13T00:00:00.000Z' })]
    const statuses = grantsAt(more, '2026-11-14T00:00:00.000Z')
    expect(statuses.map((g) => [g.grantId, g.used, g.unused])).toEqual([
      ['grant-1', 6, 0],
      ['grant-2', 1, 4],
    ])
  })

  it('revokes only the unused part: the default is all of it, and the ledger still balances', () => {
    const grants = grantsAt(used, '2026-11-14T00:00:00.000Z')
    expect(grants[0]).toMatchObject({ granted: 6, used: 2, unused: 4, expired: false })
    const revoke = planRevoke(
      { key: 'revoke-1', at: '2026-11-14T00:00:00.000Z', grantId: 'grant-1', actor: 'lead@vision' },
      grants,
    )
    expect(revoke).toMatchObject({
      kind: 'revoke',
      from: 'allocation:nlp',
      to: 'allocation:vision',
      grantId: 'grant-1',
      hours: { gpu: { a100: 4 } },
    })
    const after = [...used, revoke]
    const [vision, nlp] = statusAt(after, '2026-11-14T00:00:00.000Z')
    expect(vision).toMatchObject({ lent: 2, effective: 18 })
    expect(nlp).toMatchObject({ borrowed: 2, effective: 12, used: 12, state: 'hard-reached' })
    expectSound(after)
    const again = errorOf(() =>
      planRevoke(
        { key: 'revoke-2', at: '2026-11-14T00:00:00.000Z', grantId: 'grant-1', actor: 'x' },
        grantsAt(after, '2026-11-14T00:00:00.000Z'),
      ),
    )
    expect(again.code).toBe('revoke-exceeds-unused')
  })

  it('refuses to revoke more than is unused, an unknown grant, or an expired one', () => {
    const grants = grantsAt(used, '2026-11-14T00:00:00.000Z')
    const tooMuch = errorOf(() =>
      planRevoke({ key: 'r', at: '2026-11-14T00:00:00.000Z', grantId: 'grant-1', amount: 5, actor: 'x' }, grants),
    )
    expect(tooMuch.code).toBe('revoke-exceeds-unused')
    expect(tooMuch.message).toBe(
      'cannot revoke 5.0 a100 gpu-hours of grant grant-1: nlp used 2.0 of its 6.0, so only 4.0 is unused',
    )
    expect(
      errorOf(() => planRevoke({ key: 'r', at: '2026-11-14T00:00:00.000Z', grantId: 'nope', actor: 'x' }, grants)).code,
    ).toBe('grant-not-found')
    const late = grantsAt(used, '2026-11-26T00:00:00.000Z')
    const expired = errorOf(() =>
      planRevoke({ key: 'r', at: '2026-11-26T00:00:00.000Z', grantId: 'grant-1', actor: 'x' }, late),
    )
    expect(expired.code).toBe('grant-expired')
  })

  it('returns the unused part at expiry; usage after expiry is not the grant’s', () => {
    const afterExpiry = [...used, chargeOf('nlp', 3, { at: '2026-11-26T00:00:00.000Z' })]
    const grants = grantsAt(afterExpiry, '2026-11-27T00:00:00.000Z')
    expect(grants[0]).toMatchObject({ expired: true, used: 2, unused: 0, returnedAtExpiry: 4, contribution: 2 })
    const [vision, nlp] = statusAt(afterExpiry, '2026-11-27T00:00:00.000Z')
    expect(vision).toMatchObject({ lent: 2, effective: 18 })
    expect(nlp).toMatchObject({ borrowed: 2, effective: 12, used: 15, state: 'hard-reached' })

    const returns = planGrantExpiries(grants)
    expect(returns).toMatchObject([
      { key: 'expire:grant-1', kind: 'revoke', at: lend.expiresAt, actor: 'rpo', hours: { gpu: { a100: 4 } } },
    ])
    const written = [...afterExpiry, ...returns]
    expectSound(written)
    // writing the return changes no figure, and it is written once
    const [vision2, nlp2] = statusAt(written, '2026-11-27T00:00:00.000Z')
    expect([vision2?.effective, nlp2?.effective]).toEqual([18, 12])
    expect(planGrantExpiries(grantsAt(written, '2026-11-27T00:00:00.000Z'))).toEqual([])
  })

  it('raises only the month it was made in', () => {
    const [vision, nlp] = statusAt(used, '2026-12-02T00:00:00.000Z')
    expect([vision?.lent, nlp?.borrowed, nlp?.effective]).toEqual([0, 0, 10])
  })
})
