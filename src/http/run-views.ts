/**
 * What the HTTP API says about runs and projects, assembled from the library: a run's progress
 * (computeRunProgress) with its expected-vs-actual view (runEstimateView), its attempts, and a
 * project's projection (projectProject over its unfinished runs, else its newest) with progress.
 * Estimates read history through one EstimateHistoryCache per app (a minute old at most), so a
 * busy client does not re-read the history on every request.
 */
import { instantOf } from '../core/budget/budget-period.js'
import { projectProject } from '../core/estimate/project-projection.js'
import type { RunSnapshot, RunState } from '../core/scheduling/run-snapshot.js'
import type { App } from '../create-app.js'
import { type EstimateHistory, EstimateHistoryCache } from '../monitor/estimate-history.js'
import { projectRunOf, runDeadline, runEstimateSummary, runEstimateView } from '../monitor/run-estimate.js'
import { computeRunProgress, computeRunSummary, type RunProgress, type RunSummary } from '../monitor/run-progress.js'
import type { AttemptRecord, RunRecord } from '../store/run-store.js'

const UNFINISHED: readonly RunState[] = ['running', 'interrupting', 'interrupted', 'cancelling']
/** Unfinished runs of one project projected at most (more is a report, not a request). */
const PROJECTED_RUNS = 200

const caches = new WeakMap<App, EstimateHistoryCache>()

async function historyFor(app: App, pipelines: readonly string[], now: number): Promise<EstimateHistory> {
  let cache = caches.get(app)
  if (!cache) {
    cache = new EstimateHistoryCache(app.store)
    caches.set(app, cache)
  }
  return cache.get(pipelines, now)
}

function deadlines(app: App): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(app.config.projects).map(([p, c]) => [p, c.deadline]))
}

export type { RunSummary }

const ENDED: ReadonlySet<RunState> = new Set(['succeeded', 'failed', 'cancelled'])

/**
 * Summaries of ended runs, per history read (EstimateHistoryCache keeps one for a minute at most):
 * an ended run's summary no longer depends on the clock, only on its row (`updatedAt`) and on the
 * history its expectations come from. Most of a listing page is ended runs, and a dashboard asks
 * for the same page again and again: each would otherwise reload and re-project every run.
 */
const endedSummaries = new WeakMap<EstimateHistory, Map<string, { updatedAt: string; summary: RunSummary }>>()

/** Progress and expected vs actual of each run, without the tasks. */
export async function runSummaries(app: App, runs: readonly RunRecord[]): Promise<RunSummary[]> {
  const now = app.clock()
  const history = await historyFor(app, [...new Set(runs.map((r) => r.pipelineName))], now)
  let ended = endedSummaries.get(history)
  if (!ended) {
    ended = new Map()
    endedSummaries.set(history, ended)
  }
  const known = ended
  const fresh = (run: RunRecord) => {
    const hit = known.get(run.id)
    return hit !== undefined && hit.updatedAt === run.updatedAt
  }
  // the others' tasks and attempts in two queries, not three per run
  const read = await app.store.loadSnapshotsKept(runs.filter((run) => !fresh(run)))
  const snapshots = new Map(read.map(({ run, snapshot }) => [run.id, snapshot]))
  return runs.map((run) => {
    const snapshot = snapshots.get(run.id)
    if (!snapshot) return (known.get(run.id) as { summary: RunSummary }).summary
    const projection = projectRunOf(run, snapshot, history, now)
    const expected = new Map(projection.tasks.map((t) => [t.id, t.expected.seconds]))
    const estimate = runEstimateSummary(projection, runDeadline(run, deadlines(app)))
    const summary = computeRunSummary(run, snapshot, now, expected, estimate)
    if (ENDED.has(run.state)) known.set(run.id, { updatedAt: run.updatedAt, summary })
    return summary
  })
}

/** One run task by task, each with its expected vs actual (and the snapshot it was made from). */
export async function runProgress(
  app: App,
  runId: string,
): Promise<{ run: RunRecord; snapshot: RunSnapshot; progress: RunProgress }> {
  const now = app.clock()
  const { run, snapshot } = await app.store.loadSnapshot(runId)
  const history = await historyFor(app, [run.pipelineName], now)
  const estimate = runEstimateView(projectRunOf(run, snapshot, history, now), runDeadline(run, deadlines(app)))
  return { run, snapshot, progress: computeRunProgress(run, snapshot, now, estimate) }
}

