/**
 * The tick's plan step: every run of a cluster round planned together, the runs of higher rank
 * first (their ready work is admitted first against budgets and capacity). The decision is the
 * pure planner's; this module only shapes its input.
 */
import type { ResolvedTask } from '../core/pipeline/resolved-pipeline.js'
import { type AdmissionVerdict, type PlanOptions, planTick, type TickPlan } from '../core/scheduling/plan-tick.js'
import type { AttemptObservation, RunSnapshot, TaskSnapshot } from '../core/scheduling/run-snapshot.js'

export interface RunPlanInput {
  readonly snapshot: RunSnapshot
  readonly observations: readonly AttemptObservation[]
  /** The run's default cluster. */
  readonly cluster: string
  /** Higher first. */
  readonly rank?: number
}

export interface ClusterPlanOptions extends Omit<PlanOptions, 'admit'> {
  readonly cluster: string
  readonly admit?: (run: RunSnapshot, task: TaskSnapshot, definition: ResolvedTask) => AdmissionVerdict
}

/** Each run's plan, by run id. */
export function planRound(runs: readonly RunPlanInput[], options: ClusterPlanOptions): ReadonlyMap<string, TickPlan> {
  const { admit, cluster: _cluster, ...planOptions } = options
  const ordered = [...runs].sort((a, b) => (b.rank ?? 0) - (a.rank ?? 0) || (a.snapshot.id < b.snapshot.id ? -1 : 1))
  const plans = new Map<string, TickPlan>()
  for (const input of ordered) {
    const runAdmit = admit
      ? (task: TaskSnapshot, definition: ResolvedTask) => admit(input.snapshot, task, definition)
      : null
    plans.set(
      input.snapshot.id,
      planTick(input.snapshot, input.observations, { ...planOptions, ...(runAdmit ? { admit: runAdmit } : {}) }),
    )
  }
  return plans
}
