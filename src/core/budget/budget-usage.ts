/**
 * Usage read back from the ledger: every movement into or out of a `usage:` account, indexed by
 * project, so each rule sums its own window in one pass over its project's records (in ledger
 * order: nothing here needs them sorted by time).
 * Charges add; an adjustment out of a usage account (a refund) subtracts.
 */
import { type AccountId, type AccountOwner, type BudgetLedger, parseAccount } from './budget-ledger.js'
import { instantOf, isInWindow, type PeriodWindow, parseInstant } from './budget-period.js'
import { type BudgetScope, meterAmount, type TresHours } from './tres-hours.js'

/** One project's usage movements as parallel arrays (no object per movement: a ledger has many). */
interface ProjectUsage {
  readonly at: number[]
  readonly user: (string | null)[]
  /** +1 into a usage account (a charge), −1 out of one (a refund). */
  readonly sign: number[]
  readonly hours: TresHours[]
}

export interface UsageIndex {
  readonly byProject: ReadonlyMap<string, ProjectUsage>
}

export function indexUsage(entries: BudgetLedger): UsageIndex {
  const byProject = new Map<string, ProjectUsage>()
  // a ledger names few accounts many times: parse each once
  const owners = new Map<string, AccountOwner>()
  const add = (account: AccountId, sign: 1 | -1, at: number, hours: TresHours) => {
    if (!account.startsWith('usage:')) return
    const owner = owners.get(account) ?? parseAccount(account)
    owners.set(account, owner)
    let usage = byProject.get(owner.project)
    if (!usage) {
      usage = { at: [], user: [], sign: [], hours: [] }
      byProject.set(owner.project, usage)
    }
    usage.at.push(at)
    usage.user.push(owner.user)
    usage.sign.push(sign)
    usage.hours.push(hours)
  }
  for (const entry of entries) {
    if (!entry.to.startsWith('usage:') && !entry.from.startsWith('usage:')) continue
    const at = instantOf(entry.at)
    if (Number.isNaN(at)) parseInstant(`ledger entry ${entry.key} at`, entry.at)
    add(entry.to, 1, at, entry.hours)
    add(entry.from, -1, at, entry.hours)
  }
  return { byProject }
}

/** Usage a rule counts in `window`, up to and including `asOf` (for grants that expired). */
export function ruleUsage(
  index: UsageIndex,
  rule: BudgetScope & { readonly project: string; readonly user: string | null },
  window: PeriodWindow,
  gpuWeights: Readonly<Record<string, number>>,
  asOf = Number.POSITIVE_INFINITY,
): number {
  const usage = index.byProject.get(rule.project)
  if (!usage) return 0
  let used = 0
  for (let k = 0; k < usage.at.length; k++) {
    const at = usage.at[k] as number
    if (at > asOf || !isInWindow(window, at) || (rule.user !== null && usage.user[k] !== rule.user)) continue
    used += (usage.sign[k] as number) * meterAmount(rule, usage.hours[k] as TresHours, gpuWeights)
  }
  return used
}

/**
 * Raw TRES-hours of a project in `window`, per user (null = charged to the project without a
 * user) and in total (`all`). One pass serves every rule of the project with that window: a rule's
 * figure is meterAmount of its owner's total, since metering is linear.
 */
export function windowUsage(
  index: UsageIndex,
  project: string,
  window: PeriodWindow,
): { readonly all: TresHours; readonly byUser: ReadonlyMap<string | null, TresHours> } {
  const byUser = new Map<string | null, Accumulator>()
  const all = newAccumulator()
  const usage = index.byProject.get(project)
  for (let k = 0; k < (usage?.at.length ?? 0); k++) {
    const u = usage as ProjectUsage
    if (!isInWindow(window, u.at[k] as number)) continue
    const user = u.user[k] as string | null
    let own = byUser.get(user)
    if (!own) {
      own = newAccumulator()
      byUser.set(user, own)
    }
    accumulate(own, u.sign[k] as number, u.hours[k] as TresHours)
    accumulate(all, u.sign[k] as number, u.hours[k] as TresHours)
  }
  return { all, byUser }
}

interface Accumulator {
  gpu: Record<string, number>
  cpu: number
  memoryGb: number
  billing: number
}

function newAccumulator(): Accumulator {
  return { gpu: {}, cpu: 0, memoryGb: 0, billing: 0 }
}

function accumulate(into: Accumulator, sign: number, hours: TresHours): void {
  for (const type in hours.gpu) into.gpu[type] = (into.gpu[type] ?? 0) + sign * (hours.gpu[type] as number)
  into.cpu += sign * hours.cpu
  into.memoryGb += sign * hours.memoryGb
  into.billing += sign * hours.billing
}

/**
 * What each project used of one scope in a window: the fair-share input of the priority score
 * (e.g. all-type gpu-hours weighted by each project's GPU weights over the current month).
 */
export function projectUsage(
  index: UsageIndex,
  window: PeriodWindow,
  scope: BudgetScope,
  gpuWeightsByProject: Readonly<Record<string, Readonly<Record<string, number>>>> = {},
): Map<string, number> {
  const usage = new Map<string, number>()
  for (const project of [...index.byProject.keys()].sort()) {
    const rule = { ...scope, project, user: null }
    usage.set(project, ruleUsage(index, rule, window, gpuWeightsByProject[project] ?? {}))
  }
  return usage
}
