/**
 * The budget side of the store: the ledger (append-only; an entry whose key exists is skipped, so
 * charging the same usage twice writes nothing), budget changes made at run time, the jobs in
 * flight across every running run — what budget decisions are taken over — and the concluded jobs
 * whose accounting record is awaited to true up their provisional charge.
 */
import type { Kysely, Transaction } from 'kysely'
import {
  type AccountId,
  type BudgetLedger,
  type LedgerEntry,
  type LedgerEntryKind,
  parseAccount,
} from '../core/budget/budget-ledger.js'
import type { BudgetPeriod } from '../core/budget/budget-period.js'
import type { BudgetCap } from '../core/budget/budget-rules.js'
import type { BudgetResource, BudgetScope, TresHours } from '../core/budget/tres-hours.js'
import type { ResolvedPipeline } from '../core/pipeline/resolved-pipeline.js'
import type { AttemptState, TaskOverrides } from '../core/scheduling/run-snapshot.js'
import type { AccountingWaitTable, Database, LedgerEntryTable } from './database.js'
import { storeRead, storeWrite } from './store-calls.js'
import { attemptStateOf, parseOptionalJson, parseStoredJson } from './stored-values.js'

/** A budget as changed at run time by an admin: replaces the config's budget of the same scope. */
export interface BudgetSetting {
  readonly project: string
  readonly user: string | null
  readonly resource: BudgetResource
  readonly gpuType: string | null
  readonly amount: number
  readonly period: BudgetPeriod
  readonly cap: BudgetCap
  readonly actor: string
  readonly at: string
  readonly note: string
}

/** One attempt whose job is still on a scheduler, with what the budget decision needs about it. */
export interface InFlightAttempt {
  readonly runId: string
  readonly cluster: string
  readonly project: string | null
  readonly user: string | null
  readonly taskId: string
  readonly group: string
  readonly attempt: number
  readonly submissionKey: string
  readonly jobId: string | null
  readonly state: AttemptState
  readonly startedAt: string | null
  readonly submittedAt: string
  readonly heldReason: string | null
  readonly nice: number | null
  readonly overrides: TaskOverrides | null
  readonly pipeline: ResolvedPipeline
}

/**
 * A job concluded before accounting had its record: charged provisionally (asked rate × elapsed)
 * under `usageKey`, and polled for charging only until accounting's figure arrives or `until`.
 */
export interface AccountingWait {
  readonly submissionKey: string
  readonly cluster: string
  readonly jobId: string
  readonly usageKey: string
  readonly project: string
  readonly user: string | null
  readonly endedAt: string
  readonly until: string
}

/** One charging step, written whole: the ledger entries and what it changes in the accounting waits. */
export interface ChargeWrite {
  readonly entries: readonly LedgerEntry[]
  /** Jobs charged provisionally at their end: awaited (an attempt already awaited keeps its first wait). */
  readonly awaitAccounting?: readonly AccountingWait[]
  /** Submission keys whose accounting figure was charged: no longer awaited. */
  readonly settled?: readonly string[]
  /** Waits whose `until` is at or before this (ISO) are dropped: their provisional charge stands. */
  readonly expiredBy?: string
}

export class BudgetStore {
  readonly #db: Kysely<Database>
  readonly #description: string

  constructor(db: Kysely<Database>, description: string) {
    this.#db = db
    this.#description = description
  }

  /** Append entries; those whose key is already there are skipped. Returns how many were new. */
  async appendEntries(entries: readonly LedgerEntry[]): Promise<number> {
    return this.recordCharges({ entries })
  }

