// A writer paused inside a transaction on PostgreSQL (SIGSTOP, a stalled VM): its row locks must not
// stall everyone else for ever. rpo's sessions ask the server to end a transaction left idle for
// 10 s, so a lease's successor gets the row well within one cluster lease (20 s), and the paused
// writer's half-done change is rolled back, never committed after the fact.
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StoreTarget } from '../../src/config/load-config.js'
import { openDatabase } from '../../src/store/open-store.js'
import { RunStore } from '../../src/store/run-store.js'
import { postgresHarness } from '../support/store-dialects.js'

const harness = postgresHarness()
let target: StoreTarget
beforeAll(async () => {
  target = await harness.setUp()
})
afterAll(() => harness.tearDown())

describe('a writer paused mid-transaction on PostgreSQL', () => {
  it('loses its locks to the server within a lease period; the other writer goes on, the paused change is not kept', async () => {
    const paused = await openDatabase(target)
    const other = new RunStore(await openDatabase(target))
    try {
      expect(
        await other.leases.acquire('cluster:gpu', 'host-a:1:x', '2026-01-01T00:00:00Z', '2026-01-01T00:00:20Z'),
      ).toBe(true)
      let lockHeld: () => void = () => undefined
      const locked = new Promise<void>((resolve) => {
        lockHeld = resolve
      })
      // the paused holder: it renews its lease row, then stops talking to the server mid-transaction
      const stalled = paused.db
        .transaction()
        .execute(async (trx) => {
          await sql`update leases set expires_at = '2026-01-01T00:01:00Z' where name = 'cluster:gpu'`.execute(trx)
          lockHeld()
          await new Promise((resolve) => setTimeout(resolve, 15_000))
          await sql`select 1`.execute(trx)
        })
        .then(
          () => 'committed',
          () => 'rolled back',
        )
      await locked
      const started = Date.now()
      // the lease has expired by this clock: the successor may take it once the row is free again
      expect(
        await other.leases.acquire('cluster:gpu', 'host-b:2:y', '2026-01-01T00:00:30Z', '2026-01-01T00:00:50Z'),
      ).toBe(true)
      const waitedMs = Date.now() - started
      console.log(`a paused writer's row lock held up its successor for ${waitedMs} ms`)
      expect(waitedMs).toBeLessThan(20_000)
      expect(await stalled).toBe('rolled back')
      expect(await other.leases.record('cluster:gpu')).toEqual({
        owner: 'host-b:2:y',
        expiresAt: '2026-01-01T00:00:50Z',
      })
    } finally {
      await paused.db.destroy()
      await other.close()
    }
  }, 60_000)
})
