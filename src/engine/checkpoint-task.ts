/**
 * `rpo checkpoint <task>`: ask a running task to save a checkpoint and exit 85, by sending it the
 * checkpoint signal through the scheduler (`scancel --batch --signal`, `qsig`, `kill`). The tick
 * that sees the exit resumes the task from that checkpoint (or holds it, for a budget hold).
 */

import { RpoError } from '../core/errors.js'
import { isTerminalJobState, type JobState } from '../core/job/job-state.js'
import { requireTask } from '../core/scheduling/run-snapshot.js'
import { asNativeJobId, type SchedulerAdapter } from '../scheduler/scheduler-adapter.js'
import type { RunStore } from '../store/run-store.js'

export interface CheckpointRequest {
  readonly runId: string
  readonly taskId: string
  readonly attempt: number
  readonly jobId: string
  readonly signal: string
}

/**
 * @throws RpoError('task-not-found') for an unknown task (with a did-you-mean), ('usage') for a task
 *   that is not running, declares no checkpoint, or runs where rpo cannot send signals.
 */
export async function requestCheckpoint(
  store: RunStore,
  adapter: SchedulerAdapter,
  runId: string,
  taskId: string,
  now: string,
): Promise<CheckpointRequest> {
  const { snapshot } = await store.loadSnapshot(runId)
  const task = requireTask(snapshot, taskId)
  const definition = snapshot.pipeline.tasks.find((t) => t.name === task.group)
  if (!definition?.checkpoint) {
    throw new RpoError(
      'usage',
      `task ${taskId} declares no \`checkpoint:\`, so it would not save anything: the signal would only kill it. Use \`rpo cancel\` to stop the run instead`,
    )
  }
  const attempt = snapshot.latestAttempts.find((a) => a.taskId === taskId)
  const running = attempt?.state === 'running' || attempt?.state === 'completing'
  if (task.state !== 'active' || !attempt || !attempt.jobId || !running) {
    const where =
      task.state !== 'active'
        ? `it is ${task.state}`
        : attempt && !isTerminalJobState(attempt.state as JobState)
          ? `its job ${attempt.jobId ?? '(not yet submitted)'} is ${attempt.state}, not running`
          : 'it has no running job'
    throw new RpoError('usage', `task ${taskId} cannot checkpoint now: ${where}`)
  }
  if (!adapter.capabilities.signal) {
    throw new RpoError('unsupported', `the ${adapter.kind} executor cannot send signals to jobs`)
  }
  await adapter.control([asNativeJobId(attempt.jobId)], { kind: 'signal', signal: definition.checkpoint.signal })
  await store.appendEvent(
    runId,
    {
      type: 'task:checkpoint-requested',
      taskId,
      message: `asked job ${attempt.jobId} (attempt ${attempt.attempt}) to checkpoint with SIG${definition.checkpoint.signal}`,
      data: { jobId: attempt.jobId, attempt: attempt.attempt, signal: definition.checkpoint.signal },
    },
    now,
  )
  return { runId, taskId, attempt: attempt.attempt, jobId: attempt.jobId, signal: definition.checkpoint.signal }
}