  /**
   * Ledger entries and accounting waits in one transaction, so a provisional charge at a job's end
   * is never written without the wait that trues it up (or the reverse). Returns the new entries.
   */
  async recordCharges(write: ChargeWrite): Promise<number> {
    const { entries, awaitAccounting = [], settled = [], expiredBy } = write
    if (entries.length === 0 && awaitAccounting.length === 0 && settled.length === 0 && expiredBy === undefined)
      return 0
    return this.#write(async (trx) => {
      let added = 0
      for (const entry of entries) {
        const result = await trx
          .insertInto('ledger_entries')
          .values(entryToRow(entry))
          .onConflict((oc) => oc.column('key').doNothing())
          .executeTakeFirst()
        added += Number(result.numInsertedOrUpdatedRows ?? 0)
      }
      for (const wait of awaitAccounting)
        await trx
          .insertInto('accounting_waits')
          .values(waitToRow(wait))
          .onConflict((oc) => oc.column('submission_key').doNothing())
          .execute()
      for (const keys of chunks(settled, 500))
        await trx.deleteFrom('accounting_waits').where('submission_key', 'in', keys).execute()
      if (expiredBy !== undefined) await trx.deleteFrom('accounting_waits').where('until', '<=', expiredBy).execute()
      return added
    })
  }

  /** The jobs of `cluster` whose accounting is still awaited at `now` (ISO), oldest end first. */
  /** The clusters with jobs whose accounting figure is still awaited at `now` (their grace not over), sorted. */
  async clustersAwaitingAccounting(now: string): Promise<string[]> {
    const rows = await this.#read((db) =>
      db
        .selectFrom('accounting_waits')
        .select('cluster')
        .distinct()
        .where('until', '>', now)
        .orderBy('cluster')
        .execute(),
    )
    return rows.map((row) => row.cluster)
  }

  async listAccountingWaits(cluster: string, now: string): Promise<AccountingWait[]> {
    const rows = await this.#read((db) =>
      db
        .selectFrom('accounting_waits')
        .selectAll()
        .where('cluster', '=', cluster)
        .where('until', '>', now)
        .orderBy('ended_at')
        .orderBy('submission_key')
        .execute(),
    )
    return rows.map((row) => ({
      submissionKey: row.submission_key,
      cluster: row.cluster,
      jobId: row.job_id,
      usageKey: row.usage_key,
      project: row.project,
      user: row.user_name,
      endedAt: row.ended_at,
      until: row.until,
    }))
  }

  /**
   * Charges written after ledger row `afterSeq`, oldest first, at most `limit`: each with the project
   * it charged (the owner of its usage account) and its hours; `lastSeq` is the last
   * row read (`afterSeq` when none). For readers that add up only what is new (metrics).
   */
  async chargesAfter(
    afterSeq: number,
    limit = 10_000,
  ): Promise<{
    readonly lastSeq: number
    readonly charges: { readonly project: string; readonly hours: TresHours }[]
  }> {
    const rows = await this.#read((db) =>
      db
        .selectFrom('ledger_entries')
        .selectAll()
        .where('seq', '>', afterSeq)
        .where('kind', '=', 'charge')
        .orderBy('seq')
        .limit(limit)
        .execute(),
    )
    const charges = rows.map((row) => {
      const entry = rowToEntry(row, this.#description)
      return { project: parseAccount(entry.to).project, hours: entry.hours }
    })
    return { lastSeq: rows.length > 0 ? Number(rows[rows.length - 1]?.seq) : afterSeq, charges }
  }

  /** The whole ledger, oldest first. */
  async listEntries(): Promise<BudgetLedger> {
    const rows = await this.#read((db) => db.selectFrom('ledger_entries').selectAll().orderBy('seq').execute())
    return rows.map((row) => rowToEntry(row, this.#description))
  }

  async addSetting(setting: BudgetSetting): Promise<void> {
    await this.#write((trx) =>
      trx
        .insertInto('budget_settings')
        .values({
          project: setting.project,
          user_name: setting.user,
          resource: setting.resource,
          gpu_type: setting.gpuType,
          amount: setting.amount,
          period_json: JSON.stringify(setting.period),
          cap: setting.cap,
          actor: setting.actor,
          at: setting.at,
          note: setting.note,
        })
        .execute(),
    )
  }

  /** Every change, oldest first (the newest per scope is in force). */
  async listSettings(): Promise<BudgetSetting[]> {
    const rows = await this.#read((db) => db.selectFrom('budget_settings').selectAll().orderBy('seq').execute())
    return rows.map((row) => ({
      project: row.project,
      user: row.user_name,
      resource: row.resource as BudgetResource,
      gpuType: row.gpu_type,
      amount: Number(row.amount),
      // 'month' or an object
      period: parseStoredJson<BudgetPeriod>(row.period_json, 'any', {
        runId: null,
        column: `budget_settings.period_json of the ${row.project} budget set at ${row.at}`,
        description: this.#description,
      }),
      cap: row.cap as BudgetCap,
      actor: row.actor,
      at: row.at,
      note: row.note,
    }))
  }

  /** Attempts of running runs whose jobs have not ended, with their run's pipeline. */
  async listInFlight(): Promise<InFlightAttempt[]> {
    const rows = await this.#read((db) =>
      db
        .selectFrom('attempts as a')
        .innerJoin('tasks as t', (join) => join.onRef('t.run_id', '=', 'a.run_id').onRef('t.id', '=', 'a.task_id'))
        .innerJoin('runs as r', 'r.id', 'a.run_id')
        .where('r.state', '=', 'running')
        .where('t.state', '=', 'active')
        .whereRef('t.attempts', '=', 'a.attempt')
        .where('a.state', 'in', ['submitting', 'pending', 'held', 'running', 'completing', 'requeued', 'unknown'])
        .select([
          'a.run_id',
          'r.cluster',
          'r.project',
          'r.user_name',
          'a.task_id',
          't.group_name',
          'a.attempt',
          'a.submission_key',
          'a.job_id',
          'a.state',
          'a.started_at',
          'a.submitted_at',
          'a.held_reason',
          'a.nice',
          't.overrides_json',
          'r.pipeline_json',
        ])
        .orderBy('a.submitted_at')
        .orderBy('a.submission_key')
        .execute(),
    )
    const pipelines = new Map<string, ResolvedPipeline>()
    return rows.map((row) => {
      let pipeline = pipelines.get(row.run_id)
      if (!pipeline) {
        pipeline = parseStoredJson<ResolvedPipeline>(row.pipeline_json, 'pipeline', {
          runId: row.run_id,
          column: 'pipeline_json',
          description: this.#description,
        })
        pipelines.set(row.run_id, pipeline)
      }
      return {
        runId: row.run_id,
        cluster: row.cluster,
        project: row.project,
        user: row.user_name,
        taskId: row.task_id,
        group: row.group_name,
        attempt: Number(row.attempt),
        submissionKey: row.submission_key,
        jobId: row.job_id,
        state: attemptStateOf(row.state, {
          runId: row.run_id,
          column: `state of attempt ${row.submission_key}`,
          description: this.#description,
        }),
        startedAt: row.started_at,
        submittedAt: row.submitted_at,
        heldReason: row.held_reason,
        nice: row.nice === null ? null : Number(row.nice),
        overrides: parseOptionalJson<TaskOverrides>(row.overrides_json, 'object', {
          runId: row.run_id,
          column: `overrides_json of task ${row.task_id}`,
          description: this.#description,
        }),
        pipeline,
      }
    })
  }

  /** Record what rpo did to attempts' jobs for a budget: held (with why) or released, their nice; one transaction. */
  async markAttempts(
    marks: ReadonlyMap<string, { readonly heldReason?: string | null; readonly nice?: number | null }>,
  ): Promise<void> {
    if (marks.size === 0) return
    await this.#write(async (trx) => {
      for (const [submissionKey, patch] of marks) {
        const values: { held_reason?: string | null; nice?: number | null } = {}
        if (patch.heldReason !== undefined) values.held_reason = patch.heldReason
        if (patch.nice !== undefined) values.nice = patch.nice
        if (Object.keys(values).length === 0) continue
        await trx.updateTable('attempts').set(values).where('submission_key', '=', submissionKey).execute()
      }
    })
  }

  #read<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return storeRead(this.#db, this.#description, fn)
  }

  #write<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return storeWrite(this.#db, this.#description, fn)
  }
}

