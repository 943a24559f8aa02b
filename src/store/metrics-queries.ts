/**
 * The aggregates `/metrics` reads (src/metrics): counts grouped in the database, one query each,
 * so a scrape costs the same few queries whatever the history holds. Read only.
 *
 * Events are counted by type string and payload fields, without validating payloads against the
 * event schemas: a type this rpo does not know yet (another version writes it) is counted, not an
 * error, and an unknown type simply has no rows.
 */
import { type Kysely, type RawBuilder, sql } from 'kysely'
import { RpoError } from '../core/errors.js'
import type { RunState } from '../core/scheduling/run-snapshot.js'
import type { Database } from './database.js'
import type { StoreDialect } from './migrations/001-initial.js'
import { storeRead } from './store-calls.js'

/** Runs still in hand: their tasks are the work `rpo_tasks` counts. */
export const UNFINISHED_RUN_STATES: readonly RunState[] = ['running', 'interrupting', 'interrupted', 'cancelling']

export interface StateCount {
  /** null: runs of no project. */
  readonly project: string | null
  readonly state: string
  readonly count: number
}

export interface EventCount {
  /** The payload fields asked for, in order; '' where an event has no such field. */
  readonly fields: readonly string[]
  readonly count: number
}

export interface EventCounts {
  readonly counts: readonly EventCount[]
  /** The largest id counted (the `afterId` given when none was): count from it next time. */
  readonly lastId: number
}

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export class MetricsQueries {
  readonly #db: Kysely<Database>
  readonly #dialect: StoreDialect
  readonly #description: string

  constructor(db: Kysely<Database>, dialect: StoreDialect, description: string) {
    this.#db = db
    this.#dialect = dialect
    this.#description = description
  }

  /** Tasks of unfinished runs by project and task state. */
  async tasksByState(): Promise<StateCount[]> {
    const rows = await this.#read((db) =>
      db
        .selectFrom('tasks')
        .innerJoin('runs', 'runs.id', 'tasks.run_id')
        .where('runs.state', 'in', [...UNFINISHED_RUN_STATES])
        .select(['runs.project as project', 'tasks.state as state', (eb) => eb.fn.countAll().as('n')])
        .groupBy(['runs.project', 'tasks.state'])
        .execute(),
    )
    return rows.map((r) => ({ project: r.project, state: r.state, count: Number(r.n) }))
  }

  /** Every run in the store by project and run state. */
  async runsByState(): Promise<StateCount[]> {
    const rows = await this.#read((db) =>
      db
        .selectFrom('runs')
        .select(['project', 'state', (eb) => eb.fn.countAll().as('n')])
        .groupBy(['project', 'state'])
        .execute(),
    )
    return rows.map((r) => ({ project: r.project, state: r.state, count: Number(r.n) }))
  }

  /**
   * Events of `type` with an id above `afterId`, counted by the payload `fields` (top-level names).
   * Ids commit in order (see event-rows.ts), so counting on from `lastId` misses nothing.
   */
  async countEvents(type: string, fields: readonly string[], afterId: number): Promise<EventCounts> {
    for (const field of fields) {
      if (!FIELD_NAME.test(field)) throw new RpoError('internal', `"${field}" is not an event payload field name`)
    }
    // aliased: two unnamed expressions would come back under one column name
    const selected = sql.join([
      ...fields.map((field, index) => sql`${this.#payloadField(field)} as ${sql.ref(`f${index}`)}`),
      sql`count(*) as n`,
      sql`max(id) as last_id`,
    ])
    // positional: PostgreSQL would not see a parameterized expression repeated as the same one
    const groupBy =
      fields.length > 0 ? sql` group by ${sql.raw(fields.map((_, i) => String(i + 1)).join(', '))}` : sql``
    const query = sql<
      Record<string, unknown>
    >`select ${selected} from events where type = ${type} and id > ${afterId}${groupBy}`
    const result = await this.#read((db) => query.execute(db))
    let lastId = afterId
    const counts: EventCount[] = []
    for (const row of result.rows) {
      const count = Number(row.n ?? 0)
      if (count === 0) continue
      lastId = Math.max(lastId, Number(row.last_id))
      counts.push({ fields: fields.map((_, i) => (row[`f${i}`] == null ? '' : String(row[`f${i}`]))), count })
    }
    return { counts, lastId }
  }

  #payloadField(field: string): RawBuilder<unknown> {
    return this.#dialect === 'sqlite' ? sql`json_extract(payload, ${`$.${field}`})` : sql`(payload::json ->> ${field})`
  }

  #read<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return storeRead(this.#db, this.#description, fn)
  }
}
