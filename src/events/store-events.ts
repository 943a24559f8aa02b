/**
 * What the store's writes say as events, decided here and written by the store in the same
 * transaction as the write they describe (pure: no I/O, no clock). Two sources: state changes
 * (a run's, a task's or an attempt's state before and after the write) and a run's journal
 * entries (resumes, checkpoint warnings, budget actions: things that are not a state change).
 */
import type { AttemptState, RunState, TaskState } from '../core/scheduling/run-snapshot.js'
import type { NewRpoEvent } from './event-schemas.js'

/** Where and when: the run a write belongs to, its project and the write's time. */
export interface WriteContext {
  readonly at: string
  readonly project: string | null
  readonly runId: string
}

const TERMINAL_RUN_STATES: ReadonlySet<RunState> = new Set(['succeeded', 'failed', 'cancelled'])

export function runStartedEvent(
  context: WriteContext,
  run: { readonly pipeline: string; readonly cluster: string; readonly tasks: number; readonly user: string | null },
): NewRpoEvent {
  return { ...envelope(context, null), type: 'run.started', payload: run }
}

export function runStateEvents(context: WriteContext, from: RunState, to: RunState): NewRpoEvent[] {
  if (from === to) return []
  return TERMINAL_RUN_STATES.has(to)
    ? [{ ...envelope(context, null), type: 'run.finished', payload: { from, state: to } }]
    : [{ ...envelope(context, null), type: 'run.state', payload: { from, to } }]
}

export function taskStateEvents(
  context: WriteContext,
  taskId: string,
  from: TaskState,
  to: TaskState,
  reason: string | null,
): NewRpoEvent[] {
  if (from === to) return []
  return [{ ...envelope(context, taskId), type: 'task.state', payload: { from, to, reason } }]
}

export interface AttemptChange {
  readonly taskId: string
  readonly attempt: number
  readonly submissionKey: string
  readonly jobId: string | null
  /** null: the attempt is new. */
  readonly from: AttemptState | null
  readonly to: AttemptState
  readonly exitCode: number | null
  readonly reason: string | null
  readonly nodes: readonly string[]
}

/** An attempt's state change; a node failure is also said on its own, for those who watch nodes. */
export function attemptStateEvents(context: WriteContext, change: AttemptChange): NewRpoEvent[] {
  if (change.from === change.to) return []
  const base = envelope(context, change.taskId)
  const events: NewRpoEvent[] = [
    {
      ...base,
      type: 'attempt.state',
      payload: {
        attempt: change.attempt,
        submissionKey: change.submissionKey,
        jobId: change.jobId,
        from: change.from,
        to: change.to,
        exitCode: change.exitCode,
        reason: change.reason,
      },
    },
  ]
  if (change.to === 'node_fail')
    events.push({
      ...base,
      type: 'node.failed',
      payload: {
        nodes: [...change.nodes],
        jobId: change.jobId,
        attempt: change.attempt,
        submissionKey: change.submissionKey,
      },
    })
  return events
}

/** A run journal entry as the store receives it (the planner's PlannedEvent, or one the engine adds). */
export interface JournalEntry {
  readonly type: string
  readonly taskId: string | null
  readonly message: string
  readonly data?: Readonly<Record<string, unknown>> | undefined
}

const CHECKPOINT_PROBLEMS: Readonly<Record<string, string>> = {
  'checkpoint:save-failed': 'save-failed',
  'checkpoint:manifest-rebuilt': 'manifest-rebuilt',
}
const BUDGET_ACTIONS = ['hold', 'release', 'requeue', 'cancel'] as const
export type BudgetAction = (typeof BUDGET_ACTIONS)[number]

/**
 * The journal entry of a budget action on a job, which `journalEvents` reads back as a
 * `budget.action` event: written by enforcement (src/budget/apply-enforcement.ts) and by the submit
 * step for a job a budget sends out held.
 */
export function budgetActionEntry(
  action: BudgetAction,
  job: { readonly taskId: string; readonly jobId: string; readonly attempt: number },
  reason: string,
): JournalEntry {
  return {
    type: `budget:${action}`,
    taskId: job.taskId,
    message: `${action} job ${job.jobId}: ${reason}`,
    data: { jobId: job.jobId, attempt: job.attempt, reason },
  }
}

/**
 * The events a journal entry stands for. Entries that only put a state change into words
 * (task:started, task:failed, run:finished, ...) stand for none: the state change is its own event.
 */
export function journalEvents(context: WriteContext, entry: JournalEntry, resumes?: number | null): NewRpoEvent[] {
  const data = entry.data ?? {}
  const base = envelope(context, entry.taskId)
  switch (entry.type) {
    case 'task:resuming':
      return [
        {
          ...base,
          type: 'attempt.resumed',
          payload: {
            resumes: resumes ?? null,
            endedAs: text(data.state),
            exitCode: integer(data.exitCode),
            reason: entry.message,
          },
        },
      ]
    case 'task:checkpoint-requested':
      return [
        {
          ...base,
          type: 'checkpoint.warned',
          payload: {
            attempt: positive(data.attempt),
            jobId: text(data.jobId),
            signal: text(data.signal),
            message: entry.message,
          },
        },
      ]
    case 'task:checkpoint': {
      if (data.event === 'checkpoint:skipped')
        return [
          {
            ...base,
            type: 'checkpoint.skipped',
            payload: {
              attempt: positive(data.attempt),
              file: text(data.file),
              step: typeof data.step === 'number' && Number.isFinite(data.step) ? data.step : null,
              reason: text(data.reason),
              message: entry.message,
            },
          },
        ]
      const problem =
        typeof data.event === 'string' ? CHECKPOINT_PROBLEMS[data.event] : data.unreadable ? 'unreadable-events' : null
      if (!problem) return []
      return [
        {
          ...base,
          type: 'checkpoint.problem',
          payload: { attempt: positive(data.attempt), problem, message: entry.message },
        },
      ]
    }
    default: {
      const action = BUDGET_ACTIONS.find((a) => entry.type === `budget:${a}`)
      if (!action) return []
      return [
        {
          ...base,
          type: 'budget.action',
          payload: {
            action,
            jobId: text(data.jobId) ?? '',
            attempt: positive(data.attempt),
            reason: text(data.reason) ?? entry.message,
          },
        },
      ]
    }
  }
}

function envelope(context: WriteContext, taskId: string | null) {
  return { at: context.at, project: context.project, runId: context.runId, taskId }
}

// journal data is free-form: each field is taken only when it has the type the schema wants
function text(value: unknown): string | null {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : null
}
function integer(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) ? value : null
}
function positive(value: unknown): number | null {
  const n = integer(value)
  return n !== null && n > 0 ? n : null
}
