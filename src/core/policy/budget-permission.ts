/**
 * Who may change a project's budget (`rpo budget set`, lend from it with `grant`, take a grant of
 * it back with `revoke`): a global admin, or an admin of that project. With no admins configured
 * anywhere — a fresh, single-user setup — anyone may, and every change says so; once any admin is
 * configured, whoever is not one is refused, also for projects that list none. Pure.
 */

export interface BudgetAdmins {
  /** The config's top-level `admins`; null when absent. */
  readonly global: readonly string[] | null
  /** Each project's `admins`; absent when it lists none. */
  readonly projects: Readonly<Record<string, { readonly admins?: readonly string[] | undefined }>>
}

export type BudgetPermission =
  | {
      readonly kind: 'allowed'
      /** Why: `global admin`, `admin of project vision`, `no admins are configured`. */
      readonly as: string
    }
  | { readonly kind: 'refused'; readonly reason: string }

export type BudgetChangeKind = 'change' | 'lend from' | 'take back a grant of'

export function budgetPermission(
  admins: BudgetAdmins,
  user: string | null,
  project: string,
  change: BudgetChangeKind = 'change',
): BudgetPermission {
  if (!adminsConfigured(admins)) return { kind: 'allowed', as: 'no admins are configured, so anyone may' }
  const own = admins.projects[project]?.admins ?? []
  const global = admins.global ?? []
  if (user !== null && global.includes(user)) return { kind: 'allowed', as: 'global admin' }
  if (user !== null && own.includes(user)) return { kind: 'allowed', as: `admin of project ${project}` }
  const who = user === null ? 'an unknown user (set $RPO_USER)' : `user ${user}`
  const how = change === 'change' ? '' : change === 'lend from' ? ' (lend from it)' : ' (take back what it lent)'
  return {
    kind: 'refused',
    reason: `${who} may not change project ${project}'s budget${how}; its admins are: ${list(own)}, global admins: ${list(global)} (the config's projects.${project}.admins and admins)`,
  }
}

/** Whether the config names any admin list at all (an empty list counts: it restricts to nobody). */
export function adminsConfigured(admins: BudgetAdmins): boolean {
  return admins.global !== null || Object.values(admins.projects).some((p) => p.admins !== undefined)
}

function list(users: readonly string[]): string {
  return users.length === 0 ? 'none' : users.join(', ')
}
