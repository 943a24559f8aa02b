/**
 * The rows of runs, tasks and attempts: written from the domain types, read back into them (every
 * JSON and state column through stored-values.ts), and the queries the run repository shares.
 */
import type { Kysely, Transaction } from 'kysely'
import type { TaskInstance } from '../core/pipeline/expand-pipeline.js'
import type { ResolvedPipeline } from '../core/pipeline/resolved-pipeline.js'
import type { AttemptPatch, TaskPatch } from '../core/scheduling/plan-tick.js'
import type { AttemptSnapshot, TaskOverrides, TaskSnapshot } from '../core/scheduling/run-snapshot.js'
import type { JournalEntry } from '../events/store-events.js'
import type { ResourceUsage } from '../scheduler/scheduler-adapter.js'
import type { AttemptTable, Database, TaskTable } from './database.js'
import type { NewRun, RunRecord } from './run-records.js'
import {
  attemptStateOf,
  parseOptionalJson,
  parseStoredJson,
  runStateOf,
  type StoredAt,
  taskStateOf,
} from './stored-values.js'

export function resumableRunQuery(db: Kysely<Database>, pipelineName: string, specHash: string, cluster: string) {
  return db
    .selectFrom('runs')
    .selectAll()
    .where('pipeline_name', '=', pipelineName)
    .where('spec_hash', '=', specHash)
    .where('cluster', '=', cluster)
    .where('state', 'in', ['running', 'interrupting', 'interrupted'])
    .orderBy('created_at', 'desc')
    .limit(1)
}

export async function insertRun(trx: Transaction<Database>, run: NewRun): Promise<void> {
  await trx
    .insertInto('runs')
    .values({
      id: run.id,
      pipeline_name: run.pipeline.name,
      project: run.pipeline.project,
      cluster: run.cluster,
      spec_hash: run.specHash,
      pipeline_json: JSON.stringify(run.pipeline),
      source_file: run.sourceFile,
      work_dir: run.workDir,
      state: 'running',
      created_at: run.now,
      updated_at: run.now,
      finished_at: null,
      last_tick_at: null,
      last_tick_commands: null,
      user_name: run.user ?? null,
    })
    .execute()
  await insertTasks(trx, run.id, run.instances, 0, run.now)
  await trx
    .insertInto('run_journal')
    .values({
      run_id: run.id,
      task_id: null,
      type: 'run:created',
      at: run.now,
      message: `run of ${run.pipeline.name} with ${run.instances.length} tasks`,
      data_json: null,
    })
    .execute()
}

/** Rows per journal INSERT: six parameters each, well under SQLite's 32,766. */
const JOURNAL_ROWS_PER_INSERT = 1000

/** A run's journal entries, all stamped `at`. */
export async function insertJournal(
  trx: Transaction<Database>,
  runId: string,
  events: readonly JournalEntry[],
  at: string,
): Promise<void> {
  for (let i = 0; i < events.length; i += JOURNAL_ROWS_PER_INSERT)
    await trx
      .insertInto('run_journal')
      .values(
        events.slice(i, i + JOURNAL_ROWS_PER_INSERT).map((e) => ({
          run_id: runId,
          task_id: e.taskId,
          type: e.type,
          at,
          message: e.message,
          data_json: e.data ? JSON.stringify(e.data) : null,
        })),
      )
      .execute()
}

export async function insertTasks(
  trx: Transaction<Database>,
  runId: string,
  instances: readonly TaskInstance[],
  firstSeq: number,
  now: string,
) {
  // chunked: SQLite limits bound parameters per statement
  const rows: TaskTable[] = instances.map((instance, i) => ({
    run_id: runId,
    id: instance.id,
    seq: firstSeq + i,
    group_name: instance.group,
    kind: instance.kind,
    state: 'pending',
    reason: null,
    params_json: JSON.stringify(instance.params),
    item_json: instance.item === null || instance.item === undefined ? null : JSON.stringify(instance.item),
    command: instance.command,
    attempts: 0,
    failures: 0,
    resumes: 0,
    overrides_json: null,
    next_attempt_at: null,
    outputs_json: null,
    started_at: null,
    ended_at: null,
    updated_at: now,
  }))
  for (let i = 0; i < rows.length; i += 500)
    await trx
      .insertInto('tasks')
      .values(rows.slice(i, i + 500))
      .execute()
}

/**
 * The parsed pipeline of each run, kept while its stored text is unchanged: a run's pipeline never
 * changes, and one object per run across ticks lets the planner's per-pipeline index (built on
 * first use, cached by object) serve every round instead of being rebuilt from a fresh parse.
 * Shared objects: nothing may mutate a run's pipeline.
 */
export class PipelineCache {
  readonly #byRun = new Map<string, { readonly text: string; readonly pipeline: ResolvedPipeline }>()

