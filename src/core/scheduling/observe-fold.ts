/**
 * The first half of planning a run: fold what the scheduler said this tick into the run's attempts
 * (job ids found by submission key, state changes, outputs, polls missed until a job is lost,
 * attempts to send again), then conclude the attempts that ended (success, cancellation, the
 * failure policy's decision). Pure: it changes only the run's planning context.
 */
import { canTransition, isTerminalJobState, type JobState } from '../job/job-state.js'
import { checkpointWarningKill } from '../retry/decide-after-ending.js'
import { concludeAttempt } from './conclude-attempt.js'
import { judgeDependencies } from './dependencies.js'
import type { Mutable, RunPlanning } from './run-planning.js'
import type { AttemptObservation, AttemptSnapshot, TaskSnapshot } from './run-snapshot.js'
import type { AttemptPatch } from './tick-plan.js'

export function foldObservations(plan: RunPlanning, observations: readonly AttemptObservation[]): void {
  if (observations.length === 0) return
  const byKey = new Map<string, string>()
  for (const attempt of plan.attempts.values()) byKey.set(attempt.submissionKey, attempt.taskId)
  for (const observation of observations) {
    const taskId = byKey.get(observation.submissionKey)
    // the attempt as folded so far: one attempt may be found and then observed in one tick
    const attempt = taskId === undefined ? undefined : plan.attempts.get(taskId)
    if (attempt) foldObservation(plan, attempt, observation)
  }
}

function foldObservation(plan: RunPlanning, attempt: AttemptSnapshot, observation: AttemptObservation): void {
  if (observation.kind === 'found') {
    if (attempt.state === 'submitting')
      plan.patchAttempt(attempt, { jobId: observation.jobId, state: 'pending', missedPolls: 0 })
    return
  }
  if (observation.kind === 'never-submitted') {
    if (attempt.state === 'submitting') plan.resends.push(attempt)
    return
  }
  if (observation.kind === 'missing') {
    if (attempt.state === 'submitting' || isTerminalJobState(attempt.state as JobState)) return
    const missedPolls = attempt.missedPolls + 1
    if (missedPolls < plan.rules.lostAfterMissedPolls) {
      plan.patchAttempt(attempt, { missedPolls })
      return
    }
    // missing is never success: the job is lost and the retry policy decides what happens next
    const reason = `lost: the scheduler stopped reporting job ${attempt.jobId} (${missedPolls} polls)`
    plan.patchAttempt(attempt, { missedPolls, state: 'unknown', reason, endedAt: plan.nowIso })
    plan.event({ type: 'task:lost', taskId: attempt.taskId, message: reason })
    return
  }
  const job = observation.job
  if (!canTransition(attempt.state === 'submitting' ? 'pending' : (attempt.state as JobState), job.state)) return
  const patch: Mutable<AttemptPatch> = {
    state: job.state,
    nativeState: job.nativeState,
    missedPolls: 0,
    exitCode: job.exitCode,
    reason: job.reason ?? attempt.reason,
    startedAt: job.startedAt ? job.startedAt.toISOString() : attempt.startedAt,
    endedAt: job.endedAt ? job.endedAt.toISOString() : isTerminalJobState(job.state) ? plan.nowIso : null,
  }
  if (job.nodes && job.nodes.length > 0 && !sameNodes(job.nodes, attempt.nodes)) patch.nodes = job.nodes
  const task = plan.tasks.get(attempt.taskId)
  const warningKill = task && job.state === 'failed' ? checkpointWarningKill(job, plan.definitionOf(task)) : null
  if (warningKill !== null) {
    patch.state = 'timeout'
    patch.reason = warningKill
  }
  if (task && attempt.startedAt === null && patch.startedAt) {
    plan.event({ type: 'task:started', taskId: attempt.taskId, message: `attempt ${attempt.attempt} started` })
    if (task.startedAt === null) plan.patchTask(task.id, { startedAt: patch.startedAt })
  }
  if (job.state === 'succeeded' && task) {
    if (observation.outputsError) {
      patch.state = 'failed'
      patch.reason = observation.outputsError
    } else {
      plan.patchTask(task.id, { outputs: observation.outputs ?? null })
    }
  }
  plan.patchAttempt(attempt, patch)
}

/** The same node list as joined with commas (the way it was compared before), without building the strings. */
function sameNodes(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === b.length && a.every((node, i) => node === b[i])) return true
  return a.join() === b.join()
}

/** Decide what each attempt that ended means for its task. */
export function concludeEndings(plan: RunPlanning): void {
  let cancelled: [TaskSnapshot, AttemptSnapshot][] | null = null
  for (const attempt of plan.attempts.values()) {
    const task = plan.tasks.get(attempt.taskId)
    // a lost job (unknown after lostAfterMissedPolls polls) has ended as far as rpo can tell: the retry policy decides
    const lost = attempt.state === 'unknown' && attempt.missedPolls >= plan.rules.lostAfterMissedPolls
    if (task?.state !== 'active' || !(isTerminalJobState(attempt.state as JobState) || lost)) continue
    if (attempt.state !== 'cancelled') concludeAttempt(plan, task, attempt)
    else if (cancelled) cancelled.push([task, attempt])
    else cancelled = [[task, attempt]]
  }
  if (cancelled === null) return
  // the scheduler cancels a queued dependent whose upstream failed (kill-on-invalid-dep): that is
  // the upstream's failure showing, not a user's cancel — judged after every upstream was concluded
  const groups = plan.groups()
  for (const [task, attempt] of cancelled) {
    const verdict = judgeDependencies(plan.definitionOf(task).after, groups)
    if (verdict.kind === 'upstream-failed') {
      plan.patchTask(task.id, { state: 'upstream_failed', reason: verdict.reason, endedAt: plan.nowIso })
      plan.event({ type: 'task:upstream-failed', taskId: task.id, message: verdict.reason })
    } else if (verdict.kind === 'wait') {
      // an upstream has not ended as far as rpo knows, so this job cannot have run (afterok): squeue
      // showed the scheduler's cancel before accounting gave the upstream's ending (an exit 85 to
      // resume, a failure to retry). The dependent waits for its upstream again
      plan.patchTask(task.id, {
        state: 'pending',
        reason: 'its queued job was cancelled by the scheduler as an upstream ended; it waits for the upstream again',
      })
    } else {
      concludeAttempt(plan, task, attempt)
    }
  }
}
