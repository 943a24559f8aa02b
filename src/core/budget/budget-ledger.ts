/**
 * The budget ledger: double-entry, append-only, one entry per movement of TRES-hours from one
 * account to another. Owns the account names, usage charging (`planCharges`, idempotent per job
 * run), balances, and the invariant check (every meter sums to zero: each GPU-hour is accounted
 * exactly once). Grants and revokes are planned in budget-grants.ts; budget amounts live in the
 * config, not here, so a changed budget never rewrites history.
 */
import {
  addTresHours,
  type BudgetScope,
  excessTresHours,
  isZeroTresHours,
  subtractTresHours,
  type TresHours,
  zeroTresHours,
} from './tres-hours.js'

/** `allocation:<project>[/<user>]` (what may be spent) or `usage:<project>[/<user>]` (what was spent). */
export type AccountId = `allocation:${string}` | `usage:${string}`

export type LedgerEntryKind = 'charge' | 'grant' | 'revoke' | 'adjust'

export interface LedgerEntry {
  /** Unique idempotency key: writing the same entry twice is refused by the store, never summed. */
  readonly key: string
  /** ISO timestamp the movement belongs to (the observation, or the approval). */
  readonly at: string
  readonly kind: LedgerEntryKind
  readonly from: AccountId
  readonly to: AccountId
  /** Non-negative on every meter: the direction says which way it moves. */
  readonly hours: TresHours
  /** Grants and revokes: the budget scope they move. */
  readonly ruleScope?: BudgetScope
  /** Grants: their own key; revokes: the grant they return. */
  readonly grantId?: string
  /** Grants: when the unused part returns to the lender. */
  readonly expiresAt?: string
  /** Charges: the job run they charge (`<submissionKey>#<restart>`). */
  readonly usageKey?: string
  /** Who approved it: a user for grants, revokes and adjustments, `rpo` for charges. */
  readonly actor: string
  readonly note: string
}

/** Everything the ledger holds, oldest first. */
export type BudgetLedger = readonly LedgerEntry[]

export interface AccountOwner {
  readonly kind: 'allocation' | 'usage'
  readonly project: string
  readonly user: string | null
}

export function allocationAccount(project: string, user: string | null = null): AccountId {
  return `allocation:${user === null ? project : `${project}/${user}`}`
}

export function usageAccount(project: string, user: string | null = null): AccountId {
  return `usage:${user === null ? project : `${project}/${user}`}`
}

export function parseAccount(account: AccountId): AccountOwner {
  const colon = account.indexOf(':')
  const kind = account.slice(0, colon) as AccountOwner['kind']
  const owner = account.slice(colon + 1)
  const slash = owner.indexOf('/')
  return slash < 0
    ? { kind, project: owner, user: null }
    : { kind, project: owner.slice(0, slash), user: owner.slice(slash + 1) }
}

/** One poll's word on one job run: everything it used so far (cumulative, not a delta). */
export interface UsageObservation {
  /** One per scheduler job run, e.g. `<submissionKey>#<restart>`: a requeued run gets a new one. */
  readonly usageKey: string
  readonly project: string
  readonly user: string | null
  readonly at: string
  /** Cumulative, e.g. `tresHoursOf(allocTres, elapsedSeconds)`. */
  readonly hours: TresHours
}

/** What one job run was charged so far, and in how many entries. */
export interface ChargedUsage {
  readonly hours: TresHours
  readonly charges: number
}

export function chargedByUsageKey(entries: BudgetLedger): Map<string, ChargedUsage> {
  const charged = new Map<string, ChargedUsage>()
  for (const entry of entries) {
    if (entry.kind !== 'charge' || entry.usageKey === undefined) continue
    const before = charged.get(entry.usageKey)
    charged.set(entry.usageKey, {
      hours: before ? addTresHours(before.hours, entry.hours) : entry.hours,
      charges: (before?.charges ?? 0) + 1,
    })
  }
  return charged
}

/**
 * New charge entries (allocation → usage) for what each job run used beyond what it was already
 * charged. Per meter the delta is never negative, so polling a finished job twice, or a scheduler
 * that reports a smaller figure later, charges nothing. Keys are `charge:<usageKey>#<n>`: two
 * planners racing on the same state produce the same key, and the store keeps one.
 */
