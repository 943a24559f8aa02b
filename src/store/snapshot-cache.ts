/**
 * Runs' snapshots for readers that ask again and again about a store others write (the HTTP API's
 * listings and project views, the metrics scrape): each run's tasks and latest attempts are kept
 * with the revisions of its rows (migration 013: the database stamps every task and attempt write),
 * and only the runs whose revisions moved are read again. One indexed query per table says which
 * runs moved; a page of 30 running runs × 100 tasks then costs that query, not 6,000 rows.
 *
 * The run's own row (state, pipeline) is never cached: callers pass the records they just read.
 * Revisions are read BEFORE the rows, so a write landing in between leaves the kept rows newer than
 * their revisions — read again next time, never served stale. Bounded by tasks kept (oldest use
 * dropped first).
 */
import type { Kysely } from 'kysely'
import type { AttemptSnapshot, RunSnapshot, TaskSnapshot } from '../core/scheduling/run-snapshot.js'
import type { Database } from './database.js'
import type { RunRecord } from './run-records.js'
import { readSnapshots } from './snapshot-reads.js'

const IDS_PER_QUERY = 1000
/** About 600 bytes a task with its attempt: the default keeps ~30 MB at most. */
export const DEFAULT_CACHED_TASKS = 50_000

interface Kept {
  readonly revision: string
  readonly tasks: readonly TaskSnapshot[]
  readonly latestAttempts: readonly AttemptSnapshot[]
}

export class SnapshotCache {
  readonly #db: Kysely<Database>
  readonly #description: string
  readonly #maxTasks: number
  /** Insertion order is use order: a hit is moved to the end, the front goes first. */
  readonly #kept = new Map<string, Kept>()
  #tasksKept = 0

  constructor(db: Kysely<Database>, description: string, maxTasks = DEFAULT_CACHED_TASKS) {
    this.#db = db
    this.#description = description
    this.#maxTasks = maxTasks
  }

  /** The snapshot of each run, in the order given, reading only runs that changed. The caller maps driver errors. */
  async load(runs: readonly RunRecord[]): Promise<{ run: RunRecord; snapshot: RunSnapshot }[]> {
    const revisions = await readRevisions(
      this.#db,
      runs.map((run) => run.id),
    )
    const changed = runs.filter((run) => this.#kept.get(run.id)?.revision !== revisions.get(run.id))
    for (const { run, snapshot } of await readSnapshots(this.#db, changed, this.#description)) {
      this.#keep(run.id, {
        revision: revisions.get(run.id) ?? '',
        tasks: snapshot.tasks,
        latestAttempts: snapshot.latestAttempts,
      })
    }
    return runs.map((run) => {
      const kept = this.#touch(run.id)
      return {
        run,
        snapshot: {
          id: run.id,
          state: run.state,
          pipeline: run.pipeline,
          tasks: kept?.tasks ?? [],
          latestAttempts: kept?.latestAttempts ?? [],
        },
      }
    })
  }

  #touch(runId: string): Kept | undefined {
    const kept = this.#kept.get(runId)
    if (kept) {
      this.#kept.delete(runId)
      this.#kept.set(runId, kept)
    }
    return kept
  }

  #keep(runId: string, kept: Kept): void {
    const old = this.#kept.get(runId)
    if (old) {
      this.#tasksKept -= old.tasks.length
      this.#kept.delete(runId)
    }
    this.#kept.set(runId, kept)
    this.#tasksKept += kept.tasks.length
    for (const [id, entry] of this.#kept) {
      // the run just kept stays even if it alone is over the bound: the caller is about to use it
      if (this.#tasksKept <= this.#maxTasks || id === runId) break
      this.#kept.delete(id)
      this.#tasksKept -= entry.tasks.length
    }
  }
}

/**
 * Each run's revision: the highest revision of its task rows and of its attempt rows. A run with no
 * rows yet is absent (and so differs from any kept entry until it has some).
 */
export async function readRevisions(db: Kysely<Database>, runIds: readonly string[]): Promise<Map<string, string>> {
  const revisions = new Map<string, string>()
  for (let i = 0; i < runIds.length; i += IDS_PER_QUERY) {
    const ids = runIds.slice(i, i + IDS_PER_QUERY)
    const [tasks, attempts] = await Promise.all(
      (['tasks', 'attempts'] as const).map((table) =>
        db
          .selectFrom(table)
          .select((eb) => ['run_id', eb.fn.max('revision').as('revision')])
          .where('run_id', 'in', ids)
          .groupBy('run_id')
          .execute(),
      ),
    )
    const attemptRevision = new Map((attempts ?? []).map((row) => [row.run_id, String(row.revision)]))
    for (const row of tasks ?? []) revisions.set(row.run_id, `${row.revision}:${attemptRevision.get(row.run_id) ?? 0}`)
  }
  return revisions
}
