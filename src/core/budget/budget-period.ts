/**
 * Budget periods → concrete time windows. Owns the three period shapes of the config (calendar
 * month, rolling days, fixed window) and the one membership test every budget computation uses.
 * Pure: `now` is a parameter; every calendar computation is in UTC, whatever the machine's zone.
 */
import { BudgetError, RpoError, type RpoErrorCode } from '../errors.js'

export type BudgetPeriod =
  | 'month'
  | { readonly rollingDays: number }
  | { readonly from: string; readonly until: string }

/** A window in epoch ms. `from` is included; `until` is included only for rolling windows (which end at `now`). */
export interface PeriodWindow {
  readonly from: number
  readonly until: number
  readonly includesUntil: boolean
  /** For messages and reports: `month 2026-11`, `last 30 days`, `2026-01-01..2026-03-31`. */
  readonly label: string
}

const DAY_MS = 86_400_000
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?$/

export function periodWindow(period: BudgetPeriod, now: number): PeriodWindow {
  if (!Number.isFinite(now)) throw new BudgetError('budget-period-invalid', `now must be a finite epoch ms, got ${now}`)
  if (period === 'month') {
    const at = new Date(now)
    const from = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1)
    const until = Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1)
    return { from, until, includesUntil: false, label: `month ${new Date(from).toISOString().slice(0, 7)}` }
  }
  if ('rollingDays' in period) {
    const days = period.rollingDays
    if (!Number.isInteger(days) || days <= 0) {
      throw new BudgetError('budget-period-invalid', `rollingDays must be a positive whole number, got ${days}`)
    }
    return { from: now - days * DAY_MS, until: now, includesUntil: true, label: `last ${days} days` }
  }
  const from = parseBoundary('from', period.from, 'start')
  // a date-only `until` means the whole of that day, so Q1 is written from 2026-01-01 until 2026-03-31
  const until = parseBoundary('until', period.until, 'end')
  if (from >= until) {
    throw new BudgetError(
      'budget-period-invalid',
      `budget period from ${JSON.stringify(period.from)} must come before until ${JSON.stringify(period.until)}`,
    )
  }
  return { from, until, includesUntil: false, label: `${period.from}..${period.until}` }
}

export function isInWindow(window: PeriodWindow, at: number): boolean {
  return at >= window.from && (at < window.until || (window.includesUntil && at === window.until))
}

/**
 * An ISO 8601 date or date-time as epoch ms. A date-time without an offset is read as UTC (never
 * the machine's zone), and impossible dates such as 2026-02-30 are refused instead of rolled over.
 */
function parseBoundary(field: 'from' | 'until', value: string, dateOnlyMeans: 'start' | 'end'): number {
  const refuse = (why: string) =>
    new BudgetError('budget-period-invalid', `budget period ${field} ${JSON.stringify(value)} ${why}`)
  if (typeof value !== 'string') throw refuse('is not a string')
  const dateOnly = ISO_DATE.exec(value)
  const dateTime = dateOnly ? null : ISO_DATE_TIME.exec(value)
  const parts = dateOnly ?? dateTime
  if (!parts) throw refuse('is not an ISO 8601 date (2026-01-31) or date-time (2026-01-31T12:00:00Z)')
  const [year, month, day] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
  const calendar = new Date(Date.UTC(year, month - 1, day))
  if (calendar.getUTCFullYear() !== year || calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) {
    throw refuse('is not a calendar date')
  }
  if (dateOnly) return calendar.getTime() + (dateOnlyMeans === 'end' ? DAY_MS : 0)
  const ms = Date.parse(dateTime?.[4] ? value : `${value}Z`)
  if (Number.isNaN(ms)) throw refuse('is not a valid time of day')
  return ms
}

/** Epoch ms of an ISO timestamp (a ledger entry's `at`, a deadline); a typed error names a bad one. */
export function parseInstant(what: string, value: string, code: RpoErrorCode = 'internal'): number {
  const ms = instantOf(value)
  if (Number.isNaN(ms)) throw new RpoError(code, `${what} ${JSON.stringify(value)} is not an ISO timestamp`)
  return ms
}

/** parseInstant without the error: NaN for what is not a timestamp (for loops that name the culprit only then). */
export function instantOf(value: string): number {
  if (typeof value !== 'string') return Number.NaN
  const fast = parseCanonicalInstant(value)
  return Number.isNaN(fast) ? Date.parse(value) : fast
}

/**
 * `toISOString()`'s own shape (2026-11-20T12:00:00Z or …:00.000Z), read digit by digit: the ledger
 * holds tens of thousands of them and Date.parse is the slow part of a tick. NaN for anything else.
 */
function parseCanonicalInstant(value: string): number {
  const n = value.length
  if (n !== 20 && n !== 24) return Number.NaN
  // 2026-11-20T12:00:00.000Z: '-' at 4 and 7, 'T' at 10, ':' at 13 and 16, '.' at 19, 'Z' last
  if (
    value.charCodeAt(4) !== 45 ||
    value.charCodeAt(7) !== 45 ||
    value.charCodeAt(10) !== 84 ||
    value.charCodeAt(13) !== 58 ||
    value.charCodeAt(16) !== 58 ||
    value.charCodeAt(n - 1) !== 90 ||
    (n === 24 && value.charCodeAt(19) !== 46)
  ) {
    return Number.NaN
  }
  const year = digitsAt(value, 0, 4)
  const month = digitsAt(value, 5, 2)
  const day = digitsAt(value, 8, 2)
  const hour = digitsAt(value, 11, 2)
  const minute = digitsAt(value, 14, 2)
  const second = digitsAt(value, 17, 2)
  const ms = n === 24 ? digitsAt(value, 20, 3) : 0
  if (!(month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59 && ms >= 0)) {
    return Number.NaN
  }
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  if (day > (month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] as number))) return Number.NaN
  return ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + ms
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil), without Date. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yearOfEra = y - era * 400
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear
  return era * 146_097 + dayOfEra - 719_468
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const

/** The number written by `count` digits at `from`; NaN when one is not a digit. */
function digitsAt(value: string, from: number, count: number): number {
  let result = 0
  for (let i = from; i < from + count; i++) {
    const d = value.charCodeAt(i) - 48
    if (d < 0 || d > 9) return Number.NaN
    result = result * 10 + d
  }
  return result
}

/**
 * An ISO 8601 date or date-time as the CLI takes it (a date-time without an offset is UTC, an
 * impossible date such as 2026-02-30 is refused), as epoch ms; NaN when it is not one. A date alone
 * means its start, or with `dateOnlyMeans: 'end'` the start of the next day.
 */
export function strictInstant(value: string, dateOnlyMeans: 'start' | 'end' = 'start'): number {
  try {
    return parseBoundary('from', value, dateOnlyMeans)
  } catch {
    return Number.NaN
  }
}
