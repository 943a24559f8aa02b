/**
 * The budget report as data: what `rpo budget report --json` prints and `GET /v1/budgets` returns,
 * built in one place from the budgets' statuses in force now, every budget change, and the
 * optional usage breakdown. A budget that cannot be judged is listed as a problem, never a reason
 * to fail the whole report; a project asked about that has no budget is a usage error naming the
 * projects that have one.
 */
import type { BudgetProblem } from '../core/budget/budget-judgement.js'
import { RpoError } from '../core/errors.js'
import type { RunStore } from '../store/run-store.js'
import {
  type BreakdownLine,
  type BudgetChange,
  type BudgetReportLine,
  budgetChanges,
  budgetReportLines,
  type ReportBreakdown,
  type ReportFilter,
  usageBreakdown,
} from './budget-report.js'
import type { BudgetService } from './budget-service.js'

export interface BudgetReport {
  readonly at: string
  readonly budgets: readonly BudgetReportLine[]
  readonly problems: readonly BudgetProblem[]
  readonly changes: readonly BudgetChange[]
  readonly breakdown: readonly BreakdownLine[] | null
}

export async function buildBudgetReport(
  deps: { readonly budgets: BudgetService; readonly store: RunStore },
  filter: ReportFilter,
  by: ReportBreakdown | undefined,
  now: number,
  /** false: a filtered project without a budget is an empty report, not an error. */
  strict = true,
): Promise<BudgetReport> {
  const all = await deps.budgets.statuses(now)
  const { statuses, entries } = all
  const problems = all.problems.filter((p) => filter.project === undefined || p.project === filter.project)
  const known = [...new Set([...statuses, ...all.problems].map((s) => s.project))]
  if (strict && filter.project !== undefined && !known.includes(filter.project)) {
    throw new RpoError(
      'usage',
      `project "${filter.project}" has no budget${known.length ? ` (budgeted: ${known.join(', ')})` : ' (no project has one: add budgets in the config or with `rpo budget set`)'}`,
    )
  }
  return {
    at: new Date(now).toISOString(),
    budgets: budgetReportLines(statuses, filter),
    problems,
    changes: budgetChanges(await deps.store.budgets.listSettings(), entries, filter),
    breakdown: by ? usageBreakdown(entries, by, filter) : null,
  }
}
