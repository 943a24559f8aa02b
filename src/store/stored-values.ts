/**
 * Reading back what rpo wrote: every JSON column and every state column of the store goes through
 * here, so a value damaged behind rpo's back (a hand edit, a bit flip, a NULL) is reported as
 * "store corrupted: run X, column Y (what was found)" instead of a parse error deep in a command.
 */
import { StoreCorrupted } from '../core/errors.js'
import { JOB_STATES } from '../core/job/job-state.js'
import type { AttemptState, RunState, TaskState } from '../core/scheduling/run-snapshot.js'
import { TaskState as TaskStates } from '../core/scheduling/run-snapshot.js'

/** Which value a column holds and where it is, for the message. */
export interface StoredAt {
  readonly runId: string | null
  /** The column, with its row when the run does not say it, e.g. `tasks.params_json of task a`. */
  readonly column: string
  readonly description: string
}

type Shape = 'object' | 'array' | 'any' | 'pipeline'

/** A JSON column's value, checked to be the kind of JSON rpo writes there. */
export function parseStoredJson<T>(text: unknown, shape: Shape, at: StoredAt): T {
  if (typeof text !== 'string') throw corrupted(at, text === null ? 'null' : `${typeof text}, not JSON text`)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw corrupted(at, `not JSON: ${JSON.stringify(excerpt(text))}`)
  }
  const wrong = shapeProblem(value, shape)
  if (wrong) throw corrupted(at, wrong)
  return value as T
}

/** A nullable JSON column: null stays null. */
export function parseOptionalJson<T>(text: unknown, shape: Shape, at: StoredAt): T | null {
  return text === null || text === undefined ? null : parseStoredJson<T>(text, shape, at)
}

// a Record, so a run state added to RunState cannot be forgotten here (it would read as corruption)
const RUN_STATE_NAMES: Readonly<Record<RunState, true>> = {
  running: true,
  interrupting: true,
  interrupted: true,
  cancelling: true,
  succeeded: true,
  failed: true,
  cancelled: true,
}
const RUN_STATES: ReadonlySet<string> = new Set(Object.keys(RUN_STATE_NAMES))
const TASK_STATES: ReadonlySet<string> = new Set<string>(Object.values(TaskStates))
const ATTEMPT_STATES: ReadonlySet<string> = new Set<string>(['submitting', ...JOB_STATES])

export function runStateOf(value: unknown, at: StoredAt): RunState {
  return checkedState(value, RUN_STATES, at) as RunState
}

export function taskStateOf(value: unknown, at: StoredAt): TaskState {
  return checkedState(value, TASK_STATES, at) as TaskState
}

export function attemptStateOf(value: unknown, at: StoredAt): AttemptState {
  return checkedState(value, ATTEMPT_STATES, at) as AttemptState
}

function checkedState(value: unknown, known: ReadonlySet<string>, at: StoredAt): string {
  if (typeof value === 'string' && known.has(value)) return value
  throw corrupted(at, `${JSON.stringify(value)} is not a state rpo writes`)
}

function shapeProblem(value: unknown, shape: Shape): string | null {
  if (shape === 'any') return null
  if (shape === 'array') return Array.isArray(value) ? null : `${kindOf(value)} where a list belongs`
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return `${kindOf(value)} where ${shape === 'pipeline' ? 'the pipeline' : 'an object'} belongs`
  if (shape === 'pipeline') {
    const pipeline = value as { name?: unknown; tasks?: unknown }
    if (typeof pipeline.name !== 'string' || !Array.isArray(pipeline.tasks))
      return 'an object without the pipeline’s name and tasks'
  }
  return null
}

function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return `a string ${JSON.stringify(excerpt(value))}`
  return `a ${typeof value}`
}

function excerpt(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text
}

function corrupted(at: StoredAt, found: string): StoreCorrupted {
  return new StoreCorrupted({ runId: at.runId, column: at.column }, found, at.description)
}
