/**
 * The timing report of `rpo report` (and of the HTTP API): expected vs actual start and end of every
 * task, stage, run and project, the projected completion, the slack to the deadline and the
 * bottleneck stage. `TimingReportSchema` is the documented shape of `rpo report --json`.
 *
 * Built from what run-estimate.ts already computes (`runEstimateView` of `projectRunOf`) and, for a
 * project, `projectProject`: this module adds no estimate of its own, only per-row states and
 * `lateSeconds` = (actual end, else projected end) − expected end (positive: later than expected).
 * "Expected" is the baseline (planned) walk from the run's creation. Pure: `now` is a parameter.
 */
import { z } from 'zod'
import { instantOf } from '../core/budget/budget-period.js'
import { projectProject } from '../core/estimate/project-projection.js'
import type { RunProjection } from '../core/estimate/run-projection.js'
import type { RunSnapshot, TaskState } from '../core/scheduling/run-snapshot.js'
import type { RunRecord } from '../store/run-store.js'
import type { EstimateHistory } from './estimate-history.js'
import { projectRunOf, runDeadline, runEstimateView, type TimesView } from './run-estimate.js'

const Instant = z.iso.datetime({ offset: true })

/** A row's state: a task's state, with `active` told apart as running (started) or queued. */
export const RowStateSchema = z.enum([
  'pending',
  'queued',
  'running',
  'retry_wait',
  'succeeded',
  'failed',
  'cancelled',
  'skipped',
  'upstream_failed',
])
export type RowState = z.infer<typeof RowStateSchema>

const ExpectedDurationSchema = z.object({
  seconds: z.number(),
  p90Seconds: z.number(),
  samples: z.number().int(),
  source: z.enum(['history', 'declared', 'limit']).describe('where the expected duration came from'),
})

/** Expected (planned from the run's creation), projected and actual times of a row; ISO 8601. */
const TimesSchema = z.object({
  plannedStart: Instant,
  plannedEnd: Instant,
  projectedStart: Instant.nullable(),
  projectedEnd: Instant.nullable(),
  actualStart: Instant.nullable(),
  actualEnd: Instant.nullable(),
  lateSeconds: z.number().nullable().describe('(actual, else projected) end − planned end; positive: late'),
})

export const TaskTimingSchema = TimesSchema.extend({
  id: z.string(),
  stage: z.string(),
  state: RowStateSchema,
  attempts: z.number().int(),
  reason: z.string().nullable(),
  expected: ExpectedDurationSchema,
  expectedWaitSeconds: z.number(),
})
export type TaskTiming = z.infer<typeof TaskTimingSchema>

export const StageTimingSchema = TimesSchema.extend({
  stage: z.string(),
  state: RowStateSchema,
  instances: z.number().int(),
  finished: z.number().int(),
  expected: ExpectedDurationSchema,
  criticalSeconds: z.number().describe('seconds of the remaining critical path this stage is responsible for'),
})
export type StageTiming = z.infer<typeof StageTimingSchema>

export const RunTimingSchema = z.object({
  runId: z.string(),
  pipeline: z.string(),
  project: z.string().nullable(),
  cluster: z.string(),
  state: z.string(),
  createdAt: Instant,
  plannedEnd: Instant,
  projectedCompletion: Instant.describe('the actual end once the run ended'),
  actualEnd: Instant.nullable(),
  deadline: Instant.nullable(),
  slackSeconds: z.number().nullable().describe('deadline − projected completion; negative: late'),
  atRisk: z.boolean(),
  remainingCriticalPathSeconds: z.number(),
  criticalPath: z.array(z.string()),
  bottleneck: z.string().nullable(),
  stages: z.array(StageTimingSchema),
  tasks: z.array(TaskTimingSchema),
})
export type RunTiming = z.infer<typeof RunTimingSchema>

export const TimingReportSchema = z.object({
  generatedAt: Instant.describe('"now" of the projection'),
  scope: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('run'), runId: z.string() }),
    z.object({ kind: z.literal('project'), project: z.string() }),
  ]),
  project: z.string().nullable(),
  deadline: Instant.nullable(),
  projectedCompletion: Instant.nullable().describe("the latest run's; null without runs"),
  completed: z.boolean().describe('every run in the report has ended'),
  slackSeconds: z.number().nullable(),
  atRisk: z.boolean(),
  bottleneck: z.object({ runId: z.string(), stage: z.string() }).nullable(),
  runs: z.array(RunTimingSchema),
})
export type TimingReport = z.infer<typeof TimingReportSchema>

/** One run with its projection: what the report of a run or a project is built from. */
export interface ProjectedRun {
  readonly timing: RunTiming
  readonly projection: RunProjection
}

