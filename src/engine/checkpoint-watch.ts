/**
 * The tick's watch over checkpointing attempts, after the plan was applied: warn a job near its time
 * limit where the scheduler cannot (PBS), and when an attempt ends, turn what its job wrote about its
 * checkpoints (events.jsonl, checkpoint-report.ts) into task:checkpoint events.
 */
import path from 'node:path'
import { isTerminalJobState, type JobState } from '../core/job/job-state.js'
import type { ResolvedCheckpoint, ResolvedTask } from '../core/pipeline/resolved-pipeline.js'
import type { AttemptSnapshot, RunSnapshot } from '../core/scheduling/run-snapshot.js'
import { asNativeJobId, type SchedulerAdapter } from '../scheduler/scheduler-adapter.js'
import type { RunRecord, RunStore } from '../store/run-store.js'
import { checkpointEventsForAttempt } from './checkpoint-report.js'
import type { EngineEvents } from './engine-events.js'
import { checkpointDir, type JobLayout } from './job-submission.js'

export interface CheckpointWatchDeps {
  readonly store: RunStore
  readonly adapter: SchedulerAdapter
  readonly layout: JobLayout
  readonly readFile: (file: string) => Promise<string | null>
  readonly events: EngineEvents
  readonly clock: () => number
  /** Attempts already warned (once per attempt), kept by the engine across ticks. */
  readonly warned: Set<string>
}

type AttemptUpdates = ReadonlyMap<string, Partial<AttemptSnapshot>>

/**
 * Where the scheduler does not warn a checkpointing job before its time limit (PBS), rpo does:
 * the task's signal, `leadTime` before the limit by rpo's clock, once per attempt.
 */
export async function warnBeforeLimit(
  deps: CheckpointWatchDeps,
  run: RunRecord,
  snapshot: RunSnapshot,
  updates: AttemptUpdates,
): Promise<void> {
  const { adapter } = deps
  if (adapter.capabilities.signalsBeforeLimit || !adapter.capabilities.signal) return
  const now = deps.clock()
  for (const { attempt, definition, checkpoint } of checkpointingAttempts(run, snapshot, updates)) {
    if (attempt.state !== 'running' || !attempt.startedAt || !attempt.jobId) continue
    if (deps.warned.has(attempt.submissionKey)) continue
    const warnAt =
      Date.parse(attempt.startedAt) + (definition.resources.timeLimitSeconds - checkpoint.leadSeconds) * 1000
    if (now < warnAt) continue
    deps.warned.add(attempt.submissionKey)
    try {
      await adapter.control([asNativeJobId(attempt.jobId)], { kind: 'signal', signal: checkpoint.signal })
      await deps.store.appendEvent(
        run.id,
        {
          type: 'task:checkpoint-requested',
          taskId: attempt.taskId,
          message: `time limit in ${checkpoint.leadSeconds}s: asked job ${attempt.jobId} to checkpoint with SIG${checkpoint.signal}`,
          data: { jobId: attempt.jobId, attempt: attempt.attempt, signal: checkpoint.signal },
        },
        new Date(now).toISOString(),
      )
    } catch (error) {
      deps.events.tickError('warn', error, {
        runId: run.id,
        what: `warning job ${attempt.jobId} before its time limit`,
      })
    }
  }
}

/** When a checkpointing attempt ends, what its job said about its checkpoints (checkpoint-report.ts). */
export async function reportCheckpoints(
  deps: CheckpointWatchDeps,
  run: RunRecord,
  snapshot: RunSnapshot,
  updates: AttemptUpdates,
): Promise<void> {
  for (const { before, attempt, checkpoint } of checkpointingAttempts(run, snapshot, updates)) {
    // ended in this tick: it was not ended before it
    if (!isTerminalJobState(attempt.state as JobState) || isTerminalJobState(before.state as JobState)) continue
    const file = path.posix.join(checkpointDir(deps.layout, run.id, attempt.taskId, checkpoint), 'events.jsonl')
    try {
      const text = await deps.readFile(file)
      if (text === null) continue
      const at = new Date(deps.clock()).toISOString()
      for (const event of checkpointEventsForAttempt(attempt.taskId, attempt.attempt, text)) {
        await deps.store.appendEvent(run.id, event, at)
        deps.events.emit('task:checkpoint', {
          runId: run.id,
          taskId: event.taskId,
          message: event.message,
          data: event.data,
        })
      }
    } catch (error) {
      deps.events.tickError('warn', error, { runId: run.id, what: `reading ${file}` })
    }
  }
}

/** The latest attempts of the run's checkpointing tasks, as they are before and after this tick's updates. */
function checkpointingAttempts(
  run: RunRecord,
  snapshot: RunSnapshot,
  updates: AttemptUpdates,
): { before: AttemptSnapshot; attempt: AttemptSnapshot; definition: ResolvedTask; checkpoint: ResolvedCheckpoint }[] {
  const definitions = new Map(run.pipeline.tasks.map((t) => [t.name, t]))
  const groups = new Map(snapshot.tasks.map((t) => [t.id, t.group]))
  return snapshot.latestAttempts.flatMap((before) => {
    const definition = definitions.get(groups.get(before.taskId) ?? '')
    if (!definition?.checkpoint) return []
    const attempt = { ...before, ...updates.get(before.submissionKey) }
    return [{ before, attempt, definition, checkpoint: definition.checkpoint }]
  })
}
