/**
 * The efficiency report of a set of attempts (a run, a pipeline, a project, a time window): the
 * figures of them all, per stage with a right-sizing suggestion, and the attempts that wasted most.
 * Pure; composes efficiency.ts and right-sizing.ts.
 */
import {
  type AttemptEfficiency,
  attemptEfficiency,
  type EfficiencyAttempt,
  type EfficiencySummary,
  summarizeEfficiency,
  type WasteNote,
  wasteNotes,
} from './efficiency.js'
import { type RightSizing, suggestRightSizing } from './right-sizing.js'

export interface StageEfficiency {
  readonly pipeline: string
  readonly stage: string
  readonly efficiency: EfficiencySummary
  readonly rightSizing: RightSizing
}

export interface EfficiencyReport {
  readonly total: EfficiencySummary
  readonly stages: readonly StageEfficiency[]
  /** The most wasteful attempts, largest idle GPU- then CPU-hours first. */
  readonly waste: readonly WasteNote[]
}

/** @param attempts ended attempts, newest first (the history's order). */
export function efficiencyReport(
  attempts: readonly EfficiencyAttempt[],
  options: { readonly wasteLimit?: number } = {},
): EfficiencyReport {
  const figures = attempts.map((a) => ({ attempt: a, efficiency: attemptEfficiency(a) }))
  const byStage = new Map<string, typeof figures>()
  for (const entry of figures) {
    const key = `${entry.attempt.pipeline}\u0000${entry.attempt.stage}`
    const list = byStage.get(key)
    if (list) list.push(entry)
    else byStage.set(key, [entry])
  }
  const stages: StageEfficiency[] = [...byStage.values()].map((list) => {
    const first = (list[0] as (typeof figures)[number]).attempt
    return {
      pipeline: first.pipeline,
      stage: first.stage,
      efficiency: summarizeEfficiency(list.map((e) => e.efficiency)),
      rightSizing: suggestRightSizing(
        list.map((e) => ({
          state: e.attempt.state,
          efficiency: e.efficiency,
          askedTimeLimitSeconds: e.attempt.asked?.timeLimitSeconds ?? null,
        })),
      ),
    }
  })
  stages.sort((a, b) => (a.pipeline === b.pipeline ? (a.stage < b.stage ? -1 : 1) : a.pipeline < b.pipeline ? -1 : 1))
  const all: (AttemptEfficiency & { runId: string })[] = figures.map((e) => ({
    ...e.efficiency,
    runId: e.attempt.runId,
  }))
  return {
    total: summarizeEfficiency(all),
    stages,
    waste: wasteNotes(all, { limit: options.wasteLimit ?? 10 }),
  }
}
