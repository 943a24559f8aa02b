/**
 * Changing budgets, one path for every way in (`rpo budget set|grant|revoke` and the HTTP API's
 * admin routes): the user must be allowed to change the project concerned (budget-permission.ts:
 * for a grant the lender, for a revoke the grant's lender), a change touching a budget that cannot
 * be judged is refused, grants and revokes are planned and written under the projects'
 * `budget:<project>` leases (so they serialize with admission, which decides under the same
 * leases), and each change is recorded with who approved it and when. Inputs arrive checked
 * (budget-change-input.ts).
 */
import { randomUUID } from 'node:crypto'
import type { ResolvedConfig } from '../config/load-config.js'
import { type GrantStatus, planGrant, planRevoke } from '../core/budget/budget-grants.js'
import type { BudgetProblem } from '../core/budget/budget-judgement.js'
import { type LedgerEntry, parseAccount } from '../core/budget/budget-ledger.js'
import type { BudgetResource } from '../core/budget/tres-hours.js'
import { BudgetError } from '../core/errors.js'
import { type BudgetChangeKind, budgetPermission } from '../core/policy/budget-permission.js'
import { budgetLease, Leases } from '../engine/leases.js'
import type { BudgetSetting } from '../store/budget-store.js'
import type { RunStore } from '../store/run-store.js'
import type { BudgetService } from './budget-service.js'

/** What a change needs of the app. */
export interface BudgetChangeDeps {
  readonly config: ResolvedConfig
  readonly store: RunStore
  readonly budgets: BudgetService
}

/** A budget to set: the setting as stored, without who set it and when (the change adds them). */
export type SetBudgetInput = Omit<BudgetSetting, 'actor' | 'at'>

export interface GrantInput {
  readonly lender: string
  readonly borrower: string
  readonly resource: BudgetResource
  readonly gpuType: string | null
  readonly amount: number
  /** ISO, checked to be in the future. */
  readonly expiresAt: string
  readonly note: string
}

export interface RevokeInput {
  readonly grantId: string
  /** Default: all that is unused. */
  readonly amount?: number
  readonly note: string
}

/** The change as recorded, and why its maker was allowed (`global admin`, ...). */
export type Approved<T> = T & { readonly approvedBy: string; readonly approvedAs: string }

const BUDGET_LEASE_MS = 60_000
const LEASE_WAIT_MS = 30_000

/** `user`: who makes the change (null: unknown), as the permission check and the record see it. */
export async function setBudget(
  deps: BudgetChangeDeps,
  input: SetBudgetInput,
  user: string | null,
  now: number,
): Promise<Approved<BudgetSetting>> {
  const approvedAs = permit(deps, user, input.project, 'change')
  const setting: BudgetSetting = { ...input, actor: user ?? 'unknown', at: new Date(now).toISOString() }
  await deps.store.budgets.addSetting(setting)
  return { ...setting, approvedBy: setting.actor, approvedAs }
}

export async function grantBudget(
  deps: BudgetChangeDeps,
  input: GrantInput,
  user: string | null,
  now: number,
): Promise<Approved<LedgerEntry>> {
  const approvedAs = permit(deps, user, input.lender, 'lend from')
  const entry = await underLeases(deps.store, [input.lender, input.borrower], async () => {
    const { statuses, problems } = await deps.budgets.statuses(now)
    refuseUnjudged(problems, [input.lender, input.borrower], 'lend')
    const planned = planGrant(
      {
        key: `grant-${new Date(now).toISOString().slice(0, 10)}-${randomUUID().slice(0, 6)}`,
        at: new Date(now).toISOString(),
        lender: input.lender,
        borrower: input.borrower,
        scope: { resource: input.resource, gpuType: input.gpuType },
        amount: input.amount,
        expiresAt: input.expiresAt,
        actor: user ?? 'unknown',
        ...(input.note ? { note: input.note } : {}),
      },
      statuses,
    )
    await deps.store.budgets.appendEntries([planned])
    return planned
  })
  return { ...entry, approvedBy: entry.actor, approvedAs }
}

export async function revokeGrant(
  deps: BudgetChangeDeps,
  input: RevokeInput,
  user: string | null,
  now: number,
): Promise<Approved<LedgerEntry>> {
  // a revoke is the lender's to make: found from the grant itself, before anything else is read
  const granted = (await deps.store.budgets.listEntries()).find((e) => e.kind === 'grant' && e.key === input.grantId)
  if (!granted) throw new BudgetError('grant-not-found', `no grant ${JSON.stringify(input.grantId)} in the ledger`)
  const lender = parseAccount(granted.from).project
  const borrower = parseAccount(granted.to).project
  const approvedAs = permit(deps, user, lender, 'take back a grant of')
  const entry = await underLeases(deps.store, [lender, borrower], async () => {
    const { statuses, problems } = await deps.budgets.statuses(now)
    refuseUnjudged(problems, [lender, borrower], 'revoke')
    const grants: GrantStatus[] = uniqueBy(
      statuses.flatMap((s) => s.grants),
      (g) => g.grantId,
    )
    const planned = planRevoke(
      {
        key: `revoke-${input.grantId}-${randomUUID().slice(0, 6)}`,
        at: new Date(now).toISOString(),
        grantId: input.grantId,
        ...(input.amount === undefined ? {} : { amount: input.amount }),
        actor: user ?? 'unknown',
        ...(input.note ? { note: input.note } : {}),
      },
      grants,
    )
    await deps.store.budgets.appendEntries([planned])
    return planned
  })
  return { ...entry, approvedBy: entry.actor, approvedAs }
}

/** How the user may change the project's budget, or a refusal naming its admins. */
function permit(deps: BudgetChangeDeps, user: string | null, project: string, change: BudgetChangeKind): string {
  const permission = budgetPermission(
    { global: deps.config.admins, projects: deps.config.projects },
    user,
    project,
    change,
  )
  if (permission.kind === 'refused') throw new BudgetError('budget-not-permitted', permission.reason)
  return permission.as
}

/** Plan and write while holding the projects' budget leases (in name order: two changes never deadlock). */
async function underLeases<T>(store: RunStore, projects: readonly string[], fn: () => Promise<T>): Promise<T> {
  const leases = new Leases(store)
  try {
    for (const project of [...new Set(projects)].sort()) {
      await leases.wait(budgetLease(project), BUDGET_LEASE_MS, {
        timeoutMs: LEASE_WAIT_MS,
        busy: (by) => `the budget of project ${project} is being decided by ${by}; try again shortly`,
      })
    }
    return await fn()
  } finally {
    await leases.releaseAll()
  }
}

/** A change that touches a project whose budget cannot be judged is refused until the setting is fixed. */
function refuseUnjudged(problems: readonly BudgetProblem[], projects: readonly string[], what: string): void {
  const problem = problems.find((p) => p.kind === 'budget' && projects.includes(p.project))
  if (problem) {
    throw new BudgetError(
      'grant-invalid',
      `cannot ${what} now: ${problem.message}; fix that setting first (rpo budget set)`,
    )
  }
}

export function uniqueBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Map<string, T>()
  for (const item of items) if (!seen.has(key(item))) seen.set(key(item), item)
  return [...seen.values()]
}
