/**
 * The events a run-store write stands for, found inside that write's transaction: the rows' states
 * are read just before they are changed, so an event says the change the write really made (not
 * what a possibly stale snapshot expected), and is committed — or rolled back — with it.
 */
import type { Transaction } from 'kysely'
import type { AttemptPatch } from '../core/scheduling/plan-tick.js'
import type { AttemptState, RunState } from '../core/scheduling/run-snapshot.js'
import type { NewRpoEvent } from '../events/event-schemas.js'
import {
  attemptStateEvents,
  type JournalEntry,
  journalEvents,
  runStateEvents,
  taskStateEvents,
  type WriteContext,
} from '../events/store-events.js'
import type { Database } from './database.js'
import type { PlanWrite } from './run-records.js'
import { attemptStateOf, parseOptionalJson, taskStateOf } from './stored-values.js'

// keys per `in (...)` list: well within both databases' bound-parameter limits
const KEYS_PER_QUERY = 500

/** The events of one plan write, in the order things happened: jobs, then tasks, then the run. */
export async function eventsOfPlan(
  trx: Transaction<Database>,
  context: WriteContext & { readonly description: string },
  fromRunState: RunState,
  plan: PlanWrite,
): Promise<NewRpoEvent[]> {
  const events: NewRpoEvent[] = []
  events.push(...(await attemptChangeEvents(trx, context, plan.attemptUpdates)))
  for (const attempt of plan.newAttempts)
    events.push(
      ...attemptStateEvents(context, {
        taskId: attempt.taskId,
        attempt: attempt.attempt,
        submissionKey: attempt.submissionKey,
        jobId: attempt.jobId,
        from: null,
        to: attempt.state,
        exitCode: attempt.exitCode,
        reason: attempt.reason,
        nodes: attempt.nodes,
      }),
    )

  const changed = [...plan.taskUpdates].filter(([, patch]) => patch.state !== undefined).map(([id]) => id)
  const before = new Map<string, string>()
  for (const chunk of chunks(changed)) {
    const rows = await trx
      .selectFrom('tasks')
      .select(['id', 'state'])
      .where('run_id', '=', context.runId)
      .where('id', 'in', chunk)
      .execute()
    for (const row of rows) before.set(row.id, row.state)
  }
  const said = new Map<string, string>()
  // the planner's last words on a task in this plan are about where it ended up (a start then a failure)
  for (const entry of plan.events) if (entry.taskId !== null) said.set(entry.taskId, entry.message)
  for (const id of changed) {
    const patch = plan.taskUpdates.get(id)
    const from = before.get(id)
    if (!patch?.state || from === undefined) continue
    const at = { runId: context.runId, column: `state of task ${id}`, description: context.description }
    events.push(
      ...taskStateEvents(context, id, taskStateOf(from, at), patch.state, said.get(id) ?? patch.reason ?? null),
    )
  }
  for (const entry of plan.events)
    events.push(...journalEvents(context, entry, entry.taskId ? plan.taskUpdates.get(entry.taskId)?.resumes : null))
  events.push(...runStateEvents(context, fromRunState, plan.runState))
  return events
}

/** Attempt state changes of a write; each attempt's run and project are read with it. */
export async function attemptChangeEvents(
  trx: Transaction<Database>,
  context: { readonly at: string; readonly description: string },
  updates: ReadonlyMap<string, AttemptPatch>,
): Promise<NewRpoEvent[]> {
  const keys = [...updates].filter(([, patch]) => patch.state !== undefined).map(([key]) => key)
  const events: NewRpoEvent[] = []
  for (const chunk of chunks(keys)) {
    const rows = await trx
      .selectFrom('attempts')
      .innerJoin('runs', 'runs.id', 'attempts.run_id')
      .select([
        'attempts.run_id',
        'attempts.task_id',
        'attempts.attempt',
        'attempts.submission_key',
        'attempts.job_id',
        'attempts.state',
        'attempts.exit_code',
        'attempts.reason',
        'attempts.nodes_json',
        'runs.project',
      ])
      .where('attempts.submission_key', 'in', chunk)
      .execute()
    for (const row of rows) {
      const patch = updates.get(row.submission_key) as AttemptPatch & { state: AttemptState }
      const at = (column: string) => ({
        runId: row.run_id,
        column: `${column} of attempt ${row.submission_key}`,
        description: context.description,
      })
      events.push(
        ...attemptStateEvents(
          { at: context.at, project: row.project, runId: row.run_id },
          {
            taskId: row.task_id,
            attempt: Number(row.attempt),
            submissionKey: row.submission_key,
            jobId: patch.jobId !== undefined ? patch.jobId : row.job_id,
            from: attemptStateOf(row.state, at('state')),
            to: patch.state,
            exitCode:
              patch.exitCode !== undefined ? patch.exitCode : row.exit_code === null ? null : Number(row.exit_code),
            reason: patch.reason !== undefined ? patch.reason : row.reason,
            nodes: patch.nodes ?? parseOptionalJson<string[]>(row.nodes_json, 'array', at('nodes_json')) ?? [],
          },
        ),
      )
    }
  }
  return events
}

/** The events of journal entries appended on their own (checkpoint warnings, budget actions). */
export function eventsOfJournal(context: WriteContext, entries: readonly JournalEntry[]): NewRpoEvent[] {
  return entries.flatMap((entry) => journalEvents(context, entry))
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += KEYS_PER_QUERY) out.push(items.slice(i, i + KEYS_PER_QUERY))
  return out
}
