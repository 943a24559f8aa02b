/**
 * The planner's vocabulary: the options a tick is planned with, budget admission verdicts, and the
 * plan itself (task and attempt patches, submissions with their native dependencies, cancellations,
 * events, the run's state). Types only, plus the two naming rules every part of a plan shares, so
 * that the planner's modules and the engine import them from one place.
 */
import type { TaskInstance } from '../pipeline/expand-pipeline.js'
import type { ResolvedTask } from '../pipeline/resolved-pipeline.js'
import type { AttemptSnapshot, Capacity, RunState, TaskSnapshot } from './run-snapshot.js'

export interface PlanOptions {
  readonly now: number
  /** Total capacity rpo may fill; null when the scheduler queues work itself (Slurm, PBS). */
  readonly capacity: Capacity | null
  /** Upper bound on attempts in flight at once. */
  readonly maxActive: number
  /** Polls a job may be missing from the scheduler's answers before it is declared lost. */
  readonly lostAfterMissedPolls: number
  /**
   * The scheduler enforces dependencies itself (Slurm, PBS): a task may be submitted while its
   * upstreams are still queued or running, with a dependency on their jobs. @default false
   */
  readonly nativeDependencies?: boolean
  /**
   * The scheduler enforces a task's `maxParallel` itself (Slurm job arrays with a %k throttle);
   * otherwise the planner keeps at most that many instances in flight. @default false
   */
  readonly schedulerThrottles?: boolean
  /** A dependency on an array instance waits for its whole array (PBS): see SchedulerCapabilities. */
  readonly wholeArrayDependencies?: boolean
  /**
   * Budget admission, asked for each task about to be submitted, in submission order (it may
   * reserve what it admits): `hold` submits the job held on the scheduler, `wait` keeps the task
   * pending (where the scheduler cannot hold). Both carry the reason, shown on the task.
   */
  readonly admit?: (task: TaskSnapshot, definition: ResolvedTask) => AdmissionVerdict
}

export type AdmissionVerdict =
  | { readonly kind: 'admit' }
  | { readonly kind: 'hold'; readonly reason: string }
  | { readonly kind: 'wait'; readonly reason: string }

/** A dependency the scheduler must enforce: on an upstream attempt in flight (or submitted this tick). */
export interface NativeDependency {
  readonly taskId: string
  readonly submissionKey: string
  readonly condition: 'succeeded' | 'finished'
}

export type TaskPatch = Partial<Omit<TaskSnapshot, 'id' | 'group' | 'kind'>>
export type AttemptPatch = Partial<Omit<AttemptSnapshot, 'taskId' | 'attempt' | 'submissionKey'>>

export interface PlannedSubmission {
  readonly taskId: string
  readonly attempt: number
  readonly submissionKey: string
  /** True when this re-sends an attempt that was written but never reached the scheduler. */
  readonly resend: boolean
  /** Upstream jobs still in flight; an upstream submitted this tick comes earlier in the list. */
  readonly dependsOn: readonly NativeDependency[]
  /** Submit held, for this reason (a budget): released by the budget enforcement. */
  readonly hold?: string
}

export type PlannedEvent = {
  readonly type:
    | 'task:started'
    | 'task:succeeded'
    | 'task:failed'
    | 'task:retrying'
    | 'task:resuming'
    | 'task:checkpoint-requested'
    | 'task:checkpoint'
    | 'task:skipped'
    | 'task:upstream-failed'
    | 'task:cancelled'
    | 'task:expanded'
    | 'task:lost'
    /** The GPU placement of an attempt at submission (src/engine/gpu-placement-step.ts). */
    | 'task:placed'
    | 'run:finished'
    | 'run:resumed'
    | 'run:stopped'
  readonly taskId: string | null
  readonly message: string
  readonly data?: Readonly<Record<string, unknown>>
}

export interface PlannedCancellation {
  readonly taskId: string
  readonly submissionKey: string
  readonly jobId: string | null
}

export interface TickPlan {
  /** Attempts to cancel on the scheduler: their upstream failed, or is being retried. */
  readonly cancellations: readonly PlannedCancellation[]
  readonly attemptUpdates: ReadonlyMap<string, AttemptPatch>
  readonly taskUpdates: ReadonlyMap<string, TaskPatch>
  readonly newTasks: readonly TaskInstance[]
  readonly submissions: readonly PlannedSubmission[]
  readonly runState: RunState
  readonly events: readonly PlannedEvent[]
}

export function submissionKeyFor(runId: string, taskId: string, attempt: number): string {
  return `rpo.${runId}.${taskId}.${attempt}`
}

// one collator for every comparison: localeCompare with options builds one per call, which
// dominated ordering the ready work of 1,000 runs
const ids = new Intl.Collator('en', { numeric: true })

/** `train.2` before `train.10`. */
export function compareIds(a: string, b: string): number {
  return ids.compare(a, b)
}