export function planCharges(
  observations: readonly UsageObservation[],
  alreadyCharged: ReadonlyMap<string, ChargedUsage>,
): LedgerEntry[] {
  const charged = new Map(alreadyCharged)
  const ordered = [...observations].sort(
    (a, b) => compareText(a.usageKey, b.usageKey) || compareText(a.at, b.at) || a.hours.cpu - b.hours.cpu,
  )
  const entries: LedgerEntry[] = []
  for (const observation of ordered) {
    const before = charged.get(observation.usageKey) ?? { hours: zeroTresHours(), charges: 0 }
    const delta = excessTresHours(observation.hours, before.hours)
    if (isZeroTresHours(delta)) continue
    const n = before.charges + 1
    entries.push({
      key: `charge:${observation.usageKey}#${n}`,
      at: observation.at,
      kind: 'charge',
      from: allocationAccount(observation.project, observation.user),
      to: usageAccount(observation.project, observation.user),
      hours: delta,
      usageKey: observation.usageKey,
      actor: 'rpo',
      note: `usage of ${observation.usageKey} up to ${observation.at}`,
    })
    charged.set(observation.usageKey, { hours: addTresHours(before.hours, delta), charges: n })
  }
  return entries
}

/** Balance of every account that appears: Σ in − Σ out, per meter. */
export function ledgerBalances(entries: BudgetLedger): Map<AccountId, TresHours> {
  const balances = new Map<AccountId, TresHours>()
  for (const entry of entries) {
    balances.set(entry.from, subtractTresHours(balances.get(entry.from) ?? zeroTresHours(), entry.hours))
    balances.set(entry.to, addTresHours(balances.get(entry.to) ?? zeroTresHours(), entry.hours))
  }
  return balances
}

/** Σ of every balance, per meter: zero (up to rounding) for a sound ledger. */
export function ledgerTotal(entries: BudgetLedger): TresHours {
  let total = zeroTresHours()
  for (const balance of ledgerBalances(entries).values()) total = addTresHours(total, balance)
  return total
}

export interface LedgerProblem {
  readonly key: string | null
  readonly problem: string
}

/**
 * Every way the ledger breaks its invariants: duplicate keys, negative or non-finite amounts,
 * entries between the wrong kinds of accounts, revokes of unknown grants or of more than was
 * granted, and meters that do not sum to zero. Empty for a sound ledger.
 */
export function checkLedger(entries: BudgetLedger): LedgerProblem[] {
  const problems: LedgerProblem[] = []
  const keys = new Set<string>()
  const grants = new Map<string, { entry: LedgerEntry; revoked: TresHours }>()
  let magnitude = 0
  for (const entry of entries) {
    const say = (problem: string) => problems.push({ key: entry.key, problem })
    if (keys.has(entry.key)) say('duplicate key')
    keys.add(entry.key)
    const meters = [entry.hours.cpu, entry.hours.memoryGb, entry.hours.billing, ...Object.values(entry.hours.gpu)]
    if (meters.some((h) => !Number.isFinite(h) || h < 0)) say('hours must be finite and non-negative on every meter')
    for (const h of meters) magnitude += Math.abs(h)
    if (entry.from === entry.to) say('moves hours from an account to itself')
    const from = parseAccount(entry.from)
    const to = parseAccount(entry.to)
    if (entry.kind === 'charge') {
      if (from.kind !== 'allocation' || to.kind !== 'usage' || from.project !== to.project || from.user !== to.user) {
        say('a charge must move from allocation:<owner> to usage:<owner>')
      }
      if (entry.usageKey === undefined) say('a charge must name its usageKey')
    } else if (entry.kind === 'grant') {
      if (from.kind !== 'allocation' || to.kind !== 'allocation' || from.project === to.project) {
        say('a grant must move between the allocations of two projects')
      }
      if (entry.grantId !== entry.key || !entry.ruleScope || entry.expiresAt === undefined) {
        say('a grant needs grantId = key, a ruleScope and an expiresAt')
      }
      grants.set(entry.key, { entry, revoked: zeroTresHours() })
    } else if (entry.kind === 'revoke') {
      const grant = entry.grantId === undefined ? undefined : grants.get(entry.grantId)
      if (!grant) say(`revokes unknown grant ${JSON.stringify(entry.grantId)}`)
      else {
        if (entry.from !== grant.entry.to || entry.to !== grant.entry.from) say('a revoke must reverse its grant')
        grant.revoked = addTresHours(grant.revoked, entry.hours)
        const overdrawn = subtractTresHours(grant.revoked, grant.entry.hours)
        const worst = Math.max(overdrawn.cpu, overdrawn.memoryGb, overdrawn.billing, ...Object.values(overdrawn.gpu))
        if (worst > 1e-9) say(`returns more than grant ${grant.entry.key} moved`)
      }
    }
  }
  const total = ledgerTotal(entries)
  if (!isZeroTresHours(total, 1e-9 * Math.max(1, magnitude))) {
    problems.push({ key: null, problem: `meters do not sum to zero: ${JSON.stringify(total)}` })
  }
  return problems
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
