/**
 * The state of one run as the pure planner sees it: tasks, their latest attempts, and what the
 * scheduler reported this tick. Built by the engine from the store; never touched by I/O here.
 */

import { RpoError } from '../errors.js'
import type { JobObservation } from '../job/job-observation.js'
import type { JobState } from '../job/job-state.js'
import type { TaskInstance } from '../pipeline/expand-pipeline.js'
import type { ResolvedPipeline, ResolvedTask, Scalar } from '../pipeline/resolved-pipeline.js'
import { suggest } from '../text/suggest.js'

export const TaskState = {
  pending: 'pending',
  active: 'active',
  retry_wait: 'retry_wait',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
  skipped: 'skipped',
  upstream_failed: 'upstream_failed',
  expanded: 'expanded',
} as const
export type TaskState = (typeof TaskState)[keyof typeof TaskState]

export const TERMINAL_TASK_STATES: ReadonlySet<TaskState> = new Set<TaskState>([
  'succeeded',
  'failed',
  'cancelled',
  'skipped',
  'upstream_failed',
  'expanded',
])

export function isTerminalTaskState(state: TaskState): boolean {
  return TERMINAL_TASK_STATES.has(state)
}

/** `interrupting` and `cancelling`: a stop was decided and is under way (or its process died mid-stop). */
export type RunState = 'running' | 'interrupting' | 'interrupted' | 'cancelling' | 'succeeded' | 'failed' | 'cancelled'
export const TERMINAL_RUN_STATES: ReadonlySet<RunState> = new Set<RunState>(['succeeded', 'failed', 'cancelled'])

/** An attempt is `submitting` from the moment its key is written until the scheduler returns a job id. */
export type AttemptState = 'submitting' | JobState

export interface AttemptSnapshot {
  readonly taskId: string
  readonly attempt: number
  readonly submissionKey: string
  readonly jobId: string | null
  readonly state: AttemptState
  readonly nativeState: string | null
  readonly exitCode: number | null
  readonly reason: string | null
  readonly submittedAt: string
  readonly startedAt: string | null
  readonly endedAt: string | null
  /** Consecutive polls that did not report this job. */
  readonly missedPolls: number
  /** Nodes the job ran on, as the scheduler reported them. */
  readonly nodes: readonly string[]
  /** Why rpo holds the job for a budget (submitted held, or held later); absent/null when it does not. */
  readonly heldReason?: string | null
  /** The nice value rpo last set on the pending job. */
  readonly nice?: number | null
  /** ISO time the scheduler expects the pending job to start (its own estimate), when it gave one. */
  readonly expectedStartAt?: string | null
}

/** What the failure policy changed for a task's next attempts. */
export interface TaskOverrides {
  /** Escalated after out-of-memory endings. */
  readonly memoryMb?: number
  /** Escalated after time-limit endings of a task without a checkpoint. */
  readonly timeLimitSeconds?: number
  /** Nodes a job of this task failed on. */
  readonly excludeNodes?: readonly string[]
}

/** What a task's next attempt asks for: its declared resources with the failure policy's memory and time. */
export function attemptResources(definition: ResolvedTask, overrides: TaskOverrides | null): ResolvedTask['resources'] {
  if (overrides?.memoryMb === undefined && overrides?.timeLimitSeconds === undefined) return definition.resources
  return {
    ...definition.resources,
    ...(overrides.memoryMb === undefined ? {} : { memoryMb: overrides.memoryMb }),
    ...(overrides.timeLimitSeconds === undefined ? {} : { timeLimitSeconds: overrides.timeLimitSeconds }),
  }
}

export interface TaskSnapshot {
  readonly id: string
  readonly group: string
  readonly kind: 'task' | 'foreach-template'
  readonly state: TaskState
  readonly reason: string | null
  readonly params: Readonly<Record<string, Scalar>>
  readonly item: unknown
  readonly command: string
  /** Attempts made so far (numbers attempts). */
  readonly attempts: number
  /** Failed attempts that count against the retry policy (interruptions do not). */
  readonly failures: number
  /** Attempts started again from a checkpoint (exit 85, time limit, node failure, preemption). */
  readonly resumes: number
  readonly overrides: TaskOverrides | null
  readonly nextAttemptAt: string | null
  readonly outputs: Readonly<Record<string, unknown>> | null
  readonly startedAt: string | null
  readonly endedAt: string | null
}

export interface RunSnapshot {
  readonly id: string
  readonly state: RunState
  readonly pipeline: ResolvedPipeline
  /** In creation order; instances of one group are contiguous and groups are in topological order. */
  readonly tasks: readonly TaskSnapshot[]
  /** The latest attempt of every task that has one. */
  readonly latestAttempts: readonly AttemptSnapshot[]
}

/** What the engine learned about one attempt this tick. */
export type AttemptObservation =
  | {
      readonly kind: 'observed'
      readonly submissionKey: string
      readonly job: JobObservation
      readonly outputs?: Readonly<Record<string, unknown>> | null
      readonly outputsError?: string | null
    }
  | { readonly kind: 'missing'; readonly submissionKey: string }
  /** A `submitting` attempt the scheduler knows under this id (found by submission key). */
  | { readonly kind: 'found'; readonly submissionKey: string; readonly jobId: string }
  /** A `submitting` attempt the scheduler has never seen: it may be submitted again with the same key. */
  | { readonly kind: 'never-submitted'; readonly submissionKey: string }

export interface Capacity {
  readonly cpus: number
  readonly memoryMb: number
  /** GPUs by type. */
  readonly gpus: Readonly<Record<string, number>>
}

/** A task as it is before anything ran: pending, no attempts, no outputs. */
export function newTaskSnapshot(instance: TaskInstance): TaskSnapshot {
  return {
    id: instance.id,
    group: instance.group,
    kind: instance.kind,
    state: 'pending',
    reason: null,
    params: instance.params,
    item: instance.item,
    command: instance.command,
    attempts: 0,
    failures: 0,
    resumes: 0,
    overrides: null,
    nextAttemptAt: null,
    outputs: null,
    startedAt: null,
    endedAt: null,
  }
}

/** The task `taskId` of the run, or a task-not-found error with the closest id as a suggestion. */
export function requireTask(snapshot: RunSnapshot, taskId: string): TaskSnapshot {
  const task = snapshot.tasks.find((t) => t.id === taskId)
  if (task) return task
  const hint = suggest(
    taskId,
    snapshot.tasks.map((t) => t.id),
  )
  throw new RpoError(
    'task-not-found',
    `run ${snapshot.id} has no task "${taskId}"${hint ? `; did you mean "${hint}"?` : ''}`,
  )
}
