/**
 * The tick's persist step: each run's plan as the store writes it, in one transaction per run. New attempts
 * are intents — `submitting` with their submission key, no job id — written BEFORE anything is sent,
 * so a crash between persist and submit is recovered by looking the keys up. What the jobs used so
 * far rides along with their attempts' updates, or on its own for a job whose attempt did not change;
 * so does a waiting job's start as the scheduler expects it.
 */
import type { TickPlan } from '../core/scheduling/plan-tick.js'
import type { AttemptObservation, AttemptSnapshot, RunSnapshot } from '../core/scheduling/run-snapshot.js'
import type { PlanWrite, RunStore } from '../store/run-store.js'

export function planWrite(plan: TickPlan, observations: readonly AttemptObservation[], now: string): PlanWrite {
  const newAttempts: AttemptSnapshot[] = plan.submissions
    .filter((s) => !s.resend)
    .map((s) => ({
      taskId: s.taskId,
      attempt: s.attempt,
      submissionKey: s.submissionKey,
      jobId: null,
      state: 'submitting',
      nativeState: null,
      exitCode: null,
      reason: null,
      submittedAt: now,
      startedAt: null,
      endedAt: null,
      missedPolls: 0,
      nodes: [],
      heldReason: s.hold ?? null,
    }))
  const usage = new Map(
    observations.flatMap((o) =>
      o.kind === 'observed' && o.job.usage ? [[o.submissionKey, o.job.usage] as const] : [],
    ),
  )
  const attemptUpdates = new Map(
    [...plan.attemptUpdates].map(([key, patch]) => [
      key,
      usage.has(key) ? { ...patch, usage: usage.get(key) ?? null } : patch,
    ]),
  )
  // the planner updates only attempts that changed; what an unchanged job used still reaches the
  // store, which skips a figure it already holds (a pending job's, an idle poll's)
  for (const key of attemptUpdates.keys()) usage.delete(key)
  return {
    taskUpdates: plan.taskUpdates,
    attemptUpdates,
    usageUpdates: usage,
    expectedStartUpdates: expectedStarts(observations),
    newTasks: plan.newTasks,
    newAttempts,
    events: plan.events,
    runState: plan.runState,
    now,
  }
}

/** The scheduler's start estimate of every job still waiting (null: it has none, or no longer). */
function expectedStarts(observations: readonly AttemptObservation[]): Map<string, string | null> {
  const starts = new Map<string, string | null>()
  for (const o of observations) {
    if (o.kind !== 'observed' || (o.job.state !== 'pending' && o.job.state !== 'held')) continue
    starts.set(o.submissionKey, o.job.expectedStartAt?.toISOString() ?? null)
  }
  return starts
}

/**
 * Write each run's plan, one transaction per run, before anything is submitted. A write the store
 * refuses (the run's state changed since the snapshot: a stop decided by another process) drops
 * that run from the round's acts; the others go on. Returns the runs whose plan was written.
 */
export async function persistRound<R extends { readonly snapshot: RunSnapshot }>(
  store: Pick<RunStore, 'applyPlan'>,
  runs: readonly R[],
  plans: ReadonlyMap<string, TickPlan>,
  observations: ReadonlyMap<string, readonly AttemptObservation[]>,
  now: string,
): Promise<{ applied: (R & { readonly plan: TickPlan })[]; refused: R[] }> {
  const applied: (R & { readonly plan: TickPlan })[] = []
  const refused: R[] = []
  for (const entry of runs) {
    const plan = plans.get(entry.snapshot.id)
    if (!plan) continue
    const write = planWrite(plan, observations.get(entry.snapshot.id) ?? [], now)
    if (await store.applyPlan(entry.snapshot.id, entry.snapshot.state, write)) applied.push({ ...entry, plan })
    else refused.push(entry)
  }
  return { applied, refused }
}
