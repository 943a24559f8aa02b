/**
 * The timing report of a run or a project, read from the store (timing-report.ts builds it). A
 * project's report covers its unfinished runs and the newest run of each of its pipelines, so a
 * project whose work is done still reports how its last runs ended, and old runs do not crowd it.
 */
import type { ResolvedConfig } from '../config/load-config.js'
import { RpoError } from '../core/errors.js'
import { suggest } from '../core/text/suggest.js'
import type { RunStore } from '../store/run-store.js'
import { loadEstimateHistory } from './estimate-history.js'
import {
  type ProjectedRun,
  projectRunTiming,
  projectTimingReport,
  runTimingReport,
  type TimingReport,
} from './timing-report.js'

export type TimingReportTarget =
  | { readonly kind: 'run'; readonly runId: string }
  | { readonly kind: 'project'; readonly project: string }

/** Runs read to find a project's: the newest ones, as `rpo status` lists them. */
const RUNS_SCANNED = 10_000

export async function loadTimingReport(
  store: RunStore,
  config: Pick<ResolvedConfig, 'projects'>,
  target: TimingReportTarget,
  now: number,
): Promise<TimingReport> {
  const deadlines = Object.fromEntries(Object.entries(config.projects).map(([p, c]) => [p, c.deadline]))
  if (target.kind === 'run') {
    const { run, snapshot } = await store.loadSnapshot(target.runId)
    const history = await loadEstimateHistory(store, [run.pipelineName], now)
    return runTimingReport(projectRunTiming(run, snapshot, history, deadlines, now), now)
  }
  const project = target.project
  const all = await store.listRuns({ limit: RUNS_SCANNED })
  const newestOfPipeline = new Set<string>()
  const chosen = all.filter((run) => {
    if (run.project !== project) return false
    // listRuns is newest first: the first run seen of a pipeline is its newest
    const newest = !newestOfPipeline.has(run.pipelineName)
    newestOfPipeline.add(run.pipelineName)
    return newest || run.finishedAt === null
  })
  if (chosen.length === 0) {
    const known = [...Object.keys(config.projects), ...all.flatMap((r) => (r.project === null ? [] : [r.project]))]
    const hint = suggest(project, known)
    throw new RpoError(
      'run-not-found',
      `no run of project "${project}" in ${store.description}${hint ? `; did you mean "${hint}"?` : ''}; \`rpo status\` lists the runs`,
    )
  }
  const history = await loadEstimateHistory(
    store,
    chosen.map((r) => r.pipelineName),
    now,
  )
  const projected: ProjectedRun[] = []
  // oldest first: the report reads in the order the work was started
  for (const run of chosen.reverse()) {
    const { snapshot } = await store.loadSnapshot(run.id)
    projected.push(projectRunTiming(run, snapshot, history, deadlines, now))
  }
  return projectTimingReport(project, config.projects[project]?.deadline, projected, now)
}
