/**
 * Progress of a run for people and scripts: counts by state, and one row per task with its latest
 * attempt, elapsed time against the expected duration, and why it is where it is. Given the run's
 * estimate (run-estimate.ts), each task's expected duration is the model's (with its source and
 * sample count) and the run carries its projected completion and slack. Pure.
 */

import type { AttemptSnapshot, RunSnapshot, TaskSnapshot } from '../core/scheduling/run-snapshot.js'
import type { RunRecord } from '../store/run-store.js'
import type { RunEstimateView, TaskEstimateView } from './run-estimate.js'

export interface TaskProgress {
  readonly id: string
  readonly group: string
  readonly state: string
  /** The scheduler's view of the latest attempt (pending, running, ...), when one is in flight. */
  readonly jobState: string | null
  readonly attempt: number
  readonly jobId: string | null
  readonly params: Readonly<Record<string, unknown>>
  readonly elapsedSeconds: number | null
  readonly expectedSeconds: number | null
  readonly reason: string | null
  /** Times the task was resumed from a checkpoint. */
  readonly resumes: number
  /** What the task wrote to $RPO_OUTPUTS, once it succeeded. */
  readonly outputs: Readonly<Record<string, unknown>> | null
  /** Expected (with its source and samples) vs actual start and end; null without an estimate. */
  readonly estimate: TaskEstimateView | null
}

export interface RunProgress {
  readonly runId: string
  readonly pipeline: string
  readonly project: string | null
  readonly cluster: string
  readonly state: string
  readonly createdAt: string
  readonly finishedAt: string | null
  readonly elapsedSeconds: number
  readonly counts: Readonly<Record<string, number>>
  readonly total: number
  readonly done: number
  /** Sum of expected durations of unfinished tasks (a rough "time left" on one slot). */
  readonly expectedRemainingSeconds: number
  readonly tasks: readonly TaskProgress[]
  /** Scheduler commands the last tick ran (squeue, sacct, sbatch batches, ...). */
  readonly lastTickCommands: number | null
  readonly lastTickAt: string | null
  /** Projected completion, slack, bottleneck and stages; null without an estimate. */
  readonly estimate: Omit<RunEstimateView, 'tasks'> | null
}

export function computeRunProgress(
  run: RunRecord,
  snapshot: RunSnapshot,
  now: number,
  estimate: RunEstimateView | null = null,
): RunProgress {
  const attempts = new Map(snapshot.latestAttempts.map((a) => [a.taskId, a]))
  const expected = new Map(snapshot.pipeline.tasks.map((t) => [t.name, t.expectedSeconds]))
  const tasks = snapshot.tasks
    .filter((t) => t.state !== 'expanded')
    .map((t) => {
      const own = estimate?.tasks.get(t.id) ?? null
      return taskProgress(t, attempts.get(t.id), own?.expected.seconds ?? expected.get(t.group) ?? null, now, own)
    })
  const {
    lastTickCommands,
    lastTickAt,
    estimate: summaryEstimate,
    ...head
  } = summaryOf(run, snapshot, now, tasks, estimate === null ? null : withoutTasks(estimate))
  return { ...head, tasks, lastTickCommands, lastTickAt, estimate: summaryEstimate }
}

export type RunSummary = Omit<RunProgress, 'tasks'>

/**
 * computeRunProgress without a row per task, for listings: the same counts and remaining work, from
 * the projection's expected durations (`expectedSeconds`, by task id) without building any task's
 * view. `estimate` is runEstimateSummary's.
 */
export function computeRunSummary(
  run: RunRecord,
  snapshot: RunSnapshot,
  now: number,
  expectedSeconds: ReadonlyMap<string, number> | null,
  estimate: Omit<RunEstimateView, 'tasks'> | null,
): RunSummary {
  const attempts = new Map(snapshot.latestAttempts.map((a) => [a.taskId, a]))
  const declared = new Map(snapshot.pipeline.tasks.map((t) => [t.name, t.expectedSeconds]))
  const facts: TaskFacts[] = []
  for (const t of snapshot.tasks) {
    if (t.state === 'expanded') continue
    const attempt = attempts.get(t.id)
    facts.push({
      state: t.state,
      jobState: t.state === 'active' && attempt ? attempt.state : null,
      expectedSeconds: expectedSeconds?.get(t.id) ?? declared.get(t.group) ?? null,
    })
  }
  return summaryOf(run, snapshot, now, facts, estimate)
}

/** What counting needs of a task. */
interface TaskFacts {
  readonly state: string
  readonly jobState: string | null
  readonly expectedSeconds: number | null
}

const FINISHED: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'upstream_failed'])

function summaryOf(
  run: RunRecord,
  snapshot: RunSnapshot,
  now: number,
  tasks: readonly TaskFacts[],
  estimate: Omit<RunEstimateView, 'tasks'> | null,
): RunSummary {
  const counts: Record<string, number> = {}
  let done = 0
  let expectedRemainingSeconds = 0
  for (const task of tasks) {
    const key =
      task.state === 'active'
        ? task.jobState === 'running' || task.jobState === 'completing'
          ? 'running'
          : 'queued'
        : task.state
    counts[key] = (counts[key] ?? 0) + 1
    if (FINISHED.has(task.state)) done++
    else expectedRemainingSeconds += task.expectedSeconds ?? 0
  }
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now
  return {
    runId: run.id,
    pipeline: run.pipelineName,
    project: run.project,
    cluster: run.cluster,
    state: snapshot.state,
    createdAt: run.createdAt,
    finishedAt: run.finishedAt,
    elapsedSeconds: Math.max(0, (end - Date.parse(run.createdAt)) / 1000),
    counts,
    total: tasks.length,
    done,
    expectedRemainingSeconds,
    lastTickCommands: run.lastTickCommands,
    lastTickAt: run.lastTickAt,
    estimate,
  }
}

function withoutTasks({ tasks: _tasks, ...rest }: RunEstimateView): Omit<RunEstimateView, 'tasks'> {
  return rest
}

function taskProgress(
  task: TaskSnapshot,
  attempt: AttemptSnapshot | undefined,
  expectedSeconds: number | null,
  now: number,
  estimate: TaskEstimateView | null,
): TaskProgress {
  const start = attempt?.startedAt ? Date.parse(attempt.startedAt) : null
  const end = attempt?.endedAt ? Date.parse(attempt.endedAt) : null
  return {
    id: task.id,
    group: task.group,
    state: task.state,
    jobState: task.state === 'active' && attempt ? attempt.state : null,
    attempt: task.attempts,
    jobId: attempt?.jobId ?? null,
    params: task.params,
    elapsedSeconds: start === null ? null : Math.max(0, ((end ?? now) - start) / 1000),
    expectedSeconds,
    reason: task.reason,
    resumes: task.resumes,
    outputs: task.outputs,
    estimate,
  }
}
