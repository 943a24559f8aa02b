/**
 * The rows of the event log: written inside a caller's transaction, read back (payloads validated
 * against src/events/event-schemas.ts, a damaged row is StoreCorrupted naming the event).
 *
 * Order: a subscriber reads "after the last id it saw", which is only safe if no event with a
 * smaller id can commit later. SQLite serializes writers, so ids commit in order. PostgreSQL hands
 * out bigserial ids at insert and transactions commit in any order, so every transaction that
 * writes events takes one advisory lock first and holds it to commit: ids are drawn and committed
 * one writer at a time. Callers insert events last in their transaction, so the lock is held only
 * for the insert and the commit.
 */
import { type Kysely, sql, type Transaction } from 'kysely'
import { StoreCorrupted } from '../core/errors.js'
import { type NewRpoEvent, type RpoEvent, RpoEventSchema } from '../events/event-schemas.js'
import type { Database, EventTable } from './database.js'
import type { StoreDialect } from './migrations/001-initial.js'

const PG_EVENTS_LOCK = 'rpo:events'
// 7 parameters a row: well under SQLite's 32,766 and PostgreSQL's 65,535 per statement
const ROWS_PER_INSERT = 1000

export async function insertEvents(
  trx: Transaction<Database>,
  dialect: StoreDialect,
  events: readonly NewRpoEvent[],
): Promise<void> {
  if (events.length === 0) return
  if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${PG_EVENTS_LOCK}))`.execute(trx)
  for (let i = 0; i < events.length; i += ROWS_PER_INSERT)
    await trx
      .insertInto('events')
      .values(
        events.slice(i, i + ROWS_PER_INSERT).map((e) => ({
          at: e.at,
          type: e.type,
          project: e.project,
          run_id: e.runId,
          task_id: e.taskId,
          payload: JSON.stringify(e.payload),
        })),
      )
      .execute()
}

export interface EventQuery {
  /** Events after this id (default 0: from the first). */
  readonly afterId?: number
  /** Only these types (default: all). */
  readonly types?: readonly string[]
  /** Only events of these projects (default: all, and events of no project). */
  readonly projects?: readonly string[]
  readonly runId?: string
  /** At most this many (default 1000). */
  readonly limit?: number
  /** The newest `limit` matching events instead of the oldest after `afterId` (still returned in id order). */
  readonly newest?: boolean
}

export async function selectEvents(db: Kysely<Database>, query: EventQuery, limit: number) {
  let select = db.selectFrom('events').selectAll()
  if (query.afterId !== undefined && query.afterId > 0) select = select.where('id', '>', query.afterId)
  if (query.types && query.types.length > 0) select = select.where('type', 'in', [...query.types])
  if (query.projects && query.projects.length > 0) select = select.where('project', 'in', [...query.projects])
  if (query.runId !== undefined) select = select.where('run_id', '=', query.runId)
  const rows = await select
    .orderBy('id', query.newest ? 'desc' : 'asc')
    .limit(limit)
    .execute()
  return query.newest ? rows.reverse() : rows
}

export function toEvent(row: Omit<EventTable, 'id'> & { readonly id: number | string }, description: string): RpoEvent {
  // PostgreSQL hands bigserial ids back as text
  const id = Number(row.id)
  const where = { runId: row.run_id, column: `events.payload of event ${id}` }
  let payload: unknown
  try {
    payload = JSON.parse(row.payload)
  } catch {
    throw new StoreCorrupted(where, 'not JSON', description)
  }
  const parsed = RpoEventSchema.safeParse({
    id,
    at: row.at,
    type: row.type,
    project: row.project,
    runId: row.run_id,
    taskId: row.task_id,
    payload,
  })
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new StoreCorrupted(
      where,
      `not a ${JSON.stringify(row.type)} event rpo writes: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`,
      description,
    )
  }
  return parsed.data
}
