/**
 * The event log's repository: reading events by id and filter, appending events that belong to no
 * other write (a tick error), and telling this process's subscribers when events were committed.
 * Events that describe a write of the run store are inserted by the run store in that write's own
 * transaction (event-rows.ts) and announced here after it commits.
 */
import type { Kysely } from 'kysely'
import { RpoError } from '../core/errors.js'
import type { NewRpoEvent, RpoEvent } from '../events/event-schemas.js'
import type { Database } from './database.js'
import { type EventQuery, insertEvents, selectEvents, toEvent } from './event-rows.js'
import type { StoreDialect } from './migrations/001-initial.js'
import { rowLimit } from './row-limit.js'
import { storeCall, storeWrite } from './store-calls.js'

export type { EventQuery } from './event-rows.js'

export class EventStore {
  readonly #db: Kysely<Database>
  readonly #dialect: StoreDialect
  readonly #description: string
  readonly #listeners = new Set<() => void>()

  constructor(db: Kysely<Database>, dialect: StoreDialect, description: string) {
    this.#db = db
    this.#dialect = dialect
    this.#description = description
  }

  async list(query: EventQuery = {}): Promise<RpoEvent[]> {
    const limit = rowLimit(query.limit ?? 1000)
    const afterId = query.afterId ?? 0
    if (!Number.isSafeInteger(afterId) || afterId < 0)
      throw new RpoError('usage', `an event id to read after must be a whole number of 0 or more, got ${afterId}`)
    return storeCall(this.#description, async () => {
      const rows = await selectEvents(this.#db, query, limit)
      return rows.map((row) => toEvent(row, this.#description))
    })
  }

  /** The newest event's id (0 when there is none). */
  async lastId(): Promise<number> {
    return storeCall(this.#description, async () => {
      const row = await this.#db
        .selectFrom('events')
        .select((eb) => eb.fn.max('id').as('id'))
        .executeTakeFirst()
      return Number(row?.id ?? 0)
    })
  }

  /**
   * Append events in a transaction of their own. An event of a run whose project it does not say
   * (null) is given the run's project.
   */
  async append(events: readonly NewRpoEvent[]): Promise<void> {
    if (events.length === 0) return
    await storeWrite(this.#db, this.#description, async (trx) => {
      const runIds = [...new Set(events.flatMap((e) => (e.runId !== null && e.project === null ? [e.runId] : [])))]
      const projects = new Map<string, string | null>()
      if (runIds.length > 0) {
        const rows = await trx.selectFrom('runs').select(['id', 'project']).where('id', 'in', runIds).execute()
        for (const row of rows) projects.set(row.id, row.project)
      }
      const filled = events.map((e) =>
        e.runId !== null && e.project === null ? { ...e, project: projects.get(e.runId) ?? null } : e,
      )
      await insertEvents(trx, this.#dialect, filled)
    })
    this.committed()
  }

  /** Called after a transaction that inserted events committed: wakes this process's followers. */
  committed(): void {
    for (const listener of this.#listeners) listener()
  }

  /** Be told when events were committed through this store (other processes' are found by polling). */
  onCommitted(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}
