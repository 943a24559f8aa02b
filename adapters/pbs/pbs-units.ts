/**
 * Pure parsers for the scalar spellings PBS Pro, OpenPBS and Torque print: durations (`HH:MM:SS`,
 * hours unbounded), sizes (`123456kb`), and timestamps (epoch seconds, or ctime-style local times
 * such as `Tue Apr  9 15:01:47 2013`). Every function returns a value or throws `ParseError`.
 */
import { ParseError } from '../../src/core/errors.js'
import { parseSlurmTimestamp, type SlurmTimeZone } from '../slurm/slurm-time.js'

const SOURCE = 'pbs'

// https://help.altair.com/2024.1.0/PBS%20Professional/PBSReferenceGuide2024.1.pdf — "Time and duration
// formats": [[hours:]minutes:]seconds[.milliseconds]; hours are not limited to 24 (`4090:56:03` is cput)
const DURATION = /^(?:(\d+):)?(?:(\d+):)?(\d+)(\.\d+)?$/

/**
 * Parse a PBS duration into seconds: `01:02:03` → 3723, `4090:56:03` → 14727363, `02:03` → 123
 * (minutes:seconds), `75` → 75 (seconds, as PBS reads a bare number), `00:00:01.5` → 1.5.
 * JSON output carries some durations as numbers of seconds, which pass through.
 * @throws ParseError for anything else (negative, words, minutes or seconds ≥ 60 after a larger field).
 */
export function parsePbsDurationSeconds(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new ParseError(SOURCE, 'not a duration', String(value))
    return value
  }
  const match = DURATION.exec(value.trim())
  if (match === null) throw new ParseError(SOURCE, 'not a PBS duration ([[HH:]MM:]SS)', value)
  const [, first, second, last, fraction] = match
  const fields = [first, second, last].filter((field) => field !== undefined).map(Number)
  const [hours, minutes, seconds] =
    fields.length === 3 ? fields : fields.length === 2 ? [0, fields[0], fields[1]] : [0, 0, fields[0]]
  if (fields.length >= 2 && (seconds ?? 0) >= 60) throw new ParseError(SOURCE, 'seconds out of range', value)
  if (fields.length === 3 && (minutes ?? 0) >= 60) throw new ParseError(SOURCE, 'minutes out of range', value)
  return (hours ?? 0) * 3_600 + (minutes ?? 0) * 60 + (seconds ?? 0) + (fraction === undefined ? 0 : Number(fraction))
}

/**
 * Format a walltime for `-l walltime=` as `HH:MM:SS`, whole seconds rounded up; hours may exceed 24
 * (PBS and Torque both accept `36:00:00`).
 * @throws RangeError when `seconds` is not a positive finite number.
 */
export function formatPbsWalltime(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new RangeError(`a PBS walltime must be a positive number of seconds, got ${seconds}`)
  }
  const total = Math.ceil(seconds)
  const hours = Math.floor(total / 3_600)
  const minutes = Math.floor((total % 3_600) / 60)
  return `${String(hours).padStart(2, '0')}:${pad2(minutes)}:${pad2(total % 60)}`
}

// https://help.altair.com/2024.1.0/PBS%20Professional/PBSReferenceGuide2024.1.pdf — "size": an integer
// with an optional suffix b, kb, mb, gb, tb, pb (bytes) or w, kw, mw, … (words); K = 1024. A bare number
// is bytes. Torque uses the same spelling (https://docs.adaptivecomputing.com/torque/6-1-2/adminGuide/
// Content/topics/torque/2-jobs/requestingRes.htm, "size format").
const SIZE = /^(\d+(?:\.\d+)?)([kmgtp]?)([bw]?)$/i
const SCALE: Readonly<Record<string, number>> = {
  '': 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
}
// a PBS word is the machine word: 8 bytes on every 64-bit platform PBS and Torque run on
const BYTES_PER_WORD = 8

/**
 * Parse a PBS size into MB (1 MB = 1024 × 1024 bytes): `123456kb` → 120.5625, `128gb` → 131072,
 * `68719476736b` and `68719476736` → 65536, `4mw` → 32. JSON numbers are bytes, as PBS prints them.
 * @throws ParseError for anything that is not `<number>[k|m|g|t|p][b|w]`.
 */
export function parsePbsSizeMb(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new ParseError(SOURCE, 'not a size', String(value))
    return value / 1024 ** 2
  }
  const match = SIZE.exec(value.trim())
  // `4m` without b/w is not a PBS size (it would be a duration in some tools): refuse instead of guessing
  if (match === null || (match[2] !== '' && match[3] === '')) {
    throw new ParseError(SOURCE, 'not a PBS size (e.g. 123456kb, 4gb)', String(value))
  }
  const unit = SCALE[(match[2] ?? '').toLowerCase()] ?? 1
  const perUnit = (match[3] ?? '').toLowerCase() === 'w' ? BYTES_PER_WORD : 1
  return (Number(match[1]) * unit * perUnit) / 1024 ** 2
}

/** Format MB for a `mem=` request: whole MB, rounded up (`16000mb`). */
export function formatPbsSizeMb(megabytes: number): string {
  if (!Number.isFinite(megabytes) || megabytes <= 0) {
    throw new RangeError(`a PBS memory request must be a positive number of MB, got ${megabytes}`)
  }
  return `${Math.ceil(megabytes)}mb`
}

/** Where the cluster's clocks are: PBS text output prints local wall-clock times without an offset. */
export type PbsTimeZone = SlurmTimeZone

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const CTIME = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/
const EPOCH = /^\d{1,12}$/

/**
 * Parse a PBS timestamp: epoch seconds (Torque XML, PBS JSON on some versions, `history_timestamp`;
 * as a number or a string of digits) or the ctime(3) spelling `Tue Apr  9 15:01:47 2013` that `qstat -f`
 * prints in the server's local time — hence `zone`.
 * @returns the instant, or null for an empty value.
 * @throws ParseError for anything else.
 */
export function parsePbsTimestamp(value: string | number, zone: PbsTimeZone = {}): Date | null {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw new ParseError(SOURCE, 'not an epoch time', String(value))
    return new Date(value * 1000)
  }
  const trimmed = value.trim()
  if (trimmed === '') return null
  if (EPOCH.test(trimmed)) return new Date(Number(trimmed) * 1000)
  const match = CTIME.exec(trimmed.replace(/\s+/g, ' '))
  const month = match === null ? -1 : MONTHS.indexOf(match[1] ?? '')
  if (match === null || month < 0) {
    throw new ParseError(SOURCE, 'not a PBS time (epoch seconds or "Tue Apr  9 15:01:47 2013")', value)
  }
  const [, , day, hour, minute, second, year] = match
  const iso = `${year}-${pad2(month + 1)}-${pad2(Number(day))}T${hour}:${minute}:${second}`
  try {
    return parseSlurmTimestamp(iso, zone)
  } catch (error) {
    if (error instanceof ParseError) throw new ParseError(SOURCE, 'timestamp out of range', value)
    throw error
  }
}

function pad2(value: number): string {
  return String(value).padStart(2, '0')
}
