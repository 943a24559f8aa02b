/**
 * Lending budget between projects: planning a grant (lender allocation → borrower allocation,
 * scoped to one resource/GPU type, with an expiry and an approver), revoking its unused part, and
 * returning the unused part at expiry. Owns grant attribution: the borrower's usage above its own
 * amount is attributed to its grants in grant order (oldest first), so "unused" is well defined.
 * A grant raises the budget of the period window it was made in (a November grant does not carry
 * into December's monthly budget); it counts on project-level rules of exactly its scope.
 */
import { BudgetError } from '../errors.js'
import { allocationAccount, type BudgetLedger, compareText, type LedgerEntry, parseAccount } from './budget-ledger.js'
import { isInWindow, type PeriodWindow, parseInstant, periodWindow } from './budget-period.js'
import { type BudgetRule, formatAmount, sameScope } from './budget-rules.js'
import { ruleUsage, type UsageIndex } from './budget-usage.js'
import { type BudgetScope, describeScope, meterAmount, tresHoursForScope } from './tres-hours.js'

export interface GrantStatus {
  readonly grantId: string
  readonly lender: string
  readonly borrower: string
  readonly scope: BudgetScope
  readonly at: string
  readonly expiresAt: string
  /** Who approved it. */
  readonly actor: string
  readonly granted: number
  /** Returned so far by revokes (including the automatic one at expiry). */
  readonly revoked: number
  /** granted − revoked. */
  readonly net: number
  /** Borrower usage attributed to this grant (as of expiry once expired). */
  readonly used: number
  /** What may still be revoked: net − used while live, 0 once expired. */
  readonly unused: number
  /** Expired and not yet written back as a revoke: what returns to the lender. */
  readonly returnedAtExpiry: number
  readonly expired: boolean
  /** What the grant moves in the current windows: net while live, only the used part once expired. */
  readonly contribution: number
}

export interface GrantContext {
  readonly rules: readonly BudgetRule[]
  readonly usage: UsageIndex
  readonly windows: ReadonlyMap<string, PeriodWindow>
  readonly gpuWeights: Readonly<Record<string, Readonly<Record<string, number>>>>
  readonly now: number
}

interface GrantRecord {
  readonly entry: LedgerEntry
  readonly scope: BudgetScope
  readonly lender: string
  readonly borrower: string
  readonly at: number
  readonly expiresAt: number
  revoked: number
}

/** Every grant of the ledger with what was used and what is left of it at `now`, oldest first. */
export function computeGrantStatuses(entries: BudgetLedger, context: GrantContext): GrantStatus[] {
  const grants = indexGrants(entries)
  const attributed = new Map<string, number>()
  for (const rule of context.rules) {
    if (rule.user !== null) continue
    const window = context.windows.get(rule.id) ?? periodWindow(rule.period, context.now)
    const incoming = grants.filter(
      (g) =>
        g.borrower === rule.project &&
        sameScope(g.scope, rule) &&
        isInWindow(window, g.at) &&
        !attributed.has(g.entry.key),
    )
    if (incoming.length === 0) continue
    const lentNominal = grants
      .filter((g) => g.lender === rule.project && sameScope(g.scope, rule) && isInWindow(window, g.at))
      .reduce((sum, g) => sum + net(g), 0)
    const own = rule.amount - lentNominal
    const weights = context.gpuWeights[rule.project] ?? {}
    let covered = 0
    for (const grant of incoming) {
      const expired = grant.expiresAt <= context.now
      const used = ruleUsage(context.usage, rule, window, weights, Math.min(context.now, grant.expiresAt))
      const share = clamp(used - own - covered, 0, net(grant))
      attributed.set(grant.entry.key, share)
      covered += expired ? share : net(grant)
    }
  }
  return grants.map((grant) => {
    const used = attributed.get(grant.entry.key) ?? 0
    const expired = grant.expiresAt <= context.now
    const left = Math.max(0, net(grant) - used)
    return {
      grantId: grant.entry.key,
      lender: grant.lender,
      borrower: grant.borrower,
      scope: grant.scope,
      at: grant.entry.at,
      expiresAt: grant.entry.expiresAt as string,
      actor: grant.entry.actor,
      granted: meterAmount(grant.scope, grant.entry.hours),
      revoked: grant.revoked,
      net: net(grant),
      used,
      unused: expired ? 0 : left,
      returnedAtExpiry: expired ? left : 0,
      expired,
      contribution: expired ? used : net(grant),
    }
  })
}

