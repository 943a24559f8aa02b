/**
 * Stopping a run's work (`rpo cancel`, Ctrl-C during `rpo run`): cancel its jobs on the scheduler
 * (including attempts written but not yet known by job id), wait briefly for them to end, and
 * record the run interrupted (unfinished tasks back to pending, so `rpo run` continues it) or
 * cancelled (for good).
 */
import { isTerminalJobState, type JobState } from '../core/job/job-state.js'
import type { PlannedEvent } from '../core/scheduling/plan-tick.js'
import { type TaskSnapshot, TERMINAL_RUN_STATES } from '../core/scheduling/run-snapshot.js'
import {
  asNativeJobId,
  asSubmissionKey,
  type NativeJobId,
  type SchedulerAdapter,
} from '../scheduler/scheduler-adapter.js'
import type { RunStore } from '../store/run-store.js'

export interface StopRunDeps {
  readonly store: RunStore
  readonly adapter: SchedulerAdapter
  /** ISO time, from the engine's clock. */
  readonly now: () => string
}

/** `stopped` is null when the run had already ended (nothing was recorded). */
export async function stopRun(
  deps: StopRunDeps,
  runId: string,
  mode: 'interrupt' | 'cancel',
  options: { waitMs?: number } = {},
): Promise<{ stopped: number | null; message: string }> {
  const { store, adapter } = deps
  const { snapshot } = await store.loadSnapshot(runId)
  if (TERMINAL_RUN_STATES.has(snapshot.state)) return { stopped: null, message: `run already ${snapshot.state}` }
  const activeTasks = new Set(snapshot.tasks.filter((t) => t.state === 'active').map((t) => t.id))
  const live = snapshot.latestAttempts.filter(
    (a) => activeTasks.has(a.taskId) && !isTerminalJobState(a.state as JobState),
  )
  const jobIds = live.flatMap((a) => (a.jobId ? [asNativeJobId(a.jobId)] : []))
  // attempts still `submitting` may exist on the scheduler under their key
  const unsent = live.filter((a) => a.jobId === null).map((a) => asSubmissionKey(a.submissionKey))
  if (unsent.length > 0) jobIds.push(...(await adapter.findBySubmissionKey(unsent)).values())
  if (jobIds.length > 0) await adapter.cancel(jobIds)
  await waitForEnd(adapter, jobIds, options.waitMs ?? 15_000)
  const now = deps.now()
  const why = mode === 'interrupt' ? 'interrupted by the user' : 'cancelled by the user'
  const taskUpdates = new Map<string, { state: TaskSnapshot['state']; reason: string | null; endedAt?: string }>()
  for (const task of snapshot.tasks) {
    if (task.state === 'active' || task.state === 'pending' || task.state === 'retry_wait') {
      taskUpdates.set(
        task.id,
        mode === 'interrupt' ? { state: 'pending', reason: null } : { state: 'cancelled', reason: why, endedAt: now },
      )
    }
  }
  const attemptUpdates = new Map(
    live.map((a) => [a.submissionKey, { state: 'cancelled' as const, reason: why, endedAt: now }]),
  )
  const event: PlannedEvent = {
    type: 'run:stopped',
    taskId: null,
    message: `run ${mode === 'interrupt' ? 'interrupted' : 'cancelled'}: ${live.length} running task(s) stopped`,
  }
  await store.applyPlan(runId, snapshot.state, {
    taskUpdates,
    attemptUpdates,
    newTasks: [],
    newAttempts: [],
    events: [event],
    runState: mode === 'interrupt' ? 'interrupted' : 'cancelled',
    now,
  })
  return { stopped: live.length, message: event.message }
}

async function waitForEnd(adapter: SchedulerAdapter, jobIds: readonly NativeJobId[], waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs
  while (jobIds.length > 0 && Date.now() < deadline) {
    const polled = await adapter.poll(jobIds).catch(() => [])
    if (polled.every((o) => isTerminalJobState(o.state))) return
    await new Promise((r) => setTimeout(r, 100))
  }
}
