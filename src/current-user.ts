/** Who is using rpo: `$RPO_USER`, else the login name — recorded on runs (per-user budgets) and on budget changes. */
import os from 'node:os'

/** null when neither is known (a container user without a passwd entry). */
export function currentUser(): string | null {
  if (process.env.RPO_USER) return process.env.RPO_USER
  try {
    return os.userInfo().username
  } catch {
    return null
  }
}