export interface GrantRequest {
  /** Idempotency key; becomes the grant id. */
  readonly key: string
  readonly at: string
  readonly lender: string
  readonly borrower: string
  readonly scope: BudgetScope
  readonly amount: number
  readonly expiresAt: string
  /** The lender's approver. */
  readonly actor: string
  readonly note?: string
}

/** What planGrant needs of the lender's and borrower's rules: their status at `request.at`. */
export interface GrantRuleView {
  readonly ruleId: string
  readonly project: string
  readonly user: string | null
  readonly resource: BudgetScope['resource']
  readonly gpuType: string | null
  readonly window: PeriodWindow
  readonly effective: number
  readonly used: number
  readonly committed: number
  readonly remaining: number
}

/** The grant entry, or a typed error: self-lending, a bad amount or expiry, no such budget, not enough left. */
export function planGrant(request: GrantRequest, statuses: readonly GrantRuleView[]): LedgerEntry {
  const invalid = (why: string) => new BudgetError('grant-invalid', `grant ${request.key}: ${why}`)
  if (request.lender === request.borrower) throw invalid(`project ${request.lender} cannot lend to itself`)
  if (!Number.isFinite(request.amount) || request.amount <= 0) {
    throw invalid(`amount must be a positive number, got ${request.amount}`)
  }
  if (request.scope.gpuType !== null && request.scope.resource !== 'gpu-hours') {
    throw invalid(`gpuType ${request.scope.gpuType} applies only to gpu-hours, not ${request.scope.resource}`)
  }
  const at = parseInstant(`grant ${request.key} at`, request.at, 'grant-invalid')
  const expiresAt = parseInstant(`grant ${request.key} expiresAt`, request.expiresAt, 'grant-invalid')
  if (expiresAt <= at) throw invalid(`expiresAt ${request.expiresAt} must come after ${request.at}`)
  const scopeName = describeScope(request.scope)
  const matching = (project: string) =>
    statuses.filter(
      (s) => s.project === project && s.user === null && sameScope(s, request.scope) && isInWindow(s.window, at),
    )
  const lenderRules = matching(request.lender)
  if (lenderRules.length === 0) throw invalid(`project ${request.lender} has no ${scopeName} budget to lend from`)
  if (matching(request.borrower).length === 0) {
    throw invalid(`project ${request.borrower} has no ${scopeName} budget for the grant to raise`)
  }
  for (const s of lenderRules) {
    if (s.remaining + 1e-9 < request.amount) {
      throw new BudgetError(
        'lend-exceeds-remaining',
        `project ${request.lender} cannot lend ${formatAmount(request.amount)} ${scopeName}: only ${formatAmount(Math.max(0, s.remaining))} ` +
          `left (effective ${formatAmount(s.effective)} - used ${formatAmount(s.used)} - committed ${formatAmount(s.committed)}, ${s.window.label})`,
      )
    }
  }
  return {
    key: request.key,
    at: request.at,
    kind: 'grant',
    from: allocationAccount(request.lender),
    to: allocationAccount(request.borrower),
    hours: tresHoursForScope(request.scope, request.amount),
    ruleScope: { resource: request.scope.resource, gpuType: request.scope.gpuType },
    grantId: request.key,
    expiresAt: request.expiresAt,
    actor: request.actor,
    note:
      request.note ??
      `${request.lender} lends ${formatAmount(request.amount)} ${scopeName} to ${request.borrower} until ${request.expiresAt}`,
  }
}

export interface RevokeRequest {
  readonly key: string
  readonly at: string
  readonly grantId: string
  /** Default: all that is unused. */
  readonly amount?: number
  readonly actor: string
  readonly note?: string
}

