/**
 * The rank of each run in a cluster round: its project's policy score (importance, deadline slack,
 * fair share, progress; src/core/policy/priority-score.ts), so the planner admits the ready work of
 * higher-scored runs first. One priority computation per round, from the round's runs as the tick
 * loaded them and the budget round's ledger read: no store read per run (a 1,000-run round would
 * otherwise reload 1,000 snapshots). With no priority terms configured anywhere, every run ranks
 * alike and the planner's own order decides.
 */
import type { BudgetRoundGate } from '../budget/budget-gate.js'
import type { BudgetService } from '../budget/budget-service.js'
import { projectScoresOf } from '../budget/project-priority-inputs.js'
import type { ResolvedConfig } from '../config/load-config.js'
import { readableEntries } from '../core/budget/budget-judgement.js'
import { EstimateHistoryCache } from '../monitor/estimate-history.js'
import type { RunStore } from '../store/run-store.js'
import type { RoundRun } from './observe-step.js'

export type RunRanking = (
  runs: readonly RoundRun[],
  now: number,
  round?: Pick<BudgetRoundGate, 'projectScores'> | null,
) => Promise<ReadonlyMap<string, number>>

export function runRanker(
  config: ResolvedConfig,
  store: RunStore,
  budgets: Pick<BudgetService, 'gpuWeights'>,
): RunRanking {
  // history is read at most once a minute, not every round
  const histories = new EstimateHistoryCache(store)
  return async (runs, now, round) => {
    const configured = Object.values(config.projects).some(
      (p) => p.deadline !== undefined || p.share !== undefined || (p.importance ?? 1) !== 1,
    )
    if (!configured && !runs.some(({ run }) => run.pipeline.deadline)) return new Map()
    const history = await histories.get(
      runs.map(({ run }) => run.pipelineName),
      now,
    )
    // without a budget round (nothing budgeted) the ledger is read here, once for the round
    const scores =
      round?.projectScores?.(runs, history) ??
      projectScoresOf(
        config,
        runs,
        readableEntries(await store.budgets.listEntries()),
        budgets.gpuWeights(),
        now,
        history,
      )
    return new Map(runs.map(({ run }) => [run.id, (run.project && scores.get(run.project)) || 1]))
  }
}
