/**
 * Named leases as rows: who holds `cluster:<name>`, `run:<id>`, `budget:<project>` or a webhook
 * target, and until when. Only the row operations live here; the takeover rule (a dead local
 * holder, the injected clock) is src/engine/leases.ts's.
 */
import type { Kysely } from 'kysely'
import type { Database } from './database.js'
import { storeCall, storeRead, storeWrite } from './store-calls.js'

export class LeaseRows {
  readonly #db: Kysely<Database>
  readonly #description: string

  constructor(db: Kysely<Database>, description: string) {
    this.#db = db
    this.#description = description
  }

  /**
   * Take or renew a named lease until `expiresAt`. Returns false when another owner holds an
   * unexpired lease: two rpo processes never tick the same run at once.
   */
  async acquire(name: string, owner: string, now: string, expiresAt: string): Promise<boolean> {
    return storeWrite(this.#db, this.#description, async (trx) => {
      const current = await trx.selectFrom('leases').selectAll().where('name', '=', name).executeTakeFirst()
      if (current && current.owner !== owner && current.expires_at > now) return false
      if (current)
        await trx.updateTable('leases').set({ owner, expires_at: expiresAt }).where('name', '=', name).execute()
      else await trx.insertInto('leases').values({ name, owner, expires_at: expiresAt }).execute()
      return true
    })
  }

  async holder(name: string, now: string): Promise<string | null> {
    const record = await this.record(name)
    return record && record.expiresAt > now ? record.owner : null
  }

  /** Who holds `name` and until when, expired or not (null: nobody); the caller applies the takeover rule. */
  async record(name: string): Promise<{ owner: string; expiresAt: string } | null> {
    const row = await storeRead(this.#db, this.#description, (db) =>
      db.selectFrom('leases').selectAll().where('name', '=', name).executeTakeFirst(),
    )
    return row ? { owner: row.owner, expiresAt: row.expires_at } : null
  }

  async release(name: string, owner: string): Promise<void> {
    await storeCall(this.#description, () =>
      this.#db.deleteFrom('leases').where('name', '=', name).where('owner', '=', owner).execute(),
    )
  }
}
