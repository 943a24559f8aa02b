/**
 * Runs' snapshots for readers that ask again and again about a store others write (the HTTP API's
 * listings and project views, the metrics scrape): each run's tasks and latest attempts are kept
 * with the revisions of its rows (migration 012: the database stamps every task and attempt write),
 * and only runs whose revisions moved are read again. One indexed query per table says which runs
 * moved; a page of 30 running runs × 100 tasks then costs that query, not 6,000 rows.
 *
 * On SQLite a run that moved is brought up to date with only the rows written since it was kept:
 * SQLite has one writer at a time, so revisions are handed out in commit order and every row
 * committed since is above the highest revision seen then. On PostgreSQL transactions commit in any
 * order (a row stamped 100 may commit after one stamped 101), so a run that moved is read whole.
 *
 * The run's own row (state, pipeline) is never kept: callers pass the records they just read.
 * Revisions are read BEFORE the rows, so a write landing in between leaves the kept rows newer than
 * their revisions — read again next time, never served stale. Bounded by tasks kept (oldest use
 * dropped first).
 */
import type { Kysely } from 'kysely'
import type { AttemptSnapshot, RunSnapshot, TaskSnapshot } from '../core/scheduling/run-snapshot.js'
import type { AttemptTable, Database, TaskTable } from './database.js'
import type { RunRecord } from './run-records.js'
import { toAttemptSnapshot, toTaskSnapshot } from './run-rows.js'
import { IDS_PER_QUERY, readSnapshots } from './snapshot-reads.js'

/** About 600 bytes a task with its attempt: the default keeps ~30 MB at most. */
const DEFAULT_CACHED_TASKS = 50_000

/** One table's rows of a run as of one read: `rows/sum of revisions` as the key, and the highest. */
interface TableRevision {
  readonly key: string
  readonly highest: number
}

interface RunRevision {
  readonly tasks: TableRevision
  readonly attempts: TableRevision
}

const NO_ROWS: TableRevision = { key: '0/0', highest: 0 }

interface Kept {
  readonly revision: RunRevision
  readonly tasks: readonly TaskSnapshot[]
  readonly latestAttempts: readonly AttemptSnapshot[]
}

export interface SnapshotCacheOptions {
  /** Bring moved runs up to date from the rows written since (SQLite only: see the header). */
  readonly incremental: boolean
  readonly maxTasks?: number
}

export class SnapshotCache {
  readonly #db: Kysely<Database>
  readonly #description: string
  readonly #incremental: boolean
  readonly #maxTasks: number
  /** Insertion order is use order: a hit is moved to the end, the front goes first. */
  readonly #kept = new Map<string, Kept>()
  #tasksKept = 0

  constructor(db: Kysely<Database>, description: string, options: SnapshotCacheOptions) {
    this.#db = db
    this.#description = description
    this.#incremental = options.incremental
    this.#maxTasks = options.maxTasks ?? DEFAULT_CACHED_TASKS
  }

