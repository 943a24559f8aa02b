/**
 * The run repository: runs, tasks, attempts, their journal and leases, mapped between rows and the
 * domain types the engine and the planner use. Every multi-row change is one transaction, so a
 * crash leaves either the old state or the new one — and the event log's events of a change
 * (transition-rows.ts) are written in that same transaction, last.
 */

import { type Kysely, sql, type Transaction } from 'kysely'
import { StoreError } from '../core/errors.js'
import type { AttemptPatch } from '../core/scheduling/plan-tick.js'
import type { AttemptSnapshot, RunSnapshot, RunState } from '../core/scheduling/run-snapshot.js'
import type { NewRpoEvent } from '../events/event-schemas.js'
import { type JournalEntry, runStartedEvent } from '../events/store-events.js'
import type { ResourceUsage } from '../scheduler/scheduler-adapter.js'
import { BudgetStore } from './budget-store.js'
import { ClusterTickStats } from './cluster-tick-stats.js'
import type { Database } from './database.js'
import { insertEvents } from './event-rows.js'
import { EventStore } from './event-store.js'
import { HistoryQueries } from './history-queries.js'
import { LeaseRows } from './lease-rows.js'
import { MetricsQueries } from './metrics-queries.js'
import { NotificationStore } from './notification-store.js'
import type { OpenedDatabase } from './open-store.js'
import { rowLimit } from './row-limit.js'
import { RunListing } from './run-listing.js'
import type { NewRun, PlanWrite, RunRecord } from './run-records.js'
import {
  attemptPatchToRow,
  attemptToRow,
  insertJournal,
  insertRun,
  insertTasks,
  PipelineCache,
  resumableRunQuery,
  taskPatchToRow,
  toAttemptSnapshot,
  toRunRecord,
} from './run-rows.js'
import { SnapshotCache } from './snapshot-cache.js'
import { readSnapshots } from './snapshot-reads.js'
import { storeRead, storeWrite } from './store-calls.js'
import { parseOptionalJson } from './stored-values.js'
import { TokenStore } from './token-store.js'
import { attemptChangeEvents, eventsOfJournal, eventsOfPlan } from './transition-rows.js'

export type { NewRun, PlanWrite, RunRecord } from './run-records.js'

export interface AttemptRecord extends AttemptSnapshot {
  readonly runId: string
  readonly usage: ResourceUsage | null
}

/** An entry of a run's journal: what happened to it, in words. */
export interface EventRecord {
  readonly id: number
  readonly runId: string
  readonly taskId: string | null
  readonly type: string
  readonly at: string
  readonly message: string
  readonly data: Readonly<Record<string, unknown>> | null
}

export class RunStore {
  readonly #db: Kysely<Database>
  readonly description: string
  readonly dialect: OpenedDatabase['dialect']
  readonly #pipelines = new PipelineCache()

  /** The ledger, budget changes and the jobs in flight across runs. */
  readonly budgets: BudgetStore
  /** The event log: read it, follow it (src/events/event-log.ts), append events of no run write. */
  readonly events: EventStore

  /** Past attempts: durations, queue waits, outcomes (the estimates' history). */
  readonly history: HistoryQueries
  /** What was last notified of each subject, and the webhooks' cursors. */
  readonly notifications: NotificationStore
  /** Each cluster's last round and totals (what /metrics reports of ticks). */
  readonly clusterTicks: ClusterTickStats
  /** Aggregate counts for /metrics. */
  readonly metrics: MetricsQueries
  /** Runs a page at a time, filtered (the HTTP API). */
  readonly listing: RunListing
  /** The HTTP API's bearer tokens (hashes only). */
  readonly tokens: TokenStore
  /** Named leases (the takeover rule is src/engine/leases.ts's). */
  readonly leases: LeaseRows
  readonly #snapshots: SnapshotCache

