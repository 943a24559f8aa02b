/**
 * A run as the store hands it out (RunRecord), as it is created (NewRun) and a tick's write of it
 * (PlanWrite): the types that the repository (run-store.ts), its row mapping (run-rows.ts) and its
 * events (transition-rows.ts) speak, in their own module so that none imports another for them.
 */
import type { TaskInstance } from '../core/pipeline/expand-pipeline.js'
import type { ResolvedPipeline } from '../core/pipeline/resolved-pipeline.js'
import type { AttemptPatch, PlannedEvent, TaskPatch } from '../core/scheduling/plan-tick.js'
import type { AttemptSnapshot, RunState } from '../core/scheduling/run-snapshot.js'
import type { ResourceUsage } from '../scheduler/scheduler-adapter.js'

export interface RunRecord {
  readonly id: string
  readonly pipelineName: string
  readonly project: string | null
  readonly cluster: string
  readonly specHash: string
  readonly pipeline: ResolvedPipeline
  readonly sourceFile: string
  readonly workDir: string
  readonly state: RunState
  readonly createdAt: string
  readonly updatedAt: string
  readonly finishedAt: string | null
  readonly lastTickAt: string | null
  /** Scheduler commands the last tick ran. */
  readonly lastTickCommands: number | null
  /** Who started the run; per-user budgets charge its jobs to this user. */
  readonly user: string | null
}

export interface NewRun {
  readonly id: string
  readonly pipeline: ResolvedPipeline
  readonly instances: readonly TaskInstance[]
  readonly cluster: string
  readonly specHash: string
  readonly sourceFile: string
  readonly workDir: string
  readonly now: string
  readonly user?: string | null
}

/** One tick's decisions for a run, as the store writes them in one transaction. */
export interface PlanWrite {
  readonly taskUpdates: ReadonlyMap<string, TaskPatch>
  readonly attemptUpdates: ReadonlyMap<string, AttemptPatch & { usage?: ResourceUsage | null }>
  /**
   * What jobs the plan left unchanged reported using (a running job's elapsed time grows every
   * poll): written only where it differs from what the attempt holds. @default none
   */
  readonly usageUpdates?: ReadonlyMap<string, ResourceUsage>
  /**
   * Pending jobs' starts as their scheduler expects them (ISO), by submission key; null where it
   * has no estimate (any longer). Written only where it differs. @default none
   */
  readonly expectedStartUpdates?: ReadonlyMap<string, string | null>
  readonly newTasks: readonly TaskInstance[]
  readonly newAttempts: readonly AttemptSnapshot[]
  readonly events: readonly PlannedEvent[]
  readonly runState: RunState
  readonly now: string
}
