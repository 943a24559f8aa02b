/**
 * Expected vs actual of one run for people and scripts: the projection of src/core/estimate with
 * times as ISO text, the run's deadline (its pipeline's, else its project's in the config) and the
 * slack to it. Pure given the history; `now` is a parameter.
 */
import { instantOf } from '../core/budget/budget-period.js'
import type { EstimateSource } from '../core/estimate/duration-model.js'
import { slackSeconds } from '../core/estimate/project-projection.js'
import {
  projectRun,
  projectRunSummary,
  type RunProjection,
  type RunProjectionInput,
  type RunProjectionSummary,
  type Span,
} from '../core/estimate/run-projection.js'
import type { RunSnapshot } from '../core/scheduling/run-snapshot.js'
import type { RunRecord } from '../store/run-store.js'
import { durationsWithoutRun, type EstimateHistory } from './estimate-history.js'

export interface ExpectedDuration {
  readonly seconds: number
  readonly p90Seconds: number
  readonly samples: number
  readonly source: EstimateSource
}

export interface TimesView {
  readonly plannedStart: string
  readonly plannedEnd: string
  readonly projectedStart: string | null
  readonly projectedEnd: string | null
  readonly actualStart: string | null
  readonly actualEnd: string | null
}

export interface TaskEstimateView extends TimesView {
  readonly expected: ExpectedDuration
  readonly expectedWaitSeconds: number
  /** When the scheduler expects this queued job to start (Slurm: squeue --start); the projection prefers it. */
  readonly schedulerExpectedStart: string | null
}

export interface StageEstimateView extends TimesView {
  readonly stage: string
  readonly instances: number
  readonly finished: number
  readonly expected: ExpectedDuration
  /** Seconds of the remaining critical path this stage is responsible for. */
  readonly criticalSeconds: number
}

export interface RunEstimateView {
  readonly plannedEnd: string
  /** The projected completion; the actual end once the run ended. */
  readonly projectedCompletion: string
  readonly actualEnd: string | null
  readonly remainingCriticalPathSeconds: number
  readonly criticalPath: readonly string[]
  readonly bottleneck: string | null
  readonly deadline: string | null
  /** Deadline − projected completion (negative: late); null without a deadline. */
  readonly slackSeconds: number | null
  readonly atRisk: boolean
  readonly stages: readonly StageEstimateView[]
  readonly tasks: ReadonlyMap<string, TaskEstimateView>
}

export function projectRunOf(
  run: RunRecord,
  snapshot: RunSnapshot,
  history: EstimateHistory,
  now: number,
): RunProjection {
  return projectRun(projectionInputOf(run, snapshot, history, now))
}

/** Completion, critical path and work only: what ranking reads each round. */
export function projectRunSummaryOf(
  run: RunRecord,
  snapshot: RunSnapshot,
  history: EstimateHistory,
  now: number,
): RunProjectionSummary {
  return projectRunSummary(projectionInputOf(run, snapshot, history, now))
}

function projectionInputOf(
  run: RunRecord,
  snapshot: RunSnapshot,
  history: EstimateHistory,
  now: number,
): RunProjectionInput {
  return {
    snapshot,
    cluster: run.cluster,
    createdAt: Date.parse(run.createdAt),
    finishedAt: run.finishedAt === null ? null : Date.parse(run.finishedAt),
    durations: durationsWithoutRun(history, run.id),
    waits: history.waits,
    now,
  }
}

/** The deadline a run is held to: its pipeline's, else its project's in the config; null for none or not a date. */
export function runDeadline(
  run: RunRecord,
  projectDeadlines: Readonly<Record<string, string | undefined>>,
): string | null {
  const text = run.pipeline.deadline ?? (run.project === null ? undefined : projectDeadlines[run.project])
  return typeof text === 'string' && !Number.isNaN(instantOf(text)) ? text : null
}

export function runEstimateView(projection: RunProjection, deadline: string | null): RunEstimateView {
  return {
    ...runEstimateSummary(projection, deadline),
    tasks: new Map(
      projection.tasks.map((t) => [
        t.id,
        {
          expected: expectedOf(t.expected),
          expectedWaitSeconds: t.wait.seconds,
          schedulerExpectedStart: isoOrNull(t.schedulerStart),
          ...times(t.planned, t.projected, t.actual),
        },
      ]),
    ),
  }
}

/** runEstimateView without the per-task views: what a listing shows, without six dates per task. */
export function runEstimateSummary(projection: RunProjection, deadline: string | null): Omit<RunEstimateView, 'tasks'> {
  const slack = slackSeconds(deadline === null ? null : instantOf(deadline), projection.projectedEnd)
  return {
    plannedEnd: iso(projection.plannedEnd),
    projectedCompletion: iso(projection.projectedEnd),
    actualEnd: isoOrNull(projection.actualEnd),
    remainingCriticalPathSeconds: projection.remainingCriticalPathSeconds,
    criticalPath: projection.criticalPath,
    bottleneck: projection.bottleneck,
    deadline,
    slackSeconds: slack,
    atRisk: slack !== null && slack < 0,
    stages: projection.stages.map((s) => ({
      stage: s.stage,
      instances: s.instances,
      finished: s.finished,
      expected: expectedOf(s.expected),
      criticalSeconds: s.criticalSeconds,
      ...times(s.planned, s.projected, s.actual),
    })),
  }
}

function expectedOf(e: ExpectedDuration): ExpectedDuration {
  return { seconds: e.seconds, p90Seconds: e.p90Seconds, samples: e.samples, source: e.source }
}

function times(planned: { start: number; end: number }, projected: Span, actual: Span): TimesView {
  return {
    plannedStart: iso(planned.start),
    plannedEnd: iso(planned.end),
    projectedStart: isoOrNull(projected.start),
    projectedEnd: isoOrNull(projected.end),
    actualStart: isoOrNull(actual.start),
    actualEnd: isoOrNull(actual.end),
  }
}

const iso = (ms: number) => new Date(ms).toISOString()
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms))
