/**
 * What the priority score needs of every project, read from the config and the running runs:
 * importance, the earliest deadline, the fair-share target and this month's usage, and progress
 * (remaining critical path, expected and done work: the estimate model's projection of each run,
 * src/core/estimate, so durations come from history where there is some, else the declared
 * `expected`, else the time limit). A deadline that is not a date (an older rpo
 * recorded it, or the config was not checked) is left out and returned as a problem naming where
 * it was written, so one bad value never stops the decision for every project.
 */
import type { ResolvedConfig } from '../config/load-config.js'
import { type BudgetProblem, deadlineProblem } from '../core/budget/budget-judgement.js'
import type { BudgetLedger } from '../core/budget/budget-ledger.js'
import { instantOf, periodWindow } from '../core/budget/budget-period.js'
import { indexUsage, projectUsage } from '../core/budget/budget-usage.js'
import type { EnforcementProject } from '../core/policy/enforcement-plan.js'
import { scoreProjects } from '../core/policy/priority-score.js'
import type { RunSnapshot } from '../core/scheduling/run-snapshot.js'
import { type EstimateHistory, EstimateHistoryCache, NO_HISTORY } from '../monitor/estimate-history.js'
import { projectRunSummaryOf } from '../monitor/run-estimate.js'
import type { RunRecord, RunStore } from '../store/run-store.js'

interface Progress {
  remaining: number
  expected: number
  done: number
  started: string | null
}

type GpuWeights = Readonly<Record<string, Readonly<Record<string, number>>>>

/** A running run with its snapshot as already loaded (a cluster tick has every run's). */
export interface RunWithSnapshot {
  readonly run: RunRecord
  readonly snapshot: RunSnapshot
}

// enforcement decides up to once a second per cluster: history is read at most once a minute per store
const historyCaches = new WeakMap<RunStore, EstimateHistoryCache>()

function historyCacheOf(store: RunStore): EstimateHistoryCache {
  let cache = historyCaches.get(store)
  if (!cache) {
    cache = new EstimateHistoryCache(store)
    historyCaches.set(store, cache)
  }
  return cache
}

/** The inputs from every running run in the store: one snapshot load per run (enforcement's view). */
export async function projectPriorityInputs(
  config: ResolvedConfig,
  store: RunStore,
  entries: BudgetLedger,
  gpuWeights: GpuWeights,
  now: number,
): Promise<{ projects: EnforcementProject[]; problems: BudgetProblem[] }> {
  const runs = await store.listRuns({ limit: 10_000, states: ['running'] })
  const loaded: RunWithSnapshot[] = []
  for (const run of runs) {
    if (run.project !== null) loaded.push({ run, snapshot: (await store.loadSnapshot(run.id)).snapshot })
  }
  const history = await historyCacheOf(store).get(
    loaded.map(({ run }) => run.pipelineName),
    now,
  )
  return priorityInputsOfRuns(config, loaded, entries, gpuWeights, now, history)
}

/**
 * Each project's policy score from runs already loaded and a ledger already read: what a cluster
 * round ranks its runs by, with no store read of its own. Soft caps are enforcement's to weigh.
 */
export function projectScoresOf(
  config: ResolvedConfig,
  runs: readonly RunWithSnapshot[],
  entries: BudgetLedger,
  gpuWeights: GpuWeights,
  now: number,
  history: EstimateHistory = NO_HISTORY,
): Map<string, number> {
  const { projects } = priorityInputsOfRuns(config, runs, entries, gpuWeights, now, history)
  const scored = scoreProjects(
    projects.map((p) => ({ ...p, overSoft: false })),
    now,
  )
  return new Map(scored.map((s) => [s.project, s.score]))
}

/** The inputs from the given runs and ledger, without reading the store. */
export function priorityInputsOfRuns(
  config: ResolvedConfig,
  runs: readonly RunWithSnapshot[],
  entries: BudgetLedger,
  gpuWeights: GpuWeights,
  now: number,
  history: EstimateHistory = NO_HISTORY,
): { projects: EnforcementProject[]; problems: BudgetProblem[] } {
  const problems: BudgetProblem[] = []
  const progress = new Map<string, Progress>()
  const deadlines = new Map<string, { at: number; text: string }>()
  const offerDeadline = (project: string, text: string | undefined, source: string) => {
    if (typeof text !== 'string') return
    const problem = deadlineProblem(project, text, source)
    if (problem) {
      problems.push(problem)
      return
    }
    const at = instantOf(text)
    const earlier = deadlines.get(project)
    if (!earlier || at < earlier.at) deadlines.set(project, { at, text })
  }
  for (const { run, snapshot } of runs) {
    if (run.project === null) continue
    const projection = projectRunSummaryOf(run, snapshot, history, now)
    const entry = progress.get(run.project) ?? { remaining: 0, expected: 0, done: 0, started: null }
    entry.expected += projection.expectedWorkSeconds
    entry.done += projection.doneWorkSeconds
    entry.remaining = Math.max(entry.remaining, projection.remainingCriticalPathSeconds)
    if (entry.started === null || run.createdAt < entry.started) entry.started = run.createdAt
    progress.set(run.project, entry)
    offerDeadline(run.project, snapshot.pipeline.deadline ?? undefined, `the deadline of run ${run.id}`)
  }
  for (const [project, p] of Object.entries(config.projects)) {
    offerDeadline(project, p.deadline, `projects.${project}.deadline in the config`)
  }
  // fair share compares weighted GPU-hours this month, budget or not
  const usageByProject = projectUsage(
    indexUsage(entries),
    periodWindow('month', now),
    { resource: 'gpu-hours', gpuType: null },
    gpuWeights,
  )
  const names = new Set([...Object.keys(config.projects), ...progress.keys()])
  const projects = [...names].map((project) => {
    const own = config.projects[project]
    const p = progress.get(project)
    return {
      project,
      importance: own?.importance ?? 1,
      deadline: deadlines.get(project)?.text ?? null,
      share: own?.share ?? null,
      usage: usageByProject.get(project) ?? 0,
      remainingCriticalPathSeconds: p?.remaining ?? 0,
      expectedWorkSeconds: p?.expected ?? 0,
      doneWorkSeconds: p?.done ?? 0,
      startedAt: p?.started ?? null,
    }
  })
  return { projects, problems }
}
