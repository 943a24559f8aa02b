/**
 * Budgets fail closed, one project at a time. Owns which projects' budgets can be judged: a rule
 * that cannot be computed (a period that ends before it starts, an amount that is not a finite
 * number, a row an older rpo wrote), a ledger entry that cannot be read, or a status whose numbers
 * come out non-finite makes ITS project unjudgeable — with a sentence naming the setting — while
 * every other project is judged as usual. Callers hold or keep waiting the work of an unjudgeable
 * project; they never read "no status" as "no budget". Pure.
 */

import type { BudgetLedger, LedgerEntry } from './budget-ledger.js'
import { parseAccount } from './budget-ledger.js'
import { amountProblem, isBudgetResource } from './budget-limits.js'
import { type BudgetPeriod, instantOf, periodWindow } from './budget-period.js'
import { type BudgetRule, describeOwner } from './budget-rules.js'
import { type BudgetStatus, type BudgetStatusInput, computeBudgetStatusFrom } from './budget-status.js'
import { indexUsage, type UsageIndex } from './budget-usage.js'

export interface BudgetProblem {
  readonly project: string
  /** 'budget': the project's budget cannot be judged, so its work is held; 'deadline': it is ranked without it. */
  readonly kind: 'budget' | 'deadline'
  /** The rule id (`other.set[0]`), the ledger entry key or the deadline's owner: what to fix. */
  readonly source: string
  /** A sentence: which project, which setting, what is wrong with it. */
  readonly message: string
}

export interface BudgetJudgement {
  /** Statuses of the projects that can be judged (no status at all of the others). */
  readonly statuses: BudgetStatus[]
  /** At least one per unjudgeable project. */
  readonly problems: BudgetProblem[]
}

/** computeBudgetStatus, fenced: a project whose rules or ledger cannot be computed is a problem, not an exception. */
export function judgeBudgets(input: BudgetStatusInput): BudgetJudgement {
  const problems: BudgetProblem[] = []
  for (const rule of input.rules) {
    const why = ruleProblem(rule, input.now)
    if (why !== null) problems.push(budgetProblem(rule.project, rule.id, `${describeRule(rule)}: ${why}`))
  }
  // each entry's time is read once, here, and handed to the usage index. The ledger is screened on
  // every decision: the readable entries are the ledger itself unless some entry is not
  const all = input.entries
  let entries: BudgetLedger = all
  let instants = new Float64Array(all.length)
  let kept = 0
  for (let e = 0; e < all.length; e++) {
    const entry = all[e] as LedgerEntry
    const at = instantOf(entry.at)
    const why = entryProblemAt(entry, at)
    if (why === null) {
      if (entries !== all) (entries as LedgerEntry[]).push(entry)
      instants[kept++] = at
      continue
    }
    if (entries === all) entries = all.slice(0, e)
    for (const project of entryProjects(entry)) {
      problems.push(budgetProblem(project, entry.key, `ledger entry ${JSON.stringify(entry.key)}: ${why}`))
    }
  }
  if (kept < all.length) instants = instants.subarray(0, kept)
  const unjudged = new Set(problems.map((p) => p.project))
  let rules = input.rules.filter((r) => !unjudged.has(r.project))
  const usage = indexUsage(entries, instants)
  let statuses = tryStatuses(rules, entries, usage, input)
  if (statuses instanceof Error) {
    // something the checks above did not foresee: find the projects it comes from, one by one
    for (const project of new Set(rules.map((r) => r.project))) {
      const alone = tryStatuses(
        rules.filter((r) => r.project === project),
        entries,
        usage,
        input,
      )
      if (alone instanceof Error) problems.push(budgetProblem(project, project, `its status: ${alone.message}`))
    }
    const failed = new Set(problems.map((p) => p.project))
    rules = rules.filter((r) => !failed.has(r.project))
    statuses = tryStatuses(rules, entries, usage, input)
    if (statuses instanceof Error) {
      const error = statuses
      for (const project of new Set(rules.map((r) => r.project))) {
        problems.push(budgetProblem(project, project, `the budgets together: ${error.message}`))
      }
      statuses = []
    }
  }
  // a NaN compares false with every cap, which would admit anything: refuse to read it
  const broken = new Set<string>()
  for (const s of statuses) {
    const bad = (['effective', 'used', 'committed', 'remaining'] as const).find((k) => !Number.isFinite(s[k]))
    if (bad && !broken.has(s.project)) {
      broken.add(s.project)
      problems.push(budgetProblem(s.project, s.ruleId, `${s.ruleId}: its ${bad} came out as ${s[bad]}`))
    }
  }
  return { statuses: broken.size === 0 ? statuses : statuses.filter((s) => !broken.has(s.project)), problems }
}

