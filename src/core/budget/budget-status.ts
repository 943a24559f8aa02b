/**
 * Where every budget rule stands at `now`: own amount, lent and borrowed, the effective budget,
 * what was used (weighted and raw), what in-flight jobs may still use at worst (committed), what
 * is left, the burn rate, a projected exhaustion and the cap state. The one input of admission,
 * enforcement and `rpo budget report`. Pure: the ledger and the commitments are passed in.
 */

import { computeGrantStatuses, type GrantStatus } from './budget-grants.js'
import type { BudgetLedger } from './budget-ledger.js'
import { instantOf, isInWindow, type PeriodWindow, periodWindow } from './budget-period.js'
import { type BudgetCap, type BudgetRule, ruleCovers, sameScope } from './budget-rules.js'
import { indexUsage, type UsageIndex, windowUsage } from './budget-usage.js'
import { type BudgetResource, meterAmount, scaleTresHours, type TresHours, zeroTresHours } from './tres-hours.js'

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000

/** An in-flight job: what it burns per hour and how long it may still run. */
export interface Commitment {
  readonly project: string
  readonly user: string | null
  /** TRES-hours per hour of wall time, e.g. `tresHoursOf(allocTres, 3600)`. */
  readonly rate: TresHours
  readonly elapsedSeconds: number
  readonly timeLimitSeconds: number
}

export type BudgetState = 'ok' | 'soft-exceeded' | 'hard-reached'

export interface BudgetStatus {
  readonly ruleId: string
  readonly project: string
  readonly user: string | null
  readonly resource: BudgetResource
  readonly gpuType: string | null
  readonly cap: BudgetCap
  readonly window: PeriodWindow
  /** The project's GPU weights, so a status alone can meter a request. */
  readonly gpuWeights: Readonly<Record<string, number>>
  /** The rule's own amount, from the config. */
  readonly amount: number
  readonly lent: number
  readonly borrowed: number
  /** amount − lent + borrowed. */
  readonly effective: number
  readonly used: number
  readonly usedRaw: TresHours
  /** Worst case still to come of in-flight jobs: Σ rate × max(0, timeLimit − elapsed). */
  readonly committed: number
  /** effective − used − committed (negative when over). */
  readonly remaining: number
  /** used per day elapsed in the window (at least one hour counted). */
  readonly burnPerDay: number
  /** When used reaches effective at the current burn rate; null when not within the window. */
  readonly projectedExhaustion: string | null
  /** used ≥ effective: 'hard-reached' or 'soft-exceeded' by the cap; otherwise 'ok'. */
  readonly state: BudgetState
  /** Grants this rule lends (project = lender) or borrows (project = borrower) in its window. */
  readonly grants: readonly GrantStatus[]
}

export interface BudgetStatusInput {
  readonly rules: readonly BudgetRule[]
  readonly entries: BudgetLedger
  readonly commitments: readonly Commitment[]
  /** Per project: GPU type → weight (1 when absent). */
  readonly gpuWeights: Readonly<Record<string, Readonly<Record<string, number>>>>
  readonly now: number
}

/** The worst case still to come of one in-flight job. */
export function remainingWorstCase(rate: TresHours, elapsedSeconds: number, timeLimitSeconds: number): TresHours {
  return scaleTresHours(rate, Math.max(0, timeLimitSeconds - elapsedSeconds) / 3600)
}

export function computeBudgetStatus(input: BudgetStatusInput): BudgetStatus[] {
  return computeBudgetStatusFrom(indexUsage(input.entries), input)
}

/** As computeBudgetStatus, with the usage index built once by the caller (it is the costly part). */
export function computeBudgetStatusFrom(usage: UsageIndex, input: BudgetStatusInput): BudgetStatus[] {
  const { rules, now } = input
  // most rules share a period ('month'): one window each, not one per rule
  const byPeriod = new Map<BudgetRule['period'], PeriodWindow>()
  const windows = new Map<string, PeriodWindow>()
  for (const rule of rules) {
    let window = byPeriod.get(rule.period)
    if (!window) {
      window = periodWindow(rule.period, now)
      byPeriod.set(rule.period, window)
    }
    windows.set(rule.id, window)
  }
  const grants = computeGrantStatuses(input.entries, { rules, usage, windows, gpuWeights: input.gpuWeights, now })
  const pending = input.commitments.map((c) => ({
    commitment: c,
    hours: remainingWorstCase(c.rate, c.elapsedSeconds, c.timeLimitSeconds),
  }))
  const raw = new Map<string, ReturnType<typeof windowUsage>>()
  return rules.map((rule) => {
    const window = windows.get(rule.id) as PeriodWindow
    const weights = input.gpuWeights[rule.project] ?? {}
    const own =
      rule.user === null ? grants.filter((g) => sameScope(g.scope, rule) && isInWindow(window, instantOf(g.at))) : []
    const lentGrants = own.filter((g) => g.lender === rule.project)
    const borrowedGrants = own.filter((g) => g.borrower === rule.project)
    const lent = lentGrants.reduce((sum, g) => sum + g.contribution, 0)
    const borrowed = borrowedGrants.reduce((sum, g) => sum + g.contribution, 0)
    const effective = rule.amount - lent + borrowed
    // the rules of one project and window (its gpu-, cpu- and per-user budgets) share one pass
    const rawKey = `${rule.project}\u0000${window.from}\u0000${window.until}\u0000${window.includesUntil}`
    const inWindow = raw.get(rawKey) ?? windowUsage(usage, rule.project, window)
    raw.set(rawKey, inWindow)
    const usedRaw = rule.user === null ? inWindow.all : (inWindow.byUser.get(rule.user) ?? zeroTresHours())
    const used = meterAmount(rule, usedRaw, weights)
    let committed = 0
    for (const { commitment, hours } of pending) {
      if (ruleCovers(rule, commitment.project, commitment.user)) committed += meterAmount(rule, hours, weights)
    }
    const burnPerDay = used / (Math.max(HOUR_MS, Math.min(now, window.until) - window.from) / DAY_MS)
    return {
      ruleId: rule.id,
      project: rule.project,
      user: rule.user,
      resource: rule.resource,
      gpuType: rule.gpuType,
      cap: rule.cap,
      window,
      gpuWeights: weights,
      amount: rule.amount,
      lent,
      borrowed,
      effective,
      used,
      usedRaw,
      committed,
      remaining: effective - used - committed,
      burnPerDay,
      projectedExhaustion: projectExhaustion(used, effective, burnPerDay, window, now),
      state: used >= effective - 1e-9 ? (rule.cap === 'hard' ? 'hard-reached' : 'soft-exceeded') : 'ok',
      grants: [...lentGrants, ...borrowedGrants],
    }
  })
}

function projectExhaustion(
  used: number,
  effective: number,
  burnPerDay: number,
  window: PeriodWindow,
  now: number,
): string | null {
  if (used >= effective) return new Date(now).toISOString()
  if (burnPerDay <= 0) return null
  const at = now + ((effective - used) / burnPerDay) * DAY_MS
  // a rolling window slides with now: project over one window length ahead
  const horizon = window.includesUntil ? now + (window.until - window.from) : window.until
  return at < horizon ? new Date(Math.round(at)).toISOString() : null
}
