/**
 * Stopping a run's work (`rpo cancel`, Ctrl-C during `rpo run`).
 *
 * 1. The intent is recorded first — the run becomes `interrupting` or `cancelling` — so a process
 *    that dies mid-stop (a second Ctrl-C forces exit) leaves a run the next rpo recognises and
 *    finishes stopping, and a tick another process planned on the `running` run is refused by the
 *    store instead of recording the cancelled jobs as failures.
 * 2. Its jobs are cancelled (including attempts written but not yet known by job id), and given a
 *    moment to end.
 * 3. What each job then reports is read: a job that had already ended on its own (succeeded, failed,
 *    timed out…) is recorded as the scheduler says, through one planner step without submissions,
 *    so its outputs, its dependents' readiness, `when` conditions and fan-outs are right. Only the
 *    jobs really stopped become `cancelled`, their tasks back to pending (interrupt: `rpo run`
 *    continues) or cancelled (for good).
 */
import { isTerminalJobState } from '../core/job/job-state.js'
import { type PlannedEvent, type PlanOptions, planTick } from '../core/scheduling/plan-tick.js'
import {
  type AttemptObservation,
  type AttemptSnapshot,
  type RunSnapshot,
  type RunState,
  type TaskState,
  TERMINAL_RUN_STATES,
} from '../core/scheduling/run-snapshot.js'
import { asSubmissionKey, type NativeJobId, type SchedulerAdapter } from '../scheduler/scheduler-adapter.js'
import type { PlanWrite, RunRecord, RunStore } from '../store/run-store.js'
import { liveAttempts, type ObserveDeps, pollAttempts } from './observe-step.js'

export type StopMode = 'interrupt' | 'cancel'

export interface StopRunDeps {
  readonly store: RunStore
  readonly adapter: SchedulerAdapter
  readonly observe: ObserveDeps
  /** The engine's clock. */
  readonly clock: () => number
  /** The planner's options as a tick would use them (submissions are turned off here). */
  readonly planOptions: () => Omit<PlanOptions, 'now' | 'maxActive' | 'admit'>
  /** Charge what the jobs used (budgets), best effort. */
  readonly charge?: (
    run: RunRecord,
    snapshot: RunSnapshot,
    observations: readonly AttemptObservation[],
  ) => Promise<void>
}

/** The run state that records the intent to stop in `mode`. */
export function stoppingState(mode: StopMode): RunState {
  return mode === 'interrupt' ? 'interrupting' : 'cancelling'
}

/** `stopped` is null when there was nothing to stop (the run had ended, or was already interrupted). */
export async function stopRun(
  deps: StopRunDeps,
  runId: string,
  mode: StopMode,
  options: { waitMs?: number } = {},
): Promise<{ stopped: number | null; message: string; state: RunState }> {
  const { store, adapter } = deps
  const intent = await recordIntent(deps, runId, mode)
  if (intent.kind === 'nothing') return { stopped: null, message: `run already ${intent.state}`, state: intent.state }
  const stopping = intent.state
  // a cancel under way is never turned back into an interrupt
  const effective: StopMode = stopping === 'cancelling' ? 'cancel' : 'interrupt'
  // read after the intent: a tick that was planning meanwhile may have written attempts
  const { run, snapshot } = await store.loadSnapshot(runId)
  const live = liveAttempts(snapshot)
  const found = new Map<string, NativeJobId>()
  /** Job ids of attempts still `submitting` that the scheduler has under their keys, not found before. */
  const lookUp = async (attempts: readonly AttemptSnapshot[]): Promise<NativeJobId[]> => {
    const keys = attempts.filter((a) => a.jobId === null && !found.has(a.submissionKey))
    if (keys.length === 0) return []
    const answer = await adapter.findBySubmissionKey(keys.map((a) => asSubmissionKey(a.submissionKey)))
    for (const [key, jobId] of answer) found.set(key, jobId)
    return [...answer.values()]
  }
  const jobIds = [...live.flatMap((a) => (a.jobId ? [a.jobId as NativeJobId] : [])), ...(await lookUp(live))]
  if (jobIds.length > 0) await adapter.cancel(jobIds)
  await waitForEnd(adapter, jobIds, options.waitMs ?? 15_000)
  // a tick that wrote its attempts just before the intent may have sent them after the lookup above
  const late = await lookUp(live)
  if (late.length > 0) {
    await adapter.cancel(late)
    await waitForEnd(adapter, late, options.waitMs ?? 15_000)
  }
  const known = live.map((a) => {
    const jobId = a.jobId ?? found.get(a.submissionKey) ?? null
    return jobId === a.jobId ? a : { ...a, jobId }
  })
  // what each job reported: throws (the run stays `interrupting`/`cancelling`, and the next rpo
  // finishes the stop) rather than guess that a job we cannot see was stopped
  const observations = await pollAttempts(deps.observe, known)
  await deps.charge?.(run, snapshot, observations).catch(() => undefined)
  const endedOnItsOwn = observations.filter(
    (o) => o.kind === 'observed' && isTerminalJobState(o.job.state) && o.job.state !== 'cancelled',
  )
  const ended = new Set(endedOnItsOwn.map((o) => o.submissionKey))
  const stopped = live.filter((a) => !ended.has(a.submissionKey))
  const write = composeStop(deps, snapshot, effective, found, endedOnItsOwn, stopped)
  const applied = await store.applyPlan(runId, stopping, write)
  if (!applied) {
    const now = await store.getRun(runId)
    return { stopped: stopped.length, message: `run already ${now.state}`, state: now.state }
  }
  return { stopped: stopped.length, message: (write.events.at(-1) as PlannedEvent).message, state: write.runState }
}

