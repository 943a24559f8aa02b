/**
 * The bounds of a history window as people write them: an ISO date or date-time (`2026-11-01`,
 * `2026-11-01T08:00`, `2026-11-01T08:00:00+01:00`; without a zone it is UTC, so the same text means
 * the same time on every machine), or a time before now (`90m`, `24h`, `7d`, `2w`). Pure: `now` is
 * the caller's.
 */
import { RpoError } from '../errors.js'

const RELATIVE = /^(\d{1,6})(m|h|d|w)$/
const ISO = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i
const SECONDS: Readonly<Record<string, number>> = { m: 60, h: 3600, d: 86_400, w: 604_800 }

/**
 * The ISO instant (`toISOString()`) a bound names.
 * @param option the option it came from, for the message (`--since`).
 * @throws RpoError('usage') naming the option and the forms it takes.
 */
export function parseHistoryTime(text: string, now: number, option: string): string {
  const trimmed = text.trim()
  const relative = RELATIVE.exec(trimmed)
  if (relative) {
    const seconds = Number(relative[1]) * (SECONDS[relative[2] as string] as number)
    return new Date(now - seconds * 1000).toISOString()
  }
  const iso = ISO.exec(trimmed)
  if (iso) {
    const [, date, time, zone] = iso
    const ms = Date.parse(time === undefined ? `${date}T00:00:00Z` : `${date}T${time}${zone ?? 'Z'}`)
    if (!Number.isNaN(ms) && isCalendarDate(date as string) && !/^24/.test(time ?? ''))
      return new Date(ms).toISOString()
  }
  throw new RpoError(
    'usage',
    `${option} takes an ISO date or date-time (2026-11-01, 2026-11-01T08:00Z) or a time before now (90m, 24h, 7d, 2w), got ${JSON.stringify(text)}`,
  )
}

// Date.parse rolls 2026-02-30 over to March: a date is one only if it names itself back
function isCalendarDate(date: string): boolean {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number]
  return new Date(Date.UTC(y, m - 1, d)).toISOString().slice(0, 10) === date
}
