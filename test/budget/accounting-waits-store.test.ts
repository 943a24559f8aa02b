/**
 * The jobs awaiting their accounting figure, as the store keeps them on SQLite and PostgreSQL: a
 * wait is written in the same transaction as its provisional charge, listed per cluster until its
 * grace period ends, kept as first written when written again, and dropped once settled or expired.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LedgerEntry } from '../../src/core/budget/budget-ledger.js'
import type { AccountingWait } from '../../src/store/budget-store.js'
import type { RunStore } from '../../src/store/run-store.js'
import { openRunStore, STORE_DIALECTS } from '../support/store-dialects.js'

const T = Date.parse('2026-11-16T08:00:00Z')
const iso = (minutes: number) => new Date(T + minutes * 60_000).toISOString()

function wait(key: string, cluster: string, endedMinute: number): AccountingWait {
  return {
    submissionKey: key,
    cluster,
    jobId: `job-${key}`,
    usageKey: `${key}@${iso(0)}`,
    project: 'p',
    user: 'ann',
    endedAt: iso(endedMinute),
    until: iso(endedMinute + 10),
  }
}

function charge(key: string): LedgerEntry {
  return {
    key: `charge:${key}@${iso(0)}#1`,
    at: iso(1),
    kind: 'charge',
    from: 'allocation:p/ann',
    to: 'usage:p/ann',
    hours: { gpu: { untyped: 1 }, cpu: 2, memoryGb: 0, billing: 0 },
    usageKey: `${key}@${iso(0)}`,
    actor: 'rpo',
    note: 'test',
  }
}

describe.each(STORE_DIALECTS.map((make) => ({ make, name: make().name })))('a $name store', ({ make }) => {
  const harness = make()
  let store: RunStore

  beforeAll(async () => {
    store = await openRunStore(await harness.setUp())
  })

  afterAll(async () => {
    await store.close()
    await harness.tearDown()
  })

  it('keeps a job awaiting accounting per cluster, with its charge, until settled or past its grace', async () => {
    const keys = (list: AccountingWait[]) => list.map((w) => w.submissionKey)
    await store.budgets.recordCharges({
      entries: [charge('a'), charge('b')],
      awaitAccounting: [wait('a', 'gpu', 1), wait('b', 'gpu', 2), wait('c', 'cpu', 1)],
    })
    expect(await store.budgets.listAccountingWaits('gpu', iso(3))).toEqual([wait('a', 'gpu', 1), wait('b', 'gpu', 2)])
    expect(keys(await store.budgets.listAccountingWaits('cpu', iso(3)))).toEqual(['c'])
    expect((await store.budgets.listEntries()).map((e) => e.key)).toEqual([charge('a').key, charge('b').key])

    // written again (a later round saw the same ending): the first wait and the first charge stay
    await store.budgets.recordCharges({ entries: [charge('a')], awaitAccounting: [wait('a', 'gpu', 5)] })
    expect((await store.budgets.listAccountingWaits('gpu', iso(3)))[0]).toEqual(wait('a', 'gpu', 1))
    expect(await store.budgets.listEntries()).toHaveLength(2)

    // past a's grace (ended at 1, until 11) it is no longer listed, even before it is dropped
    expect(keys(await store.budgets.listAccountingWaits('gpu', iso(11)))).toEqual(['b'])

    await store.budgets.recordCharges({ entries: [], settled: ['b'], expiredBy: iso(11) })
    expect(await store.budgets.listAccountingWaits('gpu', iso(0))).toEqual([])
    expect(await store.budgets.listAccountingWaits('cpu', iso(0))).toEqual([])
  })
})
