/**
 * What `rpo budget report` shows: one line per budget rule (budget, used — weighted and raw —,
 * committed, remaining, lent, borrowed, projected exhaustion, state), every budget change with
 * who approved it, and, with `--by`, usage broken down by user, task, GPU type or day from the
 * ledger's charges. Pure.
 */
import { describePeriod } from '../core/budget/budget-judgement.js'
import { type BudgetLedger, parseAccount } from '../core/budget/budget-ledger.js'
import { formatAmount } from '../core/budget/budget-rules.js'
import type { BudgetStatus } from '../core/budget/budget-status.js'
import { describeScope, meterAmount, type TresHours } from '../core/budget/tres-hours.js'
import type { BudgetSetting } from '../store/budget-store.js'

export type ReportBreakdown = 'user' | 'task' | 'gpu-type' | 'day'

export interface ReportFilter {
  readonly project?: string | undefined
  readonly user?: string | undefined
  /** Epoch ms; charges before are left out of the breakdown. */
  readonly since?: number | undefined
  readonly until?: number | undefined
}

export interface BudgetReportLine {
  readonly rule: string
  readonly project: string
  readonly user: string | null
  readonly resource: string
  readonly gpuType: string | null
  readonly cap: string
  readonly window: string
  readonly amount: number
  readonly lent: number
  readonly borrowed: number
  readonly budget: number
  readonly used: number
  /** GPU-hours per type before weights, CPU-hours, GB-hours. */
  readonly usedRaw: TresHours
  readonly committed: number
  readonly remaining: number
  readonly burnPerDay: number
  readonly projectedExhaustion: string | null
  readonly state: string
  readonly grants: readonly {
    readonly grantId: string
    readonly lender: string
    readonly borrower: string
    readonly amount: number
    readonly used: number
    readonly unused: number
    readonly expiresAt: string
    readonly approvedBy: string
  }[]
}

export interface BreakdownLine {
  readonly project: string
  readonly key: string
  readonly gpuHours: number
  readonly cpuHours: number
  readonly memoryGbHours: number
}

export function budgetReportLines(statuses: readonly BudgetStatus[], filter: ReportFilter): BudgetReportLine[] {
  return statuses
    .filter((s) => (filter.project === undefined || s.project === filter.project) && matchesUser(s.user, filter.user))
    .map((s) => ({
      rule: s.ruleId,
      project: s.project,
      user: s.user,
      resource: s.resource,
      gpuType: s.gpuType,
      cap: s.cap,
      window: s.window.label,
      amount: s.amount,
      lent: s.lent,
      borrowed: s.borrowed,
      budget: s.effective,
      used: s.used,
      usedRaw: s.usedRaw,
      committed: s.committed,
      remaining: s.remaining,
      burnPerDay: s.burnPerDay,
      projectedExhaustion: s.projectedExhaustion,
      state: s.state,
      grants: s.grants.map((g) => ({
        grantId: g.grantId,
        lender: g.lender,
        borrower: g.borrower,
        amount: g.net,
        used: g.used,
        unused: g.unused,
        expiresAt: g.expiresAt,
        approvedBy: g.actor,
      })),
    }))
}

/** One change of a budget: a `rpo budget set`, a grant, a revoke or the return at a grant's expiry. */
export interface BudgetChange {
  readonly at: string
  readonly kind: 'set' | 'grant' | 'revoke' | 'expiry'
  /** The project whose budget it changes (the lender, for grants and revokes). */
  readonly project: string
  /** The borrower, for grants and revokes. */
  readonly to: string | null
  readonly what: string
  /** Who approved it: the user who made it; `rpo` for what rpo does by itself at expiry. */
  readonly approvedBy: string
  readonly note: string
}