/** The revoke entry returning (part of) a grant's unused amount to the lender, or a typed error. */
export function planRevoke(request: RevokeRequest, grants: readonly GrantStatus[]): LedgerEntry {
  const grant = grants.find((g) => g.grantId === request.grantId)
  if (!grant) throw new BudgetError('grant-not-found', `no grant ${JSON.stringify(request.grantId)} in the ledger`)
  const at = parseInstant(`revoke ${request.key} at`, request.at, 'grant-invalid')
  if (grant.expired || parseInstant('grant expiresAt', grant.expiresAt) <= at) {
    throw new BudgetError(
      'grant-expired',
      `grant ${grant.grantId} expired at ${grant.expiresAt}: its unused part returns to ${grant.lender} by itself`,
    )
  }
  const amount = request.amount ?? grant.unused
  if (!Number.isFinite(amount) || amount < 0 || (request.amount !== undefined && amount === 0)) {
    throw new BudgetError('grant-invalid', `revoke ${request.key}: amount must be a positive number, got ${amount}`)
  }
  if (amount > grant.unused + 1e-9 || amount === 0) {
    throw new BudgetError(
      'revoke-exceeds-unused',
      `cannot revoke ${formatAmount(amount)} ${describeScope(grant.scope)} of grant ${grant.grantId}: ${grant.borrower} ` +
        `used ${formatAmount(grant.used)} of its ${formatAmount(grant.net)}, so only ${formatAmount(grant.unused)} is unused`,
    )
  }
  return revokeEntry(grant, request.key, request.at, amount, request.actor, request.note)
}

/** Revokes, written by rpo, that return the unused part of every grant expired by `now` (once each). */
export function planGrantExpiries(grants: readonly GrantStatus[]): LedgerEntry[] {
  return grants
    .filter((g) => g.expired && g.returnedAtExpiry > 1e-9)
    .map((g) =>
      revokeEntry(
        g,
        `expire:${g.grantId}`,
        g.expiresAt,
        g.returnedAtExpiry,
        'rpo',
        `grant ${g.grantId} expired: ${formatAmount(g.returnedAtExpiry)} unused ${describeScope(g.scope)} return to ${g.lender}`,
      ),
    )
}

function revokeEntry(
  grant: GrantStatus,
  key: string,
  at: string,
  amount: number,
  actor: string,
  note: string | undefined,
): LedgerEntry {
  return {
    key,
    at,
    kind: 'revoke',
    from: allocationAccount(grant.borrower),
    to: allocationAccount(grant.lender),
    hours: tresHoursForScope(grant.scope, amount),
    ruleScope: grant.scope,
    grantId: grant.grantId,
    actor,
    note:
      note ??
      `${grant.lender} takes back ${formatAmount(amount)} unused ${describeScope(grant.scope)} from ${grant.borrower}`,
  }
}

function indexGrants(entries: BudgetLedger): GrantRecord[] {
  const grants = new Map<string, GrantRecord>()
  for (const entry of entries) {
    if (entry.kind === 'grant' && entry.ruleScope && entry.expiresAt !== undefined) {
      grants.set(entry.key, {
        entry,
        scope: entry.ruleScope,
        lender: parseAccount(entry.from).project,
        borrower: parseAccount(entry.to).project,
        at: parseInstant(`grant ${entry.key} at`, entry.at),
        expiresAt: parseInstant(`grant ${entry.key} expiresAt`, entry.expiresAt),
        revoked: 0,
      })
    } else if (entry.kind === 'revoke' && entry.grantId !== undefined) {
      const grant = grants.get(entry.grantId)
      if (grant) grant.revoked += meterAmount(grant.scope, entry.hours)
    }
  }
  return [...grants.values()].sort((a, b) => a.at - b.at || compareText(a.entry.key, b.entry.key))
}

function net(grant: GrantRecord): number {
  return Math.max(0, meterAmount(grant.scope, grant.entry.hours) - grant.revoked)
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value))
}
