/**
 * Each project's projected completion and deadline slack, as `/metrics` reports them: the
 * projection of its running runs (src/monitor/run-estimate.ts, durations from history where there
 * is some) folded per project by src/core/estimate/project-projection.ts. The project's deadline is
 * the earliest valid one of its config entry and its running runs' pipelines — the one the priority
 * policy ranks it by. Cost: the running runs' snapshots in two queries (the work in hand, not
 * history) and the estimates' history, reused for a minute.
 */
import type { ResolvedConfig } from '../config/load-config.js'
import { instantOf } from '../core/budget/budget-period.js'
import { type ProjectRunProjection, projectProject } from '../core/estimate/project-projection.js'
import type { EstimateHistoryCache } from '../monitor/estimate-history.js'
import { projectRunOf } from '../monitor/run-estimate.js'
import type { RunStore } from '../store/run-store.js'

export interface ProjectSlack {
  readonly project: string
  /** ms since the epoch. */
  readonly projectedCompletion: number
  /** ms since the epoch; null when the project has no deadline. */
  readonly deadline: number | null
  /** deadline − projected completion, seconds (negative: late); null without a deadline. */
  readonly slackSeconds: number | null
}

/** At most this many running runs are projected per scrape (a store has far fewer). */
const RUNS_READ = 10_000

export async function readProjectSlack(
  store: RunStore,
  config: ResolvedConfig,
  histories: EstimateHistoryCache,
  now: number,
): Promise<ProjectSlack[]> {
  const runs = (await store.listRuns({ limit: RUNS_READ, states: ['running'] })).filter((run) => run.project !== null)
  if (runs.length === 0) return []
  const history = await histories.get(
    runs.map((run) => run.pipelineName),
    now,
  )
  const byProject = new Map<string, { runs: ProjectRunProjection[]; deadline: number | null }>()
  const offer = (project: string, text: string | null | undefined) => {
    const entry = byProject.get(project)
    if (!entry || typeof text !== 'string') return
    const at = instantOf(text)
    if (!Number.isNaN(at) && (entry.deadline === null || at < entry.deadline)) entry.deadline = at
  }
  for (const { run, snapshot } of await store.loadSnapshotsKept(runs)) {
    const project = run.project as string
    const entry = byProject.get(project) ?? { runs: [], deadline: null }
    byProject.set(project, entry)
    entry.runs.push({ runId: run.id, projection: projectRunOf(run, snapshot, history, now) })
    offer(project, snapshot.pipeline.deadline)
  }
  for (const project of byProject.keys()) offer(project, config.projects[project]?.deadline)
  return [...byProject.entries()]
    .map(([project, { runs: projected, deadline }]) => {
      const projection = projectProject(project, deadline, projected)
      return {
        project,
        projectedCompletion: projection.projectedCompletion as number,
        deadline,
        slackSeconds: projection.slackSeconds,
      }
    })
    .sort((a, b) => a.project.localeCompare(b.project))
}