/** Every budget change, oldest first, of the filter's project (as owner, lender or borrower). */
export function budgetChanges(
  settings: readonly BudgetSetting[],
  entries: BudgetLedger,
  filter: ReportFilter,
): BudgetChange[] {
  const changes: BudgetChange[] = settings.map((s) => ({
    at: s.at,
    kind: 'set',
    project: s.project,
    to: null,
    what: `${s.user ? `user ${s.user}: ` : ''}${formatAmount(s.amount)} ${describeScope({ resource: s.resource, gpuType: s.gpuType })} per ${describePeriod(s.period)}, ${s.cap} cap`,
    approvedBy: s.actor,
    note: s.note,
  }))
  for (const entry of entries) {
    if ((entry.kind !== 'grant' && entry.kind !== 'revoke') || !entry.ruleScope) continue
    const expiry = entry.kind === 'revoke' && entry.key.startsWith('expire:')
    // a revoke moves back from the borrower to the lender
    const [lender, borrower] = entry.kind === 'grant' ? [entry.from, entry.to] : [entry.to, entry.from]
    changes.push({
      at: entry.at,
      kind: expiry ? 'expiry' : entry.kind,
      project: parseAccount(lender).project,
      to: parseAccount(borrower).project,
      what: `${entry.kind === 'grant' ? 'lends' : 'takes back'} ${formatAmount(meterAmount(entry.ruleScope, entry.hours))} ${describeScope(entry.ruleScope)} (${entry.grantId ?? entry.key})`,
      approvedBy: entry.actor,
      note: entry.note,
    })
  }
  return changes
    .filter((c) => filter.project === undefined || c.project === filter.project || c.to === filter.project)
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
}

/** Charged usage grouped by `by`, from the ledger's charge entries. */
export function usageBreakdown(entries: BudgetLedger, by: ReportBreakdown, filter: ReportFilter): BreakdownLine[] {
  const lines = new Map<string, { project: string; key: string; gpu: number; cpu: number; mem: number }>()
  const add = (project: string, key: string, gpu: number, cpu: number, mem: number) => {
    const id = `${project}\u0000${key}`
    const line = lines.get(id) ?? { project, key, gpu: 0, cpu: 0, mem: 0 }
    line.gpu += gpu
    line.cpu += cpu
    line.mem += mem
    lines.set(id, line)
  }
  for (const entry of entries) {
    if (entry.kind !== 'charge') continue
    const owner = parseAccount(entry.to)
    if (filter.project !== undefined && owner.project !== filter.project) continue
    if (!matchesUser(owner.user, filter.user)) continue
    const at = Date.parse(entry.at)
    if ((filter.since !== undefined && at < filter.since) || (filter.until !== undefined && at >= filter.until))
      continue
    const gpuTotal = Object.values(entry.hours.gpu).reduce((a, b) => a + b, 0)
    if (by === 'gpu-type') {
      for (const [type, hours] of Object.entries(entry.hours.gpu)) add(owner.project, type, hours, 0, 0)
      if (gpuTotal === 0) add(owner.project, '(no GPU)', 0, entry.hours.cpu, entry.hours.memoryGb)
      else add(owner.project, '(cpu and memory)', 0, entry.hours.cpu, entry.hours.memoryGb)
      continue
    }
    const key =
      by === 'user'
        ? (owner.user ?? '(unknown)')
        : by === 'day'
          ? entry.at.slice(0, 10)
          : taskOfUsageKey(entry.usageKey)
    add(owner.project, key, gpuTotal, entry.hours.cpu, entry.hours.memoryGb)
  }
  return [...lines.values()]
    .sort((a, b) => a.project.localeCompare(b.project) || a.key.localeCompare(b.key))
    .map((l) => ({ project: l.project, key: l.key, gpuHours: l.gpu, cpuHours: l.cpu, memoryGbHours: l.mem }))
}

/** `rpo.<run>.<task>.<attempt>@<start>` → `<run>/<task>`. */
export function taskOfUsageKey(usageKey: string | undefined): string {
  const key = (usageKey ?? '').split('@')[0] ?? ''
  const match = /^rpo\.([^.]+)\.(.+)\.(\d+)$/.exec(key)
  return match ? `${match[1]}/${match[2]}` : key || '(unknown)'
}

function matchesUser(user: string | null, wanted: string | undefined): boolean {
  return wanted === undefined || user === wanted
}
