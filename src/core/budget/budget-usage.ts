/**
 * Usage read back from the ledger: every movement into or out of a `usage:` account, indexed by
 * project, so each rule sums its own window in one pass over its project's records (in ledger
 * order: nothing here needs them sorted by time).
 * Charges add; an adjustment out of a usage account (a refund) subtracts.
 * The index is built on every budget decision over the whole ledger, so it is a handful of typed
 * arrays (a project's movements are one range of them) rather than an object or four growing
 * arrays per project: what it holds stays out of the garbage collector's way.
 */
import {
  type AccountId,
  type AccountOwner,
  type BudgetLedger,
  type LedgerEntry,
  parseAccount,
} from './budget-ledger.js'
import { instantOf, type PeriodWindow, parseInstant } from './budget-period.js'
import { type BudgetScope, meterAmount, type TresHours } from './tres-hours.js'

/** Where one project's movements lie in the index's arrays: positions start (included) to end. */
interface ProjectRange {
  readonly start: number
  readonly end: number
}

export interface UsageIndex {
  readonly byProject: ReadonlyMap<string, ProjectRange>
  /** Per movement: when (epoch ms), +1 into a usage account (a charge) or −1 out of one (a refund). */
  readonly at: Float64Array
  readonly sign: Int8Array
  /** Per movement: the position of its owner in `owners`, and of its entry in `entries`. */
  readonly owner: Int32Array
  readonly entry: Int32Array
  readonly owners: readonly AccountOwner[]
  readonly entries: BudgetLedger
}

/** @param instants each entry's `at` in epoch ms, when the caller has read them already (judgeBudgets). */
export function indexUsage(entries: BudgetLedger, instants?: ArrayLike<number>): UsageIndex {
  // a ledger names few accounts many times: parse each once
  const owners: AccountOwner[] = []
  const ownerOf = new Map<AccountId, number>()
  const ownerIndex = (account: AccountId): number => {
    let k = ownerOf.get(account)
    if (k === undefined) {
      k = owners.length
      owners.push(parseAccount(account))
      ownerOf.set(account, k)
    }
    return k
  }
  // first pass: how many movements each project has (projects in order of first movement)
  const counts = new Map<string, number>()
  let moves = 0
  const count = (account: AccountId) => {
    if (!account.startsWith('usage:')) return
    const project = (owners[ownerIndex(account)] as AccountOwner).project
    counts.set(project, (counts.get(project) ?? 0) + 1)
    moves++
  }
  for (let e = 0; e < entries.length; e++) {
    const entry = entries[e] as LedgerEntry
    count(entry.to)
    count(entry.from)
  }
  const byProject = new Map<string, ProjectRange>()
  const next = new Map<string, number>()
  let offset = 0
  for (const [project, n] of counts) {
    byProject.set(project, { start: offset, end: offset + n })
    next.set(project, offset)
    offset += n
  }
  // second pass: each movement into its project's range, in ledger order
  const index: UsageIndex = {
    byProject,
    at: new Float64Array(moves),
    sign: new Int8Array(moves),
    owner: new Int32Array(moves),
    entry: new Int32Array(moves),
    owners,
    entries,
  }
  const place = (account: AccountId, sign: 1 | -1, at: number, e: number) => {
    if (!account.startsWith('usage:')) return
    const k = ownerOf.get(account) as number
    const project = (owners[k] as AccountOwner).project
    const position = next.get(project) as number
    next.set(project, position + 1)
    index.at[position] = at
    index.sign[position] = sign
    index.owner[position] = k
    index.entry[position] = e
  }
  for (let e = 0; e < entries.length; e++) {
    const entry = entries[e] as LedgerEntry
    if (!entry.to.startsWith('usage:') && !entry.from.startsWith('usage:')) continue
    const at = instants ? (instants[e] as number) : instantOf(entry.at)
    if (Number.isNaN(at)) parseInstant(`ledger entry ${entry.key} at`, entry.at)
    place(entry.to, 1, at, e)
    place(entry.from, -1, at, e)
  }
  return index
}

/** The user a movement was charged to (null: to the project without a user). */
function userAt(index: UsageIndex, k: number): string | null {
  return (index.owners[index.owner[k] as number] as AccountOwner).user
}

/** The TRES-hours a movement moved. */
function hoursAt(index: UsageIndex, k: number): TresHours {
  return (index.entries[index.entry[k] as number] as LedgerEntry).hours
}

/** Usage a rule counts in `window`, up to and including `asOf` (for grants that expired). */
export function ruleUsage(
  index: UsageIndex,
  rule: BudgetScope & { readonly project: string; readonly user: string | null },
  window: PeriodWindow,
  gpuWeights: Readonly<Record<string, number>>,
  asOf = Number.POSITIVE_INFINITY,
): number {
  const range = index.byProject.get(rule.project)
  if (!range) return 0
  let used = 0
  const { from, until, includesUntil } = window
  for (let k = range.start; k < range.end; k++) {
    const at = index.at[k] as number
    // isInWindow, written out: a double handed to a call that is not inlined is boxed, per movement
    const inWindow = at >= from && (at < until || (includesUntil && at === until))
    if (at > asOf || !inWindow || (rule.user !== null && userAt(index, k) !== rule.user)) continue
    used += (index.sign[k] as number) * meterAmount(rule, hoursAt(index, k), gpuWeights)
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
  const range = index.byProject.get(project) ?? { start: 0, end: 0 }
  const { from, until, includesUntil } = window
  for (let k = range.start; k < range.end; k++) {
    const at = index.at[k] as number
    // isInWindow, written out: a double handed to a call that is not inlined is boxed, per movement
    if (!(at >= from && (at < until || (includesUntil && at === until)))) continue
    const user = userAt(index, k)
    let own = byUser.get(user)
    if (!own) {
      own = newAccumulator()
      byUser.set(user, own)
    }
    const sign = index.sign[k] as number
    const hours = hoursAt(index, k)
    accumulate(own, sign, hours)
    accumulate(all, sign, hours)
  }
  const users = new Map<string | null, TresHours>()
  for (const [user, sums] of byUser) users.set(user, summed(sums))
  return { all: summed(all), byUser: users }
}

/**
 * Running sums of TRES-hours. Every sum sits in unboxed storage: GPU hours in a plain array of
 * doubles beside their type names, the other meters in a Float64Array. A record keyed by type, or
 * an object's number fields, would box sums as they are written (a ledger of 20,000 entries would
 * allocate tens of thousands of numbers per status computation).
 */
interface Accumulator {
  readonly types: string[]
  readonly gpu: number[]
  /** cpu, memoryGb, billing. */
  readonly meters: Float64Array
}

function newAccumulator(): Accumulator {
  return { types: [], gpu: [], meters: new Float64Array(3) }
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
  const meters = into.meters
  meters[0] = (meters[0] as number) + sign * hours.cpu
  meters[1] = (meters[1] as number) + sign * hours.memoryGb
  meters[2] = (meters[2] as number) + sign * hours.billing
}

function summed(sums: Accumulator): TresHours {
  const gpu: Record<string, number> = {}
  for (let k = 0; k < sums.types.length; k++) gpu[sums.types[k] as string] = sums.gpu[k] as number
  const [cpu, memoryGb, billing] = sums.meters as unknown as [number, number, number]
  return { gpu, cpu, memoryGb, billing }
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