function entryToRow(entry: LedgerEntry): Omit<LedgerEntryTable, 'seq'> {
  return {
    key: entry.key,
    at: entry.at,
    kind: entry.kind,
    from_account: entry.from,
    to_account: entry.to,
    hours_json: JSON.stringify(entry.hours),
    scope_json: entry.ruleScope ? JSON.stringify(entry.ruleScope) : null,
    grant_id: entry.grantId ?? null,
    expires_at: entry.expiresAt ?? null,
    usage_key: entry.usageKey ?? null,
    actor: entry.actor,
    note: entry.note,
  }
}

function waitToRow(wait: AccountingWait): AccountingWaitTable {
  return {
    submission_key: wait.submissionKey,
    cluster: wait.cluster,
    job_id: wait.jobId,
    usage_key: wait.usageKey,
    project: wait.project,
    user_name: wait.user,
    ended_at: wait.endedAt,
    until: wait.until,
  }
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

function rowToEntry(row: Omit<LedgerEntryTable, 'seq'>, description: string): LedgerEntry {
  const at = (column: string) => ({ runId: null, column: `ledger_entries.${column} of entry ${row.key}`, description })
  const scope = parseOptionalJson<BudgetScope>(row.scope_json, 'object', at('scope_json'))
  return {
    key: row.key,
    at: row.at,
    kind: row.kind as LedgerEntryKind,
    from: row.from_account as AccountId,
    to: row.to_account as AccountId,
    hours: parseStoredJson<TresHours>(row.hours_json, 'object', at('hours_json')),
    ...(scope ? { ruleScope: scope } : {}),
    ...(row.grant_id ? { grantId: row.grant_id } : {}),
    ...(row.expires_at ? { expiresAt: row.expires_at } : {}),
    ...(row.usage_key ? { usageKey: row.usage_key } : {}),
    actor: row.actor,
    note: row.note,
  }
}
