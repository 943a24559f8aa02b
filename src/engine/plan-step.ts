/**
 * The tick's plan step: every run of a cluster round planned together by the pure planner
 * (planCluster): each run advanced on its own, then the ready work of all runs admitted in one
 * cross-run order — higher-ranked runs first — against the cluster's shared limits and budgets.
 * This module only shapes its input.
 */
import { type ClusterPlanOptions, planCluster, type RunPlanInput } from '../core/scheduling/plan-cluster.js'
import type { TickPlan } from '../core/scheduling/plan-tick.js'

export type { ClusterPlanOptions, RunPlanInput }

/** Each run's plan, by run id. */
export function planRound(runs: readonly RunPlanInput[], options: ClusterPlanOptions): ReadonlyMap<string, TickPlan> {
  return planCluster(runs, options)
}