  /** The snapshot of each run, in the order given, reading only what changed. The caller maps driver errors. */
  async load(runs: readonly RunRecord[]): Promise<{ run: RunRecord; snapshot: RunSnapshot }[]> {
    const revisions = await readRevisions(
      this.#db,
      runs.map((run) => run.id),
    )
    // this call's entries, apart from the cache: keeping one may drop another past the bound
    const current = new Map<string, Kept>()
    const stale = new Map<string, Kept>()
    const whole: RunRecord[] = []
    const updatable: RunRecord[] = []
    for (const run of runs) {
      const kept = this.#kept.get(run.id)
      if (kept && sameRevision(kept.revision, revisions.get(run.id))) current.set(run.id, kept)
      else if (kept && this.#incremental) {
        stale.set(run.id, kept)
        updatable.push(run)
      } else whole.push(run)
    }
    for (const { run, snapshot } of await readSnapshots(this.#db, whole, this.#description)) {
      current.set(run.id, {
        revision: revisions.get(run.id) ?? { tasks: NO_ROWS, attempts: NO_ROWS },
        tasks: snapshot.tasks,
        latestAttempts: snapshot.latestAttempts,
      })
    }
    if (updatable.length > 0) for (const [id, kept] of await this.#update(stale, revisions)) current.set(id, kept)
    for (const [id, kept] of current) this.#keep(id, kept)
    return runs.map((run) => {
      const kept = current.get(run.id)
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

  /** Kept runs brought up to date with the task and attempt rows written since they were kept (SQLite). */
  async #update(
    stale: ReadonlyMap<string, Kept>,
    revisions: ReadonlyMap<string, RunRevision>,
  ): Promise<Map<string, Kept>> {
    const taskRows = new Map<string, TaskTable[]>()
    const attemptRows = new Map<string, AttemptTable[]>()
    // per run, only the table whose rows moved, and only its rows above what was kept
    const since = (table: 'tasks' | 'attempts') =>
      [...stale].flatMap(([runId, kept]) => {
        const old = kept.revision[table]
        return old.key === revisions.get(runId)?.[table].key ? [] : [{ runId, after: old.highest }]
      })
    for (const [table, into] of [
      ['tasks', taskRows],
      ['attempts', attemptRows],
    ] as const) {
      const wanted = since(table)
      for (let i = 0; i < wanted.length; i += IDS_PER_QUERY / 2) {
        const chunk = wanted.slice(i, i + IDS_PER_QUERY / 2)
        const rows = await this.#db
          .selectFrom(table)
          .selectAll()
          .where((eb) => eb.or(chunk.map((w) => eb.and([eb('run_id', '=', w.runId), eb('revision', '>', w.after)]))))
          .execute()
        for (const row of rows) pushTo(into as Map<string, unknown[]>, row.run_id, row)
      }
    }
    const updated = new Map<string, Kept>()
    for (const [runId, kept] of stale) {
      updated.set(runId, {
        revision: revisions.get(runId) ?? kept.revision,
        tasks: mergeTasks(kept.tasks, bySeq(taskRows.get(runId) ?? []), this.#description),
        latestAttempts: mergeAttempts(kept.latestAttempts, byAttempt(attemptRows.get(runId) ?? []), this.#description),
      })
    }
    return updated
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
      // the run just kept stays even if it alone is over the bound (the newest use goes last)
      if (this.#tasksKept <= this.#maxTasks || id === runId) break
      this.#kept.delete(id)
      this.#tasksKept -= entry.tasks.length
    }
  }
}

function sameRevision(a: RunRevision | undefined, b: RunRevision | undefined): boolean {
  return a !== undefined && b !== undefined && a.tasks.key === b.tasks.key && a.attempts.key === b.attempts.key
}

const bySeq = (rows: TaskTable[]) => rows.sort((a, b) => Number(a.seq) - Number(b.seq))
const byAttempt = (rows: AttemptTable[]) =>
  rows.sort((a, b) => (a.task_id < b.task_id ? -1 : a.task_id > b.task_id ? 1 : Number(a.attempt) - Number(b.attempt)))

function pushTo<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key)
  if (list) list.push(value)
  else map.set(key, [value])
}

/** Rows replace the kept task of their id; new tasks (a higher seq than any kept) go at the end, in seq order. */
function mergeTasks(kept: readonly TaskSnapshot[], rows: readonly TaskTable[], description: string): TaskSnapshot[] {
  const merged = [...kept]
  const place = new Map(kept.map((task, i) => [task.id, i]))
  for (const row of rows) {
    const task = toTaskSnapshot(row, description)
    const at = place.get(task.id)
    if (at === undefined) {
      place.set(task.id, merged.length)
      merged.push(task)
    } else merged[at] = task
  }
  return merged
}

/** A row replaces its task's kept latest attempt unless that one is later (a late write to an older attempt). */
function mergeAttempts(
  kept: readonly AttemptSnapshot[],
  rows: readonly AttemptTable[],
  description: string,
): AttemptSnapshot[] {
  const latest = new Map(kept.map((attempt) => [attempt.taskId, attempt]))
  for (const row of rows) {
    const current = latest.get(row.task_id)
    if (current === undefined || current.attempt <= Number(row.attempt))
      latest.set(row.task_id, toAttemptSnapshot(row, description))
  }
  return [...latest.values()]
}

/**
 * Each run's revision: the count and the sum of its task rows' revisions, and the same of its
 * attempt rows', with the highest of each. Not the highest alone: on PostgreSQL a sequence hands
 * out revisions in write order but transactions commit in any order, so a row stamped 100 can
 * commit after one stamped 101 of the same run and leave the highest unchanged. Every committed
 * write replaces a revision with a larger one (or adds a row; rows are deleted only with their run),
 * so the sum always moves. A run with no rows yet is absent (and so differs from any kept entry).
 */
async function readRevisions(db: Kysely<Database>, runIds: readonly string[]): Promise<Map<string, RunRevision>> {
  const revisions = new Map<string, RunRevision>()
  for (let i = 0; i < runIds.length; i += IDS_PER_QUERY) {
    const ids = runIds.slice(i, i + IDS_PER_QUERY)
    const [tasks, attempts] = await Promise.all(
      (['tasks', 'attempts'] as const).map((table) =>
        db
          .selectFrom(table)
          .select((eb) => [
            'run_id',
            eb.fn.countAll().as('rows'),
            eb.fn.sum('revision').as('total'),
            eb.fn.max('revision').as('highest'),
          ])
          .where('run_id', 'in', ids)
          .groupBy('run_id')
          .execute(),
      ),
    )
    const ofAttempts = new Map((attempts ?? []).map((row) => [row.run_id, row]))
    for (const row of tasks ?? []) {
      const a = ofAttempts.get(row.run_id)
      revisions.set(row.run_id, {
        tasks: { key: `${row.rows}/${row.total}`, highest: Number(row.highest) },
        attempts: a ? { key: `${a.rows}/${a.total}`, highest: Number(a.highest) } : NO_ROWS,
      })
    }
  }
  return revisions
}
