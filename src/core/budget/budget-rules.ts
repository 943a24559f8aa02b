/**
 * Budget rules: the config's `projects.<p>.budgets[i]` as flat, identified values, and who a rule
 * applies to. A project rule counts every user of the project; a per-user rule only that user.
 */
import type { BudgetPeriod } from './budget-period.js'
import type { BudgetResource, BudgetScope } from './tres-hours.js'

export type BudgetCap = 'hard' | 'soft'

export interface BudgetRule extends BudgetScope {
  /** Stable within one config: the config path, `vision.budgets[0]`. */
  readonly id: string
  readonly project: string
  /** A per-user budget inside the project; null = the whole project. */
  readonly user: string | null
  readonly amount: number
  readonly period: BudgetPeriod
  readonly cap: BudgetCap
  /** Where it comes from, for messages: `config`, `rpo budget set by alice at …`. */
  readonly origin?: string
}

/** One `budgets[]` item as the config schema produces it (structural: the core imports no config). */
export interface BudgetRuleConfig {
  readonly resource: BudgetResource
  readonly gpuType?: string | undefined
  readonly amount: number
  readonly period?: BudgetPeriod | undefined
  readonly cap?: BudgetCap | undefined
  readonly user?: string | undefined
}

export function budgetRulesOf(project: string, budgets: readonly BudgetRuleConfig[]): BudgetRule[] {
  return budgets.map((budget, index) => ({
    id: `${project}.budgets[${index}]`,
    project,
    user: budget.user ?? null,
    resource: budget.resource,
    // a GPU type narrows only GPU-hours; on other resources it would silently count nothing
    gpuType: budget.resource === 'gpu-hours' ? (budget.gpuType ?? null) : null,
    amount: budget.amount,
    period: budget.period ?? 'month',
    cap: budget.cap ?? 'hard',
  }))
}

/** Whether work of `project`/`user` counts against the rule. */
export function ruleCovers(rule: Pick<BudgetRule, 'project' | 'user'>, project: string, user: string | null): boolean {
  return rule.project === project && (rule.user === null || rule.user === user)
}

export function sameScope(a: BudgetScope, b: BudgetScope): boolean {
  return a.resource === b.resource && (a.gpuType ?? null) === (b.gpuType ?? null)
}

/** `project vision`, `user alice of project vision`. */
export function describeOwner(rule: Pick<BudgetRule, 'project' | 'user'>): string {
  return rule.user === null ? `project ${rule.project}` : `user ${rule.user} of project ${rule.project}`
}

const DECIMALS = ['.0', '.1', '.2', '.3', '.4', '.5', '.6', '.7', '.8', '.9'] as const

/**
 * Amounts in messages: one decimal, so sentences stay readable and stable. Integer arithmetic
 * rather than toFixed, which is slow enough to show in a tick that explains 10,000 jobs.
 */
export function formatAmount(value: number): string {
  if (!Number.isFinite(value) || Math.abs(value) >= 1e15) return value.toFixed(1)
  const tenths = Math.round(Math.abs(value) * 10)
  const whole = Math.floor(tenths / 10)
  // the decimal as one ready string: a tick formats thousands of amounts, each a fresh string
  const decimal = DECIMALS[tenths % 10] as string
  return value < 0 && tenths !== 0 ? `-${whole}${decimal}` : `${whole}${decimal}`
}
