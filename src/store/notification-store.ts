/**
 * The notification side of the store: what was last notified of each subject, the notifications
 * themselves written with that state in one transaction, and the webhooks' delivery cursors.
 *
 * Once across processes: a notification is stored only if the subject's state is still the one the
 * decision was made from (a compare-and-set: an insert that does nothing when a row appeared, an
 * update guarded by the old state). Two processes deciding the same change at once both try; the
 * second waits for the first's row (PostgreSQL's row lock, SQLite's one writer), finds the state
 * changed and stores nothing.
 */
import type { Kysely, Transaction } from 'kysely'
import type { NewRpoEvent } from '../events/event-schemas.js'
import type { Database } from './database.js'
import { insertEvents } from './event-rows.js'
import type { EventStore } from './event-store.js'
import type { StoreDialect } from './migrations/001-initial.js'
import { storeCall, storeWrite } from './store-calls.js'

/** A subject's change of state, with the notification that says it (null: recorded silently). */
export interface NotificationChange {
  readonly subject: string
  /** The state the decision was made from (null: never notified). */
  readonly from: string | null
  readonly to: string
  readonly event: NewRpoEvent | null
}

export class NotificationStore {
  readonly #db: Kysely<Database>
  readonly #dialect: StoreDialect
  readonly #description: string
  readonly #events: EventStore

  constructor(db: Kysely<Database>, dialect: StoreDialect, description: string, events: EventStore) {
    this.#db = db
    this.#dialect = dialect
    this.#description = description
    this.#events = events
  }

  /** The last notified state of each subject asked about that has one. */
  async states(subjects: readonly string[]): Promise<Map<string, string>> {
    const states = new Map<string, string>()
    await storeCall(this.#description, async () => {
      // a few hundred per query keeps every statement well under the dialects' parameter limits
      for (let i = 0; i < subjects.length; i += 500) {
        const rows = await this.#db
          .selectFrom('notification_states')
          .select(['subject', 'state'])
          .where('subject', 'in', subjects.slice(i, i + 500))
          .execute()
        for (const row of rows) states.set(row.subject, row.state)
      }
    })
    return states
  }

  /**
   * Apply each change whose subject is still in its `from` state, with its event, each in its own
   * transaction (one lost race does not undo the others). Returns the changes applied.
   */
  async apply(changes: readonly NotificationChange[], at: string): Promise<NotificationChange[]> {
    const applied: NotificationChange[] = []
    try {
      await storeCall(this.#description, async () => {
        for (const change of changes) {
          const won = await this.#db.transaction().execute(async (trx) => {
            if (!(await compareAndSet(trx, change, at))) return false
            if (change.event) await insertEvents(trx, this.#dialect, [change.event])
            return true
          })
          if (won) applied.push(change)
        }
      })
    } finally {
      // the changes committed before a failure are told to subscribers all the same
      if (applied.some((c) => c.event !== null)) this.#events.committed()
    }
    return applied
  }

  /** A webhook's cursor: the last event id it finished with, or null before its first start. */
  async cursor(hook: string): Promise<number | null> {
    return storeCall(this.#description, async () => {
      const row = await this.#db
        .selectFrom('webhook_cursors')
        .select('last_event_id')
        .where('hook', '=', hook)
        .executeTakeFirst()
      return row ? Number(row.last_event_id) : null
    })
  }

  /**
   * Move a webhook's cursor from `from` (null: none yet) to `to`, with the event that says why when
   * there is one (a `webhook.failed`) in the same transaction: a crash cannot record the failure
   * twice or move on without it. False when the cursor was not at `from`: another dispatcher moved
   * it, and this one must not deliver on from a stale place.
   */
  async moveCursor(hook: string, from: number | null, to: number, at: string, event?: NewRpoEvent): Promise<boolean> {
    const moved = await storeWrite(this.#db, this.#description, async (trx) => {
      const result =
        from === null
          ? await trx
              .insertInto('webhook_cursors')
              .values({ hook, last_event_id: to, at })
              .onConflict((oc) => oc.column('hook').doNothing())
              .executeTakeFirst()
          : await trx
              .updateTable('webhook_cursors')
              .set({ last_event_id: to, at })
              .where('hook', '=', hook)
              .where('last_event_id', '=', from)
              .executeTakeFirst()
      const changed =
        'numInsertedOrUpdatedRows' in result
          ? Number(result.numInsertedOrUpdatedRows ?? 0)
          : Number((result as { numUpdatedRows: bigint }).numUpdatedRows)
      if (changed !== 1) return false
      if (event) await insertEvents(trx, this.#dialect, [event])
      return true
    })
    if (moved && event) this.#events.committed()
    return moved
  }
}

async function compareAndSet(trx: Transaction<Database>, change: NotificationChange, at: string): Promise<boolean> {
  if (change.from === null) {
    const result = await trx
      .insertInto('notification_states')
      .values({ subject: change.subject, state: change.to, at })
      .onConflict((oc) => oc.column('subject').doNothing())
      .executeTakeFirst()
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1
  }
  const result = await trx
    .updateTable('notification_states')
    .set({ state: change.to, at })
    .where('subject', '=', change.subject)
    .where('state', '=', change.from)
    .executeTakeFirst()
  return Number(result.numUpdatedRows) === 1
}