/** One run task by task, each with its expected vs actual, and every attempt. */
export async function runDetail(
  app: App,
  runId: string,
): Promise<{ run: RunRecord; detail: RunProgress & { attempts: AttemptRecord[] } }> {
  const { run, progress } = await runProgress(app, runId)
  return { run, detail: { ...progress, attempts: await app.store.listAttempts(run.id) } }
}

export interface ProjectView {
  readonly project: string
  readonly deadline: string | null
  readonly projectedCompletion: string | null
  readonly slackSeconds: number | null
  readonly atRisk: boolean
  readonly bottleneck: { readonly runId: string; readonly stage: string } | null
  readonly runs: { readonly total: number; readonly unfinished: number; readonly projected: readonly string[] }
  readonly tasks: { readonly total: number; readonly done: number }
}

/** The projects of the config and of the runs (or only `only`), sorted by name. */
export async function projectViews(app: App, only?: readonly string[]): Promise<ProjectView[]> {
  const now = app.clock()
  const counts = await app.store.listing.countsByProject()
  const names = [...new Set([...Object.keys(app.config.projects), ...counts.keys()])]
    .filter((p) => only === undefined || only.includes(p))
    .sort()
  const unfinishedOf = (project: string) =>
    UNFINISHED.reduce((sum, state) => sum + (counts.get(project)?.get(state) ?? 0), 0)
  // every project's runs, snapshots and history in a few statements, not a few per project: the
  // unfinished runs of all projects that have at most PROJECTED_RUNS in one page, the rest alone
  const runsOf = new Map<string, RunRecord[]>()
  const fewUnfinished = names.filter((p) => unfinishedOf(p) > 0 && unfinishedOf(p) <= PROJECTED_RUNS)
  if (fewUnfinished.length > 0) {
    const limit = fewUnfinished.reduce((sum, p) => sum + unfinishedOf(p), 0)
    for (const run of await app.store.listing.page({ projects: fewUnfinished, states: UNFINISHED, limit })) {
      const list = runsOf.get(run.project as string) ?? []
      if (list.length === 0) runsOf.set(run.project as string, list)
      list.push(run)
    }
  }
  for (const project of names) {
    if (runsOf.has(project)) continue
    const many = unfinishedOf(project) > 0
    runsOf.set(
      project,
      await app.store.listing.page({
        projects: [project],
        ...(many ? { states: UNFINISHED } : {}),
        limit: many ? PROJECTED_RUNS : 1,
      }),
    )
  }
  const allRuns = [...runsOf.values()].flat()
  const history = await historyFor(app, [...new Set(allRuns.map((r) => r.pipelineName))], now)
  const snapshots = new Map((await app.store.loadSnapshotsKept(allRuns)).map(({ run, snapshot }) => [run.id, snapshot]))
  return names.map((project) =>
    projectView(app, project, counts.get(project) ?? new Map(), runsOf.get(project) ?? [], {
      snapshots,
      history,
      now,
    }),
  )
}

function projectView(
  app: App,
  project: string,
  counts: ReadonlyMap<RunState, number>,
  runs: readonly RunRecord[],
  read: { snapshots: ReadonlyMap<string, RunSnapshot>; history: EstimateHistory; now: number },
): ProjectView {
  const { now, history } = read
  const unfinished = UNFINISHED.reduce((sum, state) => sum + (counts.get(state) ?? 0), 0)
  const total = [...counts.values()].reduce((a, b) => a + b, 0)
  const configured = app.config.projects[project]?.deadline
  let deadline: string | null = configured !== undefined && !Number.isNaN(instantOf(configured)) ? configured : null
  const projections = []
  let tasks = { total: 0, done: 0 }
  for (const run of runs) {
    const snapshot = read.snapshots.get(run.id)
    if (!snapshot) continue
    const projection = projectRunOf(run, snapshot, history, now)
    projections.push({ runId: run.id, projection })
    const progress = computeRunSummary(run, snapshot, now, null, null)
    tasks = { total: tasks.total + progress.total, done: tasks.done + progress.done }
    // without a project deadline, the earliest of its runs' own (their pipelines') stands for it
    const own = runDeadline(run, {})
    if (configured === undefined && own !== null && (deadline === null || instantOf(own) < instantOf(deadline)))
      deadline = own
  }
  const p = projectProject(project, deadline === null ? null : instantOf(deadline), projections)
  return {
    project,
    deadline,
    projectedCompletion: p.projectedCompletion === null ? null : new Date(p.projectedCompletion).toISOString(),
    slackSeconds: p.slackSeconds,
    atRisk: p.atRisk,
    bottleneck: p.bottleneck,
    runs: { total, unfinished, projected: runs.map((r) => r.id) },
    tasks,
  }
}
