/**
 * The tick's persist step: one tick's plan as the store writes it in one transaction. New attempts
 * are intents — `submitting` with their submission key, no job id — written BEFORE anything is sent,
 * so a crash between persist and submit is recovered by looking the keys up. What the jobs used so
 * far rides along with their attempts' updates.
 */
import type { TickPlan } from '../core/scheduling/plan-tick.js'
import type { AttemptObservation, AttemptSnapshot } from '../core/scheduling/run-snapshot.js'
import type { PlanWrite } from '../store/run-store.js'

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
  return {
    taskUpdates: plan.taskUpdates,
    attemptUpdates,
    newTasks: plan.newTasks,
    newAttempts,
    events: plan.events,
    runState: plan.runState,
    now,
  }
}
