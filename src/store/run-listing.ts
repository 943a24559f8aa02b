/**
 * Runs a page at a time for the HTTP API: newest first, filtered by state, project and pipeline,
 * and continued after the last run of the previous page (its creation time and id: a cursor that
 * stays right while new runs are created). Also how many runs each project has. Read only.
 */
import type { Kysely } from 'kysely'
import type { RunState } from '../core/scheduling/run-snapshot.js'
import type { Database } from './database.js'
import { rowLimit } from './row-limit.js'
import type { RunRecord } from './run-records.js'
import { PipelineCache, toRunRecord } from './run-rows.js'
import { storeRead } from './store-calls.js'

export interface RunPageQuery {
  readonly states?: readonly RunState[]
  readonly projects?: readonly string[]
  readonly pipelines?: readonly string[]
  /** Continue after this run (the last one of the previous page). */
  readonly after?: { readonly createdAt: string; readonly id: string }
  readonly limit: number
}

export class RunListing {
  readonly #db: Kysely<Database>
  readonly #description: string
  readonly #pipelines = new PipelineCache()

  constructor(db: Kysely<Database>, description: string) {
    this.#db = db
    this.#description = description
  }

  async page(query: RunPageQuery): Promise<RunRecord[]> {
    const limit = rowLimit(query.limit)
    const rows = await this.#read((db) => {
      let q = db.selectFrom('runs').selectAll()
      if (query.states) q = q.where('state', 'in', query.states.length > 0 ? [...query.states] : [''])
      if (query.projects) q = q.where('project', 'in', query.projects.length > 0 ? [...query.projects] : [''])
      if (query.pipelines) q = q.where('pipeline_name', 'in', query.pipelines.length > 0 ? [...query.pipelines] : [''])
      const after = query.after
      if (after)
        q = q.where((eb) =>
          eb.or([
            eb('created_at', '<', after.createdAt),
            eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)]),
          ]),
        )
      return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute()
    })
    return rows.map((row) => toRunRecord(row, this.#description, this.#pipelines))
  }

  /** How many runs each project has, by state (runs of no project are left out). */
  async countsByProject(): Promise<Map<string, Map<RunState, number>>> {
    const rows = await this.#read((db) =>
      db
        .selectFrom('runs')
        .select(['project', 'state', (eb) => eb.fn.countAll<number>().as('n')])
        .where('project', 'is not', null)
        .groupBy(['project', 'state'])
        .execute(),
    )
    const counts = new Map<string, Map<RunState, number>>()
    for (const row of rows) {
      const project = row.project as string
      const byState = counts.get(project) ?? new Map<RunState, number>()
      byState.set(row.state as RunState, Number(row.n))
      counts.set(project, byState)
    }
    return counts
  }

  #read<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return storeRead(this.#db, this.#description, fn)
  }
}