  parse(row: Database['runs'], at: StoredAt): ResolvedPipeline {
    const cached = this.#byRun.get(row.id)
    if (cached && cached.text === row.pipeline_json) return cached.pipeline
    const pipeline = parseStoredJson<ResolvedPipeline>(row.pipeline_json, 'pipeline', at)
    // far more runs than any round moves: start over rather than keep every run ever read
    if (this.#byRun.size >= PIPELINES_KEPT) this.#byRun.clear()
    this.#byRun.set(row.id, { text: row.pipeline_json, pipeline })
    return pipeline
  }
}

const PIPELINES_KEPT = 5_000

export function toRunRecord(row: Database['runs'], description: string, pipelines?: PipelineCache): RunRecord {
  const at = (column: string) => ({ runId: row.id, column, description })
  return {
    id: row.id,
    pipelineName: row.pipeline_name,
    project: row.project,
    cluster: row.cluster,
    specHash: row.spec_hash,
    pipeline: pipelines
      ? pipelines.parse(row, at('pipeline_json'))
      : parseStoredJson<ResolvedPipeline>(row.pipeline_json, 'pipeline', at('pipeline_json')),
    sourceFile: row.source_file,
    workDir: row.work_dir,
    state: runStateOf(row.state, at('state')),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
    lastTickAt: row.last_tick_at,
    lastTickCommands: row.last_tick_commands === null ? null : Number(row.last_tick_commands),
    user: row.user_name ?? null,
  }
}

export function toTaskSnapshot(row: TaskTable, description: string): TaskSnapshot {
  const at = (column: string) => ({ runId: row.run_id, column: `${column} of task ${row.id}`, description })
  return {
    id: row.id,
    group: row.group_name,
    kind: row.kind as TaskSnapshot['kind'],
    state: taskStateOf(row.state, at('state')),
    reason: row.reason,
    params: parseStoredJson<TaskSnapshot['params']>(row.params_json, 'object', at('params_json')),
    item: parseOptionalJson<unknown>(row.item_json, 'any', at('item_json')),
    command: row.command,
    attempts: Number(row.attempts),
    failures: Number(row.failures),
    resumes: Number(row.resumes ?? 0),
    overrides: parseOptionalJson<TaskOverrides>(row.overrides_json, 'object', at('overrides_json')),
    nextAttemptAt: row.next_attempt_at,
    outputs: parseOptionalJson<Record<string, unknown>>(row.outputs_json, 'object', at('outputs_json')),
    startedAt: row.started_at,
    endedAt: row.ended_at,
  }
}

export function toAttemptSnapshot(row: AttemptTable, description: string): AttemptSnapshot {
  const at = (column: string) => ({
    runId: row.run_id,
    column: `${column} of attempt ${row.submission_key}`,
    description,
  })
  return {
    taskId: row.task_id,
    attempt: Number(row.attempt),
    submissionKey: row.submission_key,
    jobId: row.job_id,
    state: attemptStateOf(row.state, at('state')),
    nativeState: row.native_state,
    exitCode: row.exit_code === null ? null : Number(row.exit_code),
    reason: row.reason,
    submittedAt: row.submitted_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    missedPolls: Number(row.missed_polls),
    nodes: parseOptionalJson<string[]>(row.nodes_json, 'array', at('nodes_json')) ?? [],
    ...(row.held_reason === null ? {} : { heldReason: row.held_reason }),
    ...(row.nice === null ? {} : { nice: Number(row.nice) }),
    ...(row.expected_start_at === null ? {} : { expectedStartAt: row.expected_start_at }),
  }
}

export function attemptToRow(runId: string, a: AttemptSnapshot): AttemptTable {
  return {
    run_id: runId,
    task_id: a.taskId,
    attempt: a.attempt,
    submission_key: a.submissionKey,
    job_id: a.jobId,
    state: a.state,
    native_state: a.nativeState,
    exit_code: a.exitCode,
    reason: a.reason,
    submitted_at: a.submittedAt,
    started_at: a.startedAt,
    ended_at: a.endedAt,
    missed_polls: a.missedPolls,
    usage_json: null,
    nodes_json: a.nodes.length > 0 ? JSON.stringify(a.nodes) : null,
    held_reason: a.heldReason ?? null,
    nice: a.nice ?? null,
    expected_start_at: a.expectedStartAt ?? null,
  }
}

export function taskPatchToRow(patch: TaskPatch): Partial<TaskTable> {
  const row: Partial<TaskTable> = {}
  if (patch.state !== undefined) row.state = patch.state
  if (patch.reason !== undefined) row.reason = patch.reason
  if (patch.attempts !== undefined) row.attempts = patch.attempts
  if (patch.failures !== undefined) row.failures = patch.failures
  if (patch.resumes !== undefined) row.resumes = patch.resumes
  if (patch.overrides !== undefined)
    row.overrides_json = patch.overrides === null ? null : JSON.stringify(patch.overrides)
  if (patch.nextAttemptAt !== undefined) row.next_attempt_at = patch.nextAttemptAt
  if (patch.outputs !== undefined) row.outputs_json = patch.outputs === null ? null : JSON.stringify(patch.outputs)
  if (patch.startedAt !== undefined) row.started_at = patch.startedAt
  if (patch.endedAt !== undefined) row.ended_at = patch.endedAt
  if (patch.command !== undefined) row.command = patch.command
  return row
}

export function attemptPatchToRow(patch: AttemptPatch & { usage?: ResourceUsage | null }): Partial<AttemptTable> {
  const row: Partial<AttemptTable> = {}
  if (patch.jobId !== undefined) row.job_id = patch.jobId
  if (patch.state !== undefined) row.state = patch.state
  if (patch.nativeState !== undefined) row.native_state = patch.nativeState
  if (patch.exitCode !== undefined) row.exit_code = patch.exitCode
  if (patch.reason !== undefined) row.reason = patch.reason
  if (patch.startedAt !== undefined) row.started_at = patch.startedAt
  if (patch.endedAt !== undefined) row.ended_at = patch.endedAt
  if (patch.missedPolls !== undefined) row.missed_polls = patch.missedPolls
  if (patch.heldReason !== undefined) row.held_reason = patch.heldReason
  if (patch.nice !== undefined) row.nice = patch.nice
  if (patch.nodes !== undefined) row.nodes_json = patch.nodes.length > 0 ? JSON.stringify(patch.nodes) : null
  if (patch.usage !== undefined) row.usage_json = patch.usage === null ? null : JSON.stringify(patch.usage)
  return row
}
