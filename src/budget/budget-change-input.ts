/**
 * The arguments of `rpo budget set|grant|revoke|report` as typed, checked before anything is read
 * or recorded: names (the project rule of pipelines; users and GPU types may also hold '.'),
 * amounts (finite, not negative, not absurd), periods and dates (real calendar dates, within ten
 * years), expiries (in the future, at most ten years ahead), notes. Each refusal is a usage error
 * (exit 2) that names the option, the value and why.
 */
import {
  amountProblem,
  BUDGET_RESOURCES,
  horizonProblem,
  isBudgetResource,
  MAX_HORIZON_DAYS,
  MAX_HORIZON_MS,
  nameProblem,
} from '../core/budget/budget-limits.js'
import { type BudgetPeriod, periodWindow, strictInstant } from '../core/budget/budget-period.js'
import type { BudgetResource } from '../core/budget/tres-hours.js'
import { RpoError } from '../core/errors.js'
import { parseDurationSeconds } from '../core/pipeline/units.js'

const MAX_NOTE_LENGTH = 1000
/** A plain decimal: no hex, no blanks, no `Infinity`, which Number() would all take. */
const DECIMAL = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/

function refuse(option: string, text: string, why: string): RpoError {
  return new RpoError('usage', `${option} ${JSON.stringify(text)}: ${why}`)
}

export function parseName(option: string, what: 'project' | 'user' | 'gpu type', text: string): string {
  const why = nameProblem(what, text)
  if (why) throw refuse(option, text, why)
  return text
}

export function parseResource(option: string, text: string): BudgetResource {
  if (!isBudgetResource(text)) throw refuse(option, text, `expected one of ${BUDGET_RESOURCES.join(', ')}`)
  return text
}

/** Hours (or billing units): `positive` refuses 0 too (grants and revokes move something). */
export function parseAmount(option: string, text: string, positive: boolean): number {
  const value = DECIMAL.test(text) ? Number(text) : Number.NaN
  if (Number.isNaN(value)) {
    throw refuse(option, text, `expected a ${positive ? 'positive' : 'non-negative'} number of hours, such as 12.5`)
  }
  const why = amountProblem(value, positive)
  if (why) throw refuse(option, text, why)
  return value
}

/** `month`, `rolling:<N>d` (1 to 3660 days) or `<from>..<until>` (ISO dates within ten years of now). */
export function parsePeriod(option: string, text: string, now: number): BudgetPeriod {
  if (text === 'month') return 'month'
  const rolling = /^rolling:(\d+)d$/.exec(text)
  if (rolling) {
    const days = Number(rolling[1])
    if (days < 1 || days > MAX_HORIZON_DAYS) {
      throw refuse(option, text, `a rolling window is 1 to ${MAX_HORIZON_DAYS} days long`)
    }
    return { rollingDays: days }
  }
  const fixed = /^(.+)\.\.(.+)$/.exec(text)
  if (!fixed)
    throw refuse(option, text, 'expected month, rolling:<N>d or <from>..<until> (e.g. 2026-01-01..2026-03-31)')
  const period = { from: fixed[1] as string, until: fixed[2] as string }
  try {
    periodWindow(period, now)
  } catch (error) {
    throw refuse(option, text, error instanceof Error ? error.message : String(error))
  }
  for (const [field, value] of [
    ['from', period.from],
    ['until', period.until],
  ] as const) {
    const why = horizonProblem(`its ${field} ${value}`, strictInstant(value), now)
    if (why) throw refuse(option, text, why)
  }
  return period
}

/** `7d`, `36h` or an ISO date/time (UTC without an offset): in the future, at most ten years ahead. */
export function parseExpiry(option: string, text: string, now: number): string {
  const seconds = /^\d/.test(text) && !/^\d{4}-/.test(text) ? parseDurationSeconds(text) : null
  const at = seconds !== null ? now + seconds * 1000 : strictInstant(text)
  if (Number.isNaN(at)) {
    throw refuse(option, text, 'expected an ISO date/time such as 2026-12-31T18:00Z, or a duration such as 7d')
  }
  if (at <= now) throw refuse(option, text, 'the expiry must be in the future')
  if (at > now + MAX_HORIZON_MS)
    throw refuse(option, text, `the expiry is more than ${MAX_HORIZON_DAYS} days (10 years) ahead`)
  return new Date(at).toISOString()
}

/** An ISO date for report ranges (`--since`, `--until`): a real calendar date, as epoch ms. */
export function parseDate(option: string, text: string): number {
  const at = strictInstant(text)
  if (Number.isNaN(at)) throw refuse(option, text, 'expected an ISO date such as 2026-11-01')
  return at
}

export function parseNote(option: string, text: string | undefined): string {
  if (text === undefined) return ''
  if (text.length > MAX_NOTE_LENGTH)
    throw refuse(option, `${text.slice(0, 20)}…`, `a note is at most ${MAX_NOTE_LENGTH} characters`)
  return text
}

/** A grant id as `rpo budget report` lists it. */
export function parseGrantId(text: string): string {
  if (text.length > 200 || !/^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(text)) {
    throw refuse(
      '<grant>',
      text,
      'expected a grant id as `rpo budget report` lists it, such as grant-2026-11-20-1a2b3c',
    )
  }
  return text
}
