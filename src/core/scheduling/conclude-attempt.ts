/**
 * What an attempt's ending means for its task: succeeded, cancelled, or the failure policy's
 * decision (resume, retry with backoff, fail), as task patches and events for the tick plan. Pure.
 */
import type { RetryableEnding } from '../pipeline/resolved-pipeline.js'
import { decideAfterEnding } from '../retry/decide-after-ending.js'
import type { RunPlanning } from './run-planning.js'
import type { AttemptSnapshot, TaskSnapshot } from './run-snapshot.js'

export function concludeAttempt(plan: RunPlanning, task: TaskSnapshot, attempt: AttemptSnapshot): void {
  const definition = plan.definitionOf(task)
  const { nowIso } = plan
  if (attempt.state === 'succeeded') {
    plan.patchTask(task.id, { state: 'succeeded', reason: null, endedAt: attempt.endedAt ?? nowIso })
    plan.event({ type: 'task:succeeded', taskId: task.id, message: `succeeded on attempt ${attempt.attempt}` })
    return
  }
  const why = describeEnding(attempt)
  if (attempt.state === 'cancelled') {
    plan.patchTask(task.id, { state: 'cancelled', reason: why, endedAt: nowIso })
    plan.event({ type: 'task:cancelled', taskId: task.id, message: why })
    return
  }
  const decision = decideAfterEnding(
    {
      state: attempt.state === 'unknown' ? 'unknown' : (attempt.state as RetryableEnding),
      exitCode: attempt.exitCode,
      nodes: attempt.nodes,
      why,
      evidence: attempt.state === 'out_of_memory' ? attempt.reason : null,
    },
    task,
    definition,
  )
  if (decision.kind === 'resume') {
    plan.patchTask(task.id, {
      state: 'retry_wait',
      resumes: decision.resumes,
      overrides: decision.overrides,
      reason: decision.why,
      nextAttemptAt: nowIso,
    })
    plan.event({
      type: 'task:resuming',
      taskId: task.id,
      message: `${decision.why} (resume ${decision.resumes}/${definition.checkpoint?.maxResumes})`,
      data: { exitCode: attempt.exitCode, state: attempt.state, nodes: attempt.nodes },
    })
    return
  }
  if (decision.kind === 'retry') {
    const nextAttemptAt = new Date(plan.rules.now + decision.delaySeconds * 1000).toISOString()
    plan.patchTask(task.id, {
      state: 'retry_wait',
      failures: decision.failures,
      overrides: decision.overrides,
      reason: decision.why,
      nextAttemptAt,
    })
    plan.event({
      type: 'task:retrying',
      taskId: task.id,
      message: `${decision.why}; retry ${decision.failures}/${definition.retry.maxRetries} in ${decision.delaySeconds}s`,
    })
    return
  }
  plan.patchTask(task.id, { state: 'failed', failures: decision.failures, reason: decision.why, endedAt: nowIso })
  plan.event({
    type: 'task:failed',
    taskId: task.id,
    message: decision.why,
    data: { exitCode: attempt.exitCode },
  })
}

function describeEnding(attempt: AttemptSnapshot): string {
  switch (attempt.state) {
    case 'failed':
      return attempt.reason ?? `exited with code ${attempt.exitCode ?? 'unknown'}`
    case 'timeout':
      return attempt.reason ?? 'ran past its time limit and was stopped'
    case 'out_of_memory':
      return 'ran out of memory'
    case 'node_fail':
      return 'its node failed'
    case 'preempted':
      return 'was preempted'
    case 'cancelled':
      return attempt.reason ?? 'was cancelled'
    default:
      return attempt.reason ?? `ended as ${attempt.state}`
  }
}
