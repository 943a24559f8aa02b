/**
 * Usage read back from the ledger: every movement into or out of a `usage:` account, indexed by
 * project, so each rule sums its own window in one pass over its project's records (in ledger
 * order: nothing here needs them sorted by time).
 * Charges add; an adjustment out of a usage account (a refund) subtracts.
 */
import {
  type AccountId,
  type AccountOwner,
  type BudgetLedger,
  type LedgerEntry,
  parseAccount,
} from './budget-ledger.js'
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

/** @param instants each entry's `at` in epoch ms, when the caller has read them already (judgeBudgets). */
export function indexUsage(entries: BudgetLedger, instants?: readonly number[]): UsageIndex {
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
  for (let e = 0; e < entries.length; e++) {
    const entry = entries[e] as LedgerEntry
    if (!entry.to.startsWith('usage:') && !entry.from.startsWith('usage:')) continue
    const at = instants ? (instants[e] as number) : instantOf(entry.at)
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
  const users = new Map<string | null, TresHours>()
  for (const [user, sums] of byUser) users.set(user, summed(sums))
  return { all: summed(all), byUser: users }
}

/**
 * Running sums of TRES-hours. GPU hours sit in a plain array of doubles beside their type names:
 * V8 stores such an array unboxed, where a record keyed by type would box every sum it writes
 * (a ledger of 20,000 entries would allocate 40,000 numbers per status computation).
 */
interface Accumulator {
  readonly types: string[]
  readonly gpu: number[]
  cpu: number
  memoryGb: number
  billing: number
}

function newAccumulator(): Accumulator {
  return { types: [], gpu: [], cpu: 0, memoryGb: 0, billing: 0 }
}

function accumulate(into: Accumulator, sign: number, hours: TresHours): void {
  const gpu = hours.gpu
  for (const type in gpu) {
    let k = into.types.indexOf(type)
    if (k < 0) {
      k = into.types.length
      into.types.push(type)
      into.gpu.push(0)
    }
    into.gpu[k] = (into.gpu[k] as number) + sign * (gpu[type] as number)
  }
  into.cpu += sign * hours.cpu
  into.memoryGb += sign * hours.memoryGb
  into.billing += sign * hours.billing
}

function summed(sums: Accumulator): TresHours {
  const gpu: Record<string, number> = {}
  for (let k = 0; k < sums.types.length; k++) gpu[sums.types[k] as string] = sums.gpu[k] as number
  return { gpu, cpu: sums.cpu, memoryGb: sums.memoryGb, billing: sums.billing }
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
