/**
 * What a budget value may be: the bounds and name rules every budget change is checked against
 * (`rpo budget set|grant|revoke` before anything is recorded) and every rule is judged by before
 * a budget decision uses it. One place, so what the CLI accepts is exactly what enforcement can read.
 * Pure: `now` is a parameter.
 */
import { MAX_NAME_LENGTH as MAX_PROJECT_NAME_LENGTH, NAME_PATTERN } from '../pipeline/schema-fields.js'
import type { BudgetResource } from './tres-hours.js'

export const BUDGET_RESOURCES: readonly BudgetResource[] = ['gpu-hours', 'cpu-hours', 'memory-gb-hours', 'billing']

/**
 * The largest amount (TRES-hours, or billing units) a budget, grant or revoke may name: a hundred
 * thousand GPUs for a year is 8.8e8. Anything above is a typo or a way to switch a cap off.
 */
export const MAX_BUDGET_AMOUNT = 1e9

/** Ten years: the longest rolling window, the furthest expiry and the latest period boundary. */
export const MAX_HORIZON_DAYS = 3660
const DAY_MS = 86_400_000
export const MAX_HORIZON_MS = MAX_HORIZON_DAYS * DAY_MS

/** User names, GPU types: letters, digits, '.', '_' and '-' (a login such as jane.doe), starting with a letter or digit. */
const LOOSE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
const MAX_NAME_LENGTH = 100

/** Why `value` is not a usable name of `what` (a project, a user, a GPU type), or null. */
export function nameProblem(what: 'project' | 'user' | 'gpu type', value: unknown): string | null {
  if (typeof value !== 'string' || value === '') return `the ${what} name is empty`
  const longest = what === 'project' ? MAX_PROJECT_NAME_LENGTH : MAX_NAME_LENGTH
  if (value.length > longest) return `the ${what} name is longer than ${longest} characters`
  // a project must be one a pipeline or the config can name, or its budget would count nothing
  const [pattern, letters] =
    what === 'project'
      ? [NAME_PATTERN, "letters, digits, '_' and '-'"]
      : [LOOSE_NAME, "letters, digits, '.', '_' and '-'"]
  if (!pattern.test(value))
    return `${JSON.stringify(value)} is not a ${what} name: use ${letters}, starting with a letter or digit`
  return null
}

/** Why `value` is not a budget amount, or null. `positive`: zero is refused too (grants, revokes). */
export function amountProblem(value: unknown, positive = false): string | null {
  if (typeof value !== 'number' || !Number.isFinite(value)) return `the amount ${String(value)} is not a finite number`
  if (value < 0 || (positive && value === 0)) {
    return `the amount ${value} must be ${positive ? 'greater than 0' : 'zero or more'}`
  }
  if (value > MAX_BUDGET_AMOUNT) return `the amount ${value} is more than the largest allowed, ${MAX_BUDGET_AMOUNT}`
  return null
}

export function isBudgetResource(value: unknown): value is BudgetResource {
  return typeof value === 'string' && (BUDGET_RESOURCES as readonly string[]).includes(value)
}

/** Why an instant (epoch ms) is not within ten years of `now` either way, or null. */
export function horizonProblem(what: string, at: number, now: number): string | null {
  if (!Number.isFinite(at)) return `${what} is not a date`
  if (at > now + MAX_HORIZON_MS) return `${what} is more than ${MAX_HORIZON_DAYS} days (10 years) ahead`
  if (at < now - MAX_HORIZON_MS) return `${what} is more than ${MAX_HORIZON_DAYS} days (10 years) ago`
  return null
}
