/**
 * The one-run tick planner: snapshot + observations + now → every decision of one tick for one run
 * (see plan-cluster.ts, which plans every run of a cluster together). Every task of the run is
 * taken to run on the one target. PURE and deterministic. The plan's types live in tick-plan.ts and
 * are re-exported here for the code that imports them from this module.
 */
import type { ResolvedPipeline } from '../pipeline/resolved-pipeline.js'
import { planRuns } from './plan-cluster.js'
import type { AttemptObservation, RunSnapshot } from './run-snapshot.js'
import type { PlanOptions, TickPlan } from './tick-plan.js'

export type {
  AdmissionVerdict,
  AttemptPatch,
  NativeDependency,
  PlannedCancellation,
  PlannedEvent,
  PlannedSubmission,
  PlanOptions,
  TaskPatch,
  TickPlan,
} from './tick-plan.js'
export { compareIds, submissionKeyFor } from './tick-plan.js'

/** The target's one cluster, as far as the planner is concerned. */
const THE_CLUSTER = ''

export function planTick(
  snapshot: RunSnapshot,
  observations: readonly AttemptObservation[],
  options: PlanOptions,
): TickPlan {
  const { admit, ...rest } = options
  const plans = planRuns(
    [{ snapshot, observations, cluster: THE_CLUSTER }],
    {
      ...rest,
      cluster: THE_CLUSTER,
      ...(admit ? { admit: (_run, task, definition) => admit(task, definition) } : {}),
    },
    () => THE_CLUSTER,
  )
  return plans.get(snapshot.id) as TickPlan
}

export type { ResolvedPipeline }
