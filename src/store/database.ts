/**
 * Row types of the store's tables (snake_case, as in the database). No row type leaves src/store:
 * repositories map rows to the domain types. Timestamps are ISO 8601 UTC text in both dialects.
 */
import type { ColumnType, Generated } from 'kysely'

export interface RunTable {
  id: string
  pipeline_name: string
  project: string | null
  cluster: string
  spec_hash: string
  /** The resolved pipeline as JSON: what the run was started with, whatever the file says later. */
  pipeline_json: string
  source_file: string
  work_dir: string
  state: string
  created_at: string
  updated_at: string
  finished_at: string | null
  last_tick_at: string | null
  last_tick_commands: number | null
  /** Who started the run (per-user budgets). */
  user_name: string | null
}

export interface TaskTable {
  run_id: string
  id: string
  seq: number
  group_name: string
  kind: string
  state: string
  reason: string | null
  params_json: string
  item_json: string | null
  command: string
  attempts: number
  failures: number
  next_attempt_at: string | null
  outputs_json: string | null
  resumes: number
  overrides_json: string | null
  started_at: string | null
  ended_at: string | null
  updated_at: string
  /** Set by the database's triggers on every write (migration 012), never by rpo; bigint on PostgreSQL. */
  revision?: number | string
}

export interface AttemptTable {
  run_id: string
  task_id: string
  attempt: number
  submission_key: string
  job_id: string | null
  state: string
  native_state: string | null
  exit_code: number | null
  reason: string | null
  submitted_at: string
  started_at: string | null
  ended_at: string | null
  missed_polls: number
  usage_json: string | null
  nodes_json: string | null
  /** Why rpo holds this job for a budget; null when it does not. */
  held_reason: string | null
  /** The nice value rpo last set on the pending job. */
  nice: number | null
  /** When the scheduler expects the pending job to start (its own estimate); null when it gave none. */
  expected_start_at: string | null
  /** Set by the database's triggers on every write (migration 012), never by rpo; bigint on PostgreSQL. */
  revision?: number | string
}

export interface LedgerEntryTable {
  seq: Generated<number>
  key: string
  at: string
  kind: string
  from_account: string
  to_account: string
  hours_json: string
  scope_json: string | null
  grant_id: string | null
  expires_at: string | null
  usage_key: string | null
  actor: string
  note: string
}

export interface BudgetSettingTable {
  seq: Generated<number>
  project: string
  user_name: string | null
  resource: string
  gpu_type: string | null
  amount: number
  period_json: string
  cap: string
  actor: string
  at: string
  note: string
}

/** A concluded job whose accounting record is awaited, to true up its provisional charge. */
export interface AccountingWaitTable {
  submission_key: string
  cluster: string
  job_id: string
  /** The ledger usage key it was charged under: the true-up charges the same one. */
  usage_key: string
  project: string
  user_name: string | null
  ended_at: string
  /** After this the provisional charge stands and the job is no longer asked about. */
  until: string
}

/** A run's journal: what happened to it, in words (`rpo explain`, `rpo status`). */
export interface JournalTable {
  id: Generated<number>
  run_id: string
  task_id: string | null
  type: string
  at: string
  message: string
  data_json: string | null
}

/** The event log (src/events): typed events under a monotonically increasing id. */
export interface EventTable {
  id: Generated<number>
  at: string
  type: string
  project: string | null
  run_id: string | null
  task_id: string | null
  /** The event's payload as JSON; its shape is the type's schema (src/events/event-schemas.ts). */
  payload: string
}

/**
 * What was last notified of each subject (a run's deadline, a budget's level in its period), so a
 * notification is said once per change across processes and restarts (src/store/notification-store.ts).
 */
export interface NotificationStateTable {
  /** `deadline:run:<id>`, `bottleneck:run:<id>`, `budget:<rule scope>:<period>:used`… */
  subject: string
  state: string
  at: string
}

/** Each webhook's delivery cursor: the id of the last event it finished with (delivered or given up). */
export interface WebhookCursorTable {
  hook: string
  last_event_id: number
  at: string
}

/** Each cluster's last round and running totals (migration 010; read by src/metrics). */
export interface ClusterTickTable {
  cluster: string
  last_at: string
  /** bigint columns: PostgreSQL's driver returns them as text, SQLite's as numbers. */
  last_duration_ms: ColumnType<number | string, number, number>
  last_commands: number
  last_runs: number
  rounds: ColumnType<number | string, number, number>
  duration_ms_total: ColumnType<number | string, number, number>
  commands_total: ColumnType<number | string, number, number>
}

export interface LeaseTable {
  name: string
  owner: string
  expires_at: ColumnType<string, string, string>
}

/** A bearer token of the HTTP API: only its secret's SHA-256 hash is kept. */
export interface ApiTokenTable {
  id: string
  name: string
  /** `read` or `admin`. */
  scope: string
  /** The one project it may see; null: every project. */
  project: string | null
  secret_hash: string
  /** Who created it: the user its admin changes are made as. */
  created_by: string | null
  created_at: string
  revoked_at: string | null
  last_used_at: string | null
}

export interface Database {
  runs: RunTable
  tasks: TaskTable
  attempts: AttemptTable
  run_journal: JournalTable
  events: EventTable
  leases: LeaseTable
  notification_states: NotificationStateTable
  webhook_cursors: WebhookCursorTable
  ledger_entries: LedgerEntryTable
  budget_settings: BudgetSettingTable
  accounting_waits: AccountingWaitTable
  cluster_ticks: ClusterTickTable
  api_tokens: ApiTokenTable
}
