/**
 * Expected vs actual for a project: the completion of its latest run and the slack to its deadline.
 * Pure.
 *
 *   projected completion = the latest projected completion of the project's runs (run-projection)
 *   slack                = deadline − projected completion, in seconds (negative: late); null
 *                          without a deadline
 *   at risk              = slack < 0
 *   bottleneck           = the bottleneck stage of the run that completes last (while it has one)
 */
import type { RunProjection } from './run-projection.js'

export interface ProjectRunProjection {
  readonly runId: string
  readonly projection: RunProjection
}

export interface ProjectProjection {
  readonly project: string
  /** ms; null without a deadline. */
  readonly deadline: number | null
  /** ms; null without runs. */
  readonly projectedCompletion: number | null
  readonly slackSeconds: number | null
  readonly atRisk: boolean
  readonly bottleneck: { readonly runId: string; readonly stage: string } | null
  readonly runs: number
}

/** Slack of one completion against a deadline: seconds to spare (negative: late); null without one. */
export function slackSeconds(deadline: number | null, completion: number): number | null {
  return deadline === null ? null : (deadline - completion) / 1000
}

export function projectProject(
  project: string,
  deadline: number | null,
  runs: readonly ProjectRunProjection[],
): ProjectProjection {
  let last: ProjectRunProjection | null = null
  for (const run of runs) {
    // ties: the run id decides, so the answer does not depend on the order runs came in
    const end = run.projection.projectedEnd
    const lastEnd = last?.projection.projectedEnd
    if (last === null || end > (lastEnd as number) || (end === lastEnd && run.runId < last.runId)) last = run
  }
  const completion = last?.projection.projectedEnd ?? null
  const slack = completion === null ? null : slackSeconds(deadline, completion)
  const stage = last?.projection.bottleneck ?? null
  return {
    project,
    deadline,
    projectedCompletion: completion,
    slackSeconds: slack,
    atRisk: slack !== null && slack < 0,
    bottleneck: last && stage ? { runId: last.runId, stage } : null,
    runs: runs.length,
  }
}
