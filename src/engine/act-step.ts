/**
 * The tick's act step: what the round's plans decided, done on the cluster ONCE — one cancel for
 * every run's doomed jobs, one submission batch for every run's new jobs (submit-step.ts).
 */
import type { TickPlan } from '../core/scheduling/plan-tick.js'
import { asNativeJobId } from '../scheduler/scheduler-adapter.js'
import { type RoundSubmission, type SubmitDeps, submitRound } from './submit-step.js'

export async function actRound(
  deps: SubmitDeps,
  runs: readonly (RoundSubmission & { readonly plan: TickPlan })[],
): Promise<Map<string, number>> {
  const doomed = runs.flatMap(({ plan }) =>
    plan.cancellations.flatMap((c) => (c.jobId ? [asNativeJobId(c.jobId)] : [])),
  )
  if (doomed.length > 0) {
    // best effort: a job that already left the queue needs no cancel, and the next round re-checks
    await deps.adapter
      .cancel(doomed)
      .catch((error: unknown) => deps.events.tickError('act', error, { what: `cancelling ${doomed.join(',')}` }))
  }
  return submitRound(deps, runs)
}
