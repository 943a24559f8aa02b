/**
 * ISO 8601 date-times with an explicit zone, as deadlines are written (`2026-12-31T18:00:00Z`,
 * `2026-12-31T18:00+01:00`). A plain date or a zone-less time is refused: read on different machines
 * it would mean different instants. Pure.
 */

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/i

/** Whether `value` is a real calendar date-time with `Z` or a `±hh:mm` offset. */
export function isZonedDateTime(value: string): boolean {
  const m = DATE_TIME.exec(value)
  if (!m) return false
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = m.slice(1).map((v) => Number(v ?? 0))
  const calendar = new Date(Date.UTC(year as number, (month as number) - 1, day as number))
  return (
    calendar.getUTCFullYear() === year &&
    calendar.getUTCMonth() === (month as number) - 1 &&
    calendar.getUTCDate() === day &&
    (hour as number) <= 23 &&
    (minute as number) <= 59 &&
    (second as number) <= 59 &&
    (offsetHours as number) <= 23 &&
    (offsetMinutes as number) <= 59
  )
}

export const ZONED_DATE_TIME_EXPECTED =
  'expected an ISO 8601 date-time with a time zone, such as 2026-12-31T18:00:00Z or 2026-12-31T18:00:00+01:00'