/** Record `interrupting`/`cancelling` unless the run ended, or is already being stopped that way. */
async function recordIntent(
  deps: StopRunDeps,
  runId: string,
  mode: StopMode,
): Promise<{ kind: 'stop'; state: RunState } | { kind: 'nothing'; state: RunState }> {
  // the run's state may change between the read and the write (a follower finishing it): read again
  for (;;) {
    const current = (await deps.store.getRun(runId)).state
    if (TERMINAL_RUN_STATES.has(current)) return { kind: 'nothing', state: current }
    if (mode === 'interrupt' && current === 'interrupted') return { kind: 'nothing', state: current }
    if (current === 'cancelling') return { kind: 'stop', state: current }
    const target = stoppingState(mode)
    if (current === target) return { kind: 'stop', state: current }
    const written = await deps.store.applyPlan(runId, current, {
      taskUpdates: new Map(),
      attemptUpdates: new Map(),
      newTasks: [],
      newAttempts: [],
      events: [
        {
          type: 'run:stopped',
          taskId: null,
          message: mode === 'interrupt' ? 'interrupting the run' : 'cancelling the run',
        },
      ],
      runState: target,
      now: new Date(deps.clock()).toISOString(),
    })
    if (written) return { kind: 'stop', state: target }
  }
}

/**
 * One write: the planner's step for the jobs that ended on their own, then the stop for the rest —
 * their attempts cancelled, every unfinished task pending (interrupt) or cancelled.
 */
function composeStop(
  deps: StopRunDeps,
  snapshot: RunSnapshot,
  mode: StopMode,
  found: ReadonlyMap<string, NativeJobId>,
  endedOnItsOwn: readonly AttemptObservation[],
  stopped: readonly AttemptSnapshot[],
): PlanWrite & { events: PlannedEvent[] } {
  const now = deps.clock()
  const nowIso = new Date(now).toISOString()
  const foundFirst: AttemptObservation[] = endedOnItsOwn.flatMap((o) => {
    const jobId = found.get(o.submissionKey)
    return jobId ? [{ kind: 'found', submissionKey: o.submissionKey, jobId }] : []
  })
  // planned as if running, so readiness, conditions and fan-outs are judged; nothing is submitted
  const plan = planTick({ ...snapshot, state: 'running' }, [...foundFirst, ...endedOnItsOwn], {
    ...deps.planOptions(),
    now,
    maxActive: 0,
  })
  const why = mode === 'interrupt' ? 'interrupted by the user' : 'cancelled by the user'
  const attemptUpdates = new Map(plan.attemptUpdates)
  for (const attempt of stopped) {
    const jobId = found.get(attempt.submissionKey)
    attemptUpdates.set(attempt.submissionKey, {
      ...attemptUpdates.get(attempt.submissionKey),
      ...(jobId ? { jobId } : {}),
      state: 'cancelled',
      reason: why,
      endedAt: nowIso,
    })
  }
  const taskUpdates = new Map(plan.taskUpdates)
  const before = new Map<string, TaskState>([
    ...snapshot.tasks.map((t) => [t.id, t.state] as const),
    ...plan.newTasks.map((t) => [t.id, 'pending'] as const),
  ])
  for (const [id, was] of before) {
    const patch = taskUpdates.get(id)
    const state = patch?.state ?? was
    if (state !== 'active' && state !== 'pending' && state !== 'retry_wait') continue
    taskUpdates.set(id, {
      ...patch,
      ...(mode === 'interrupt'
        ? { state: 'pending', reason: null }
        : { state: 'cancelled', reason: why, endedAt: nowIso }),
    })
  }
  const stoppedEvent: PlannedEvent = {
    type: 'run:stopped',
    taskId: null,
    message: `run ${mode === 'interrupt' ? 'interrupted' : 'cancelled'}: ${stopped.length} running task(s) stopped`,
  }
  return {
    taskUpdates,
    attemptUpdates,
    newTasks: plan.newTasks,
    newAttempts: [],
    events: [...plan.events.filter((e) => e.type !== 'run:finished'), stoppedEvent],
    runState: mode === 'interrupt' ? 'interrupted' : 'cancelled',
    now: nowIso,
  }
}

async function waitForEnd(adapter: SchedulerAdapter, jobIds: readonly NativeJobId[], waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs
  while (jobIds.length > 0 && Date.now() < deadline) {
    const polled = await adapter.poll(jobIds).catch(() => [])
    if (polled.every((o) => isTerminalJobState(o.state))) return
    await new Promise((r) => setTimeout(r, 100))
  }
}