export function projectRunTiming(
  run: RunRecord,
  snapshot: RunSnapshot,
  history: EstimateHistory,
  projectDeadlines: Readonly<Record<string, string | undefined>>,
  now: number,
): ProjectedRun {
  const projection = projectRunOf(run, snapshot, history, now)
  const deadlineText = runDeadline(run, projectDeadlines)
  const view = runEstimateView(projection, deadlineText)
  const taskStates = new Map(projection.tasks.map((t) => [t.id, t.state]))
  const tasks: TaskTiming[] = []
  for (const task of snapshot.tasks) {
    const estimate = view.tasks.get(task.id)
    if (task.state === 'expanded' || !estimate) continue
    tasks.push({
      id: task.id,
      stage: task.group,
      state: rowStateOf(taskStates.get(task.id) ?? task.state, estimate.actualStart !== null),
      attempts: task.attempts,
      reason: task.reason,
      expected: estimate.expected,
      expectedWaitSeconds: estimate.expectedWaitSeconds,
      ...timesOf(estimate),
    })
  }
  const byStage = new Map<string, TaskTiming[]>()
  for (const task of tasks) {
    const list = byStage.get(task.stage)
    if (list) list.push(task)
    else byStage.set(task.stage, [task])
  }
  const stages = view.stages.map((s) => ({
    stage: s.stage,
    state: stageStateOf(byStage.get(s.stage) ?? []),
    instances: s.instances,
    finished: s.finished,
    expected: s.expected,
    criticalSeconds: s.criticalSeconds,
    ...timesOf(s),
  }))
  const timing: RunTiming = {
    runId: run.id,
    pipeline: run.pipelineName,
    project: run.project,
    cluster: run.cluster,
    state: snapshot.state,
    createdAt: run.createdAt,
    plannedEnd: view.plannedEnd,
    projectedCompletion: view.projectedCompletion,
    actualEnd: view.actualEnd,
    deadline: deadlineText === null ? null : new Date(instantOf(deadlineText)).toISOString(),
    slackSeconds: view.slackSeconds,
    atRisk: view.atRisk,
    remainingCriticalPathSeconds: view.remainingCriticalPathSeconds,
    criticalPath: [...view.criticalPath],
    bottleneck: view.bottleneck,
    stages,
    tasks,
  }
  return { timing, projection }
}

export function runTimingReport(run: ProjectedRun, now: number): TimingReport {
  const t = run.timing
  return {
    generatedAt: new Date(now).toISOString(),
    scope: { kind: 'run', runId: t.runId },
    project: t.project,
    deadline: t.deadline,
    projectedCompletion: t.projectedCompletion,
    completed: t.actualEnd !== null,
    slackSeconds: t.slackSeconds,
    atRisk: t.atRisk,
    bottleneck: t.bottleneck === null ? null : { runId: t.runId, stage: t.bottleneck },
    runs: [t],
  }
}

/**
 * A project's report: its completion is its latest-ending run's (`projectProject`); its deadline the
 * config's for the project, else the earliest of its runs' own.
 */
export function projectTimingReport(
  project: string,
  configDeadline: string | undefined,
  runs: readonly ProjectedRun[],
  now: number,
): TimingReport {
  const deadlines = runs.map((r) => r.timing.deadline).filter((d): d is string => d !== null)
  const own = typeof configDeadline === 'string' ? instantOf(configDeadline) : Number.NaN
  const deadline = Number.isNaN(own)
    ? deadlines.length > 0
      ? Math.min(...deadlines.map((d) => Date.parse(d)))
      : null
    : own
  const projected = projectProject(
    project,
    deadline,
    runs.map((r) => ({ runId: r.timing.runId, projection: r.projection })),
  )
  return {
    generatedAt: new Date(now).toISOString(),
    scope: { kind: 'project', project },
    project,
    deadline: deadline === null ? null : new Date(deadline).toISOString(),
    projectedCompletion:
      projected.projectedCompletion === null ? null : new Date(projected.projectedCompletion).toISOString(),
    completed: runs.every((r) => r.timing.actualEnd !== null),
    slackSeconds: projected.slackSeconds,
    atRisk: projected.atRisk,
    bottleneck: projected.bottleneck,
    runs: runs.map((r) => r.timing),
  }
}

function rowStateOf(state: TaskState, started: boolean): RowState {
  if (state === 'active') return started ? 'running' : 'queued'
  // an expanded template never reaches a row (filtered above); pending is the closest reading
  return state === 'expanded' ? 'pending' : state
}

/** A stage's state from its instances': the worst ending once all ended, else how far it got. */
function stageStateOf(tasks: readonly TaskTiming[]): RowState {
  if (tasks.length === 0) return 'pending'
  const has = (state: RowState) => tasks.some((t) => t.state === state)
  const ended = tasks.every((t) => FINISHED_ROWS.has(t.state))
  if (ended) {
    for (const state of ['failed', 'upstream_failed', 'cancelled'] as const) if (has(state)) return state
    return tasks.every((t) => t.state === 'skipped') ? 'skipped' : 'succeeded'
  }
  for (const state of ['running', 'queued', 'retry_wait'] as const) if (has(state)) return state
  return 'pending'
}

const FINISHED_ROWS: ReadonlySet<RowState> = new Set<RowState>([
  'succeeded',
  'failed',
  'cancelled',
  'skipped',
  'upstream_failed',
])

function timesOf(view: TimesView): z.infer<typeof TimesSchema> {
  const end = view.actualEnd ?? view.projectedEnd
  return {
    plannedStart: view.plannedStart,
    plannedEnd: view.plannedEnd,
    projectedStart: view.projectedStart,
    projectedEnd: view.projectedEnd,
    actualStart: view.actualStart,
    actualEnd: view.actualEnd,
    lateSeconds: end === null ? null : (Date.parse(end) - Date.parse(view.plannedEnd)) / 1000,
  }
}
