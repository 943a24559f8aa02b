/**
 * The rank of each run in a cluster round: its project's policy score (importance, deadline slack,
 * fair share, progress; src/core/policy/priority-score.ts), so the planner admits the ready work of
 * higher-scored runs first. One priority computation per round; with no priority terms configured
 * anywhere, every run ranks alike and the planner's own order decides.
 */
import type { BudgetService } from '../budget/budget-service.js'
import { projectPriorityInputs } from '../budget/project-priority-inputs.js'
import type { ResolvedConfig } from '../config/load-config.js'
import { readableEntries } from '../core/budget/budget-judgement.js'
import { scoreProjects } from '../core/policy/priority-score.js'
import type { RunStore } from '../store/run-store.js'
import type { RoundRun } from './observe-step.js'

export function runRanker(
  config: ResolvedConfig,
  store: RunStore,
  budgets: Pick<BudgetService, 'gpuWeights'>,
): (runs: readonly RoundRun[], now: number) => Promise<ReadonlyMap<string, number>> {
  return async (runs, now) => {
    const configured = Object.values(config.projects).some(
      (p) => p.deadline !== undefined || p.share !== undefined || (p.importance ?? 1) !== 1,
    )
    if (!configured && !runs.some(({ run }) => run.pipeline.deadline)) return new Map()
    const entries = readableEntries(await store.budgets.listEntries())
    const { projects } = await projectPriorityInputs(config, store, entries, budgets.gpuWeights(), now)
    // soft caps are enforcement's to weigh (it checkpoints over-soft work first); here only the score
    const scores = new Map(
      scoreProjects(
        projects.map((p) => ({ ...p, overSoft: false })),
        now,
      ).map((s) => [s.project, s.score]),
    )
    return new Map(runs.map(({ run }) => [run.id, (run.project && scores.get(run.project)) || 1]))
  }
}