  constructor(opened: OpenedDatabase) {
    this.#db = opened.db
    this.description = opened.description
    this.dialect = opened.dialect
    this.budgets = new BudgetStore(opened.db, opened.description)
    this.events = new EventStore(opened.db, opened.dialect, opened.description)
    this.history = new HistoryQueries(opened.db, opened.description)
    this.notifications = new NotificationStore(opened.db, opened.dialect, opened.description, this.events)
    this.clusterTicks = new ClusterTickStats(opened.db, opened.description)
    this.metrics = new MetricsQueries(opened.db, opened.dialect, opened.description)
    this.listing = new RunListing(opened.db, opened.description)
    this.tokens = new TokenStore(opened.db, opened.description)
    this.leases = new LeaseRows(opened.db, opened.description)
    this.#snapshots = new SnapshotCache(opened.db, opened.description, { incremental: opened.dialect === 'sqlite' })
  }

  async createRun(run: NewRun): Promise<void> {
    await this.#write((trx) => this.#insertRun(trx, run))
    this.events.committed()
  }

  async #insertRun(trx: Transaction<Database>, run: NewRun): Promise<void> {
    await insertRun(trx, run)
    const started = runStartedEvent(
      { at: run.now, project: run.pipeline.project, runId: run.id },
      { pipeline: run.pipeline.name, cluster: run.cluster, tasks: run.instances.length, user: run.user ?? null },
    )
    await insertEvents(trx, this.dialect, [started])
  }

  /**
   * The newest unfinished run of the same pipeline file content on the same cluster, or else `run`,
   * created (`resume: false`: always created): one step, so two `rpo run` of one file at the same instant start one run, not two
   * (SQLite: the write lock is taken up front; PostgreSQL: an advisory lock on the pipeline).
   */
  async findOrCreateRun(
    run: NewRun,
    options: { readonly resume: boolean } = { resume: true },
  ): Promise<{ run: RunRecord; created: boolean }> {
    if (!options.resume) {
      await this.createRun(run)
      return { run: await this.getRun(run.id), created: true }
    }
    const found = await this.#write(async (trx) => {
      if (this.dialect === 'postgres') {
        const key = `rpo:run:${run.cluster}:${run.pipeline.name}:${run.specHash}`
        await sql`select pg_advisory_xact_lock(hashtext(${key}))`.execute(trx)
      }
      const existing = await resumableRunQuery(trx, run.pipeline.name, run.specHash, run.cluster).executeTakeFirst()
      if (existing) return existing
      await this.#insertRun(trx, run)
      return null
    })
    if (found) return { run: toRunRecord(found, this.description, this.#pipelines), created: false }
    this.events.committed()
    return { run: await this.getRun(run.id), created: true }
  }

  /** The newest unfinished run of the same pipeline file content on the same cluster. */
  async findResumableRun(pipelineName: string, specHash: string, cluster: string): Promise<RunRecord | null> {
    const row = await this.#read((db) => resumableRunQuery(db, pipelineName, specHash, cluster).executeTakeFirst())
    return row ? toRunRecord(row, this.description, this.#pipelines) : null
  }

  async getRun(runId: string): Promise<RunRecord> {
    const row = await this.#read((db) => db.selectFrom('runs').selectAll().where('id', '=', runId).executeTakeFirst())
    if (!row)
      throw new StoreError(
        'run-not-found',
        `no run "${runId}" in ${this.description} (see \`rpo status\` for the runs it has)`,
      )
    return toRunRecord(row, this.description, this.#pipelines)
  }

  async listRuns(options: { limit?: number; states?: readonly RunState[] } = {}): Promise<RunRecord[]> {
    const limit = rowLimit(options.limit ?? 20)
    const rows = await this.#read((db) => {
      let query = db.selectFrom('runs').selectAll().orderBy('created_at', 'desc').limit(limit)
      if (options.states && options.states.length > 0) query = query.where('state', 'in', [...options.states])
      return query.execute()
    })
    return rows.map((row) => toRunRecord(row, this.description, this.#pipelines))
  }

  async loadSnapshot(runId: string): Promise<{ run: RunRecord; snapshot: RunSnapshot }> {
    const [loaded] = await this.loadSnapshots([await this.getRun(runId)])
    return loaded as { run: RunRecord; snapshot: RunSnapshot }
  }

  /** The snapshots of many runs at once (two queries per 1,000 runs): listings, scrapes, projections. */
  loadSnapshots(runs: readonly RunRecord[]): Promise<{ run: RunRecord; snapshot: RunSnapshot }[]> {
    return this.#read((db) => readSnapshots(db, runs, this.description))
  }

  /** loadSnapshots for readers that ask again and again: only runs whose rows changed are read again. */
  loadSnapshotsKept(runs: readonly RunRecord[]): Promise<{ run: RunRecord; snapshot: RunSnapshot }[]> {
    return this.#read(() => this.#snapshots.load(runs))
  }

  async listAttempts(runId: string, taskId?: string): Promise<AttemptRecord[]> {
    const rows = await this.#read((db) => {
      let query = db.selectFrom('attempts').selectAll().where('run_id', '=', runId)
      if (taskId) query = query.where('task_id', '=', taskId)
      return query.orderBy('task_id').orderBy('attempt').execute()
    })
    return rows.map((row) => ({
      ...toAttemptSnapshot(row, this.description),
      runId: row.run_id,
      usage: parseOptionalJson<ResourceUsage>(row.usage_json, 'object', {
        runId: row.run_id,
        column: `usage_json of attempt ${row.submission_key}`,
        description: this.description,
      }),
    }))
  }

  async countSubmissions(runId: string): Promise<number> {
    const row = await this.#read((db) =>
      db
        .selectFrom('attempts')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('run_id', '=', runId)
        .executeTakeFirst(),
    )
    return Number(row?.n ?? 0)
  }

  /** A run's journal (the event log, typed and across runs, is `events`). */
  async listEvents(runId: string, afterId = 0, limit = 1000): Promise<EventRecord[]> {
    const rowCount = rowLimit(limit)
    const rows = await this.#read((db) =>
      db
        .selectFrom('run_journal')
        .selectAll()
        .where('run_id', '=', runId)
        .where('id', '>', afterId)
        .orderBy('id')
        .limit(rowCount)
        .execute(),
    )
    return rows.map((row) => ({
      id: Number(row.id),
      runId: row.run_id,
      taskId: row.task_id,
      type: row.type,
      at: row.at,
      message: row.message,
      data: parseOptionalJson<Record<string, unknown>>(row.data_json, 'object', {
        runId: row.run_id,
        column: `data_json of event ${row.id}`,
        description: this.description,
      }),
    }))
  }

  /**
   * Persist one tick's decisions atomically: attempts written here are intents, submitted afterwards.
   * Returns false (and writes nothing) when the run's state changed since the snapshot was taken,
   * e.g. `rpo cancel` from another process: the plan is stale and must not be acted on.
   */
  async applyPlan(runId: string, expectedState: RunState, plan: PlanWrite): Promise<boolean> {
    const applied = await this.#write(async (trx) => {
      const current = await trx
        .selectFrom('runs')
        .select(['state', 'project'])
        .where('id', '=', runId)
        .executeTakeFirst()
      if (current?.state !== expectedState) return false
      // read before anything changes: the events say what this write changed
      const events = await eventsOfPlan(
        trx,
        { at: plan.now, project: current.project, runId, description: this.description },
        expectedState,
        plan,
      )
      if (plan.newTasks.length > 0) {
        const last = await trx
          .selectFrom('tasks')
          .select((eb) => eb.fn.max('seq').as('max'))
          .where('run_id', '=', runId)
          .executeTakeFirst()
        await insertTasks(trx, runId, plan.newTasks, Number(last?.max ?? 0) + 1, plan.now)
      }
      for (const [taskId, patch] of plan.taskUpdates) {
        await trx
          .updateTable('tasks')
          .set({ ...taskPatchToRow(patch), updated_at: plan.now })
          .where('run_id', '=', runId)
          .where('id', '=', taskId)
          .execute()
      }
      for (const [key, patch] of plan.attemptUpdates) {
        const row = attemptPatchToRow(patch)
        if (Object.keys(row).length > 0)
          await trx.updateTable('attempts').set(row).where('submission_key', '=', key).execute()
      }
      for (const [key, usage] of plan.usageUpdates ?? []) await writeUsage(trx, key, usage, false)
      for (const [key, expected] of plan.expectedStartUpdates ?? []) {
        await trx
          .updateTable('attempts')
          .set({ expected_start_at: expected })
          .where('submission_key', '=', key)
          .where((eb) =>
            expected === null
              ? eb('expected_start_at', 'is not', null)
              : eb.or([eb('expected_start_at', 'is', null), eb('expected_start_at', '<>', expected)]),
          )
          .execute()
      }
      for (const attempt of plan.newAttempts) {
        await trx.insertInto('attempts').values(attemptToRow(runId, attempt)).execute()
      }
      await insertJournal(trx, runId, plan.events, plan.now)
      const finished = plan.runState === 'succeeded' || plan.runState === 'failed' || plan.runState === 'cancelled'
      await trx
        .updateTable('runs')
        .set({ state: plan.runState, updated_at: plan.now, ...(finished ? { finished_at: plan.now } : {}) })
        .where('id', '=', runId)
        .execute()
      await insertEvents(trx, this.dialect, events)
      return true
    })
    if (applied) this.events.committed()
    return applied
  }

  async recordTick(runId: string, at: string, commands: number): Promise<void> {
    await this.#write((trx) =>
      trx.updateTable('runs').set({ last_tick_at: at, last_tick_commands: commands }).where('id', '=', runId).execute(),
    )
  }

  /** Record what the scheduler answered to a submission, whatever the run's state is by now. */
  async updateAttempts(updates: ReadonlyMap<string, AttemptPatch>, now = new Date().toISOString()): Promise<void> {
    await this.#write(async (trx) => {
      const events = await attemptChangeEvents(trx, { at: now, description: this.description }, updates)
      for (const [key, patch] of updates) {
        await trx.updateTable('attempts').set(attemptPatchToRow(patch)).where('submission_key', '=', key).execute()
      }
      await insertEvents(trx, this.dialect, events)
    })
    this.events.committed()
  }

  /**
   * Write accounting's figures for attempts that have ended (read after their end, e.g. sacct's
   * TotalCPU of a job squeue had already called completed). Only the usage column changes: the
   * attempt's state is the planner's, so this never races a tick; an unchanged figure writes nothing.
   */
  async recordEndedUsage(updates: ReadonlyMap<string, ResourceUsage>): Promise<void> {
    if (updates.size === 0) return
    await this.#write(async (trx) => {
      for (const [key, usage] of updates) await writeUsage(trx, key, usage, true)
    })
  }

  /** Add an entry to a run's journal, with the event-log events it stands for (checkpoint warnings, budget actions). */
  async appendEvent(runId: string, event: JournalEntry, now: string): Promise<void> {
    await this.appendEvents(runId, [event], now)
  }

  /** Journal entries of one run, and the events they make, in one transaction. */
  async appendEvents(runId: string, journal: readonly JournalEntry[], now: string): Promise<void> {
    if (journal.length === 0) return
    await this.#write(async (trx) => {
      await insertJournal(trx, runId, journal, now)
      const run = await trx.selectFrom('runs').select('project').where('id', '=', runId).executeTakeFirst()
      const events: NewRpoEvent[] = eventsOfJournal({ at: now, project: run?.project ?? null, runId }, journal)
      await insertEvents(trx, this.dialect, events)
    })
    this.events.committed()
  }

  async close(): Promise<void> {
    await this.#db.destroy()
  }

  #read<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return storeRead(this.#db, this.description, fn)
  }

  #write<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return storeWrite(this.#db, this.description, fn)
  }
}

/** An attempt's usage figures, written only where they differ from what it holds (and, if asked, only once it ended). */
async function writeUsage(trx: Transaction<Database>, key: string, usage: ResourceUsage, endedOnly: boolean) {
  const json = JSON.stringify(usage)
  let update = trx
    .updateTable('attempts')
    .set({ usage_json: json })
    .where('submission_key', '=', key)
    .where((eb) => eb.or([eb('usage_json', 'is', null), eb('usage_json', '<>', json)]))
  if (endedOnly) update = update.where('ended_at', 'is not', null)
  await update.execute()
}