/** Why a rule cannot be used to judge work, or null. */
export function ruleProblem(rule: BudgetRule, now: number): string | null {
  // what the computation needs, not the CLI's name rules: a config may name what the CLI would not
  if (typeof rule.project !== 'string' || rule.project === '') return 'its project name is empty'
  if (rule.user !== null && (typeof rule.user !== 'string' || rule.user === '')) return 'its user name is empty'
  if (!isBudgetResource(rule.resource)) return `${JSON.stringify(rule.resource)} is not a budget resource`
  if (rule.gpuType !== null && typeof rule.gpuType !== 'string') return 'its GPU type is not a name'
  if (rule.cap !== 'hard' && rule.cap !== 'soft') return `its cap ${JSON.stringify(rule.cap)} is neither hard nor soft`
  const amount = amountProblem(rule.amount)
  if (amount) return amount
  try {
    periodWindow(rule.period, now)
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
  return null
}

/** `the gpu-hours budget other.set[0] (5.0 per 2026-05-01..2026-01-01, hard cap; set by mallory …)`. */
export function describeRule(rule: BudgetRule): string {
  const scope = rule.gpuType ? `${String(rule.gpuType)} ${String(rule.resource)}` : String(rule.resource)
  const origin = rule.origin ? `; ${rule.origin}` : ''
  return `the ${scope} budget ${rule.id} of ${describeOwner(rule)} (${String(rule.amount)} per ${describePeriod(rule.period)}, ${String(rule.cap)} cap${origin})`
}

/** `month`, `rolling:30d`, `2026-01-01..2026-03-31`: how the CLI writes a period, whatever the value holds. */
export function describePeriod(period: BudgetPeriod): string {
  if (period === 'month') return 'month'
  if (period !== null && typeof period === 'object') {
    if ('rollingDays' in period) return `rolling:${String(period.rollingDays)}d`
    if ('from' in period && 'until' in period) return `${String(period.from)}..${String(period.until)}`
  }
  return JSON.stringify(period) ?? String(period)
}

function budgetProblem(project: string, source: string, what: string): BudgetProblem {
  return {
    project,
    kind: 'budget',
    source,
    message: `the budget of project ${project} cannot be judged: ${what}`,
  }
}

function tryStatuses(rules: readonly BudgetRule[], entries: BudgetLedger, usage: UsageIndex, input: BudgetStatusInput) {
  try {
    const { commitments, gpuWeights, now } = input
    return computeBudgetStatusFrom(usage, { rules, entries, commitments, gpuWeights, now })
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error))
  }
}

/** The entries a budget computation can read (the others are problems judgeBudgets names). */
export function readableEntries(entries: BudgetLedger): LedgerEntry[] {
  return entries.filter((entry) => entryProblem(entry) === null)
}

function entryProblem(entry: LedgerEntry): string | null {
  return entryProblemAt(entry, instantOf(entry.at))
}

function entryProblemAt(entry: LedgerEntry, at: number): string | null {
  if (Number.isNaN(at)) return `its time ${JSON.stringify(entry.at)} is not an ISO timestamp`
  if (entry.kind === 'grant' && (entry.expiresAt === undefined || Number.isNaN(instantOf(entry.expiresAt)))) {
    return `its expiry ${JSON.stringify(entry.expiresAt)} is not an ISO timestamp`
  }
  const hours = entry.hours
  // no array per entry: the ledger is screened on every decision, and it holds tens of thousands
  let sound = hours !== null && typeof hours === 'object' && isMeter(hours.cpu) && isMeter(hours.memoryGb)
  sound = sound && isMeter(hours.billing) && hours.gpu !== null && typeof hours.gpu === 'object'
  if (sound) for (const type in hours.gpu) sound = sound && isMeter(hours.gpu[type])
  return sound ? null : 'its hours are not finite, non-negative numbers'
}

function isMeter(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0
}

function entryProjects(entry: LedgerEntry): string[] {
  const projects = new Set<string>()
  for (const account of [entry.from, entry.to]) {
    if (typeof account === 'string') projects.add(parseAccount(account).project)
  }
  return [...projects]
}

/** A deadline that is not a date ranks its project as if it had none: said, never thrown. */
export function deadlineProblem(project: string, deadline: string, source: string): BudgetProblem | null {
  if (!Number.isNaN(instantOf(deadline))) return null
  return {
    project,
    kind: 'deadline',
    source,
    message: `the priority of project ${project} is computed without its deadline ${JSON.stringify(deadline)} (${source}): it is not an ISO date-time`,
  }
}
