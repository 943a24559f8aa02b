/**
 * Pure parsers for the scalar spellings Slurm commands print: durations, timestamps, memory sizes
 * and TRES lists. Every function either returns a value (null for Slurm's documented "no value"
 * words) or throws `ParseError`; none guesses.
 */
import { ParseError } from '../../src/core/errors.js'

const SOURCE = 'slurm'

// words Slurm prints where a duration has no value: no limit, not applicable, not set, garbage in the db
const NO_DURATION = new Set(['', 'UNLIMITED', 'INVALID', 'PARTITION_LIMIT', 'NOT_SET', 'N/A', 'NONE', '(NULL)'])

// https://slurm.schedmd.com/sbatch.html#OPT_time — "minutes", "minutes:seconds", "hours:minutes:seconds",
// "days-hours", "days-hours:minutes", "days-hours:minutes:seconds"; CPU fields add ".fraction" to the
// seconds (https://slurm.schedmd.com/sacct.html: "[days-]hours:minutes:seconds[.microseconds]").
const DURATION = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?(\.\d+)?$/

/**
 * Parse a Slurm duration into seconds (fractional when Slurm printed milliseconds).
 *
 * `1-02:03:04` → 93784, `02:03:04` → 7384, `03:04` → 184 (minutes:seconds), `4` → 240 (minutes),
 * `1-02` → 93600 (days-hours), `01:02.345` → 62.345.
 * @returns seconds, or null for `UNLIMITED`, `INVALID`, `Partition_Limit`, `NOT_SET`, `N/A`, `None` or empty.
 * @throws ParseError for anything else (negative parts such as `00:00:-02`, words, out-of-range fields).
 */
export function parseSlurmDurationSeconds(text: string): number | null {
  const trimmed = text.trim()
  if (NO_DURATION.has(trimmed.toUpperCase())) return null
  const match = DURATION.exec(trimmed)
  if (match === null) throw new ParseError(SOURCE, 'not a Slurm duration', text)
  const [, daysText, first, second, third, fraction] = match
  const parts = [first, second, third].filter((part) => part !== undefined).map(Number)
  const hasDays = daysText !== undefined
  const [hours, minutes, seconds] = clockParts(parts, hasDays)
  const hasSeconds = hasDays ? parts.length === 3 : parts.length >= 2
  if (fraction !== undefined && !hasSeconds) {
    throw new ParseError(SOURCE, 'a fraction is only allowed on seconds', text)
  }
  const minutesLead = !hasDays && parts.length <= 2
  if (seconds >= 60 || (!minutesLead && minutes >= 60) || (hasDays && hours >= 24)) {
    throw new ParseError(SOURCE, 'duration field out of range', text)
  }
  const days = hasDays ? Number(daysText) : 0
  const fractionalSeconds = fraction === undefined ? 0 : Number(fraction)
  return days * 86_400 + hours * 3_600 + minutes * 60 + seconds + fractionalSeconds
}

// without days the fields are M, M:S or H:M:S; after "D-" they are H, H:M or H:M:S
function clockParts(parts: readonly number[], hasDays: boolean): [hours: number, minutes: number, seconds: number] {
  if (hasDays || parts.length === 3) return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0]
  if (parts.length === 2) return [0, parts[0] ?? 0, parts[1] ?? 0]
  return [0, parts[0] ?? 0, 0]
}

/**
 * Format a time limit for `sbatch --time` as `D-HH:MM:SS` (whole seconds, rounded up).
 * @throws RangeError when `seconds` is not a positive finite number — Slurm reads `--time=0` as "no limit".
 */
export function formatSlurmTimeLimit(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new RangeError(`a Slurm time limit must be a positive number of seconds, got ${seconds}`)
  }
  const total = Math.ceil(seconds)
  const days = Math.floor(total / 86_400)
  const hours = Math.floor((total % 86_400) / 3_600)
  const minutes = Math.floor((total % 3_600) / 60)
  const rest = total % 60
  return `${days}-${pad2(hours)}:${pad2(minutes)}:${pad2(rest)}`
}

/** Where the cluster's clocks are: Slurm prints local wall-clock times without an offset. */
export interface SlurmTimeZone {
  /** IANA zone of the cluster, e.g. `Europe/Berlin`; follows daylight saving. Wins over `utcOffsetMinutes`. */
  readonly timeZone?: string
  /** Fixed offset east of UTC in minutes, e.g. 60 for CET. @default 0 (UTC) */
  readonly utcOffsetMinutes?: number
}

const NO_TIMESTAMP = new Set(['', 'UNKNOWN', 'NONE', 'N/A', '(NULL)'])
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/

/**
 * Parse a Slurm timestamp (`2023-04-05T06:07:08`, SLURM_TIME_FORMAT=standard) printed in the cluster's
 * local time zone.
 * @returns the instant, or null for `Unknown`, `None`, `N/A` or empty (not started / not ended).
 * @throws ParseError for other spellings, e.g. the relative format `4 Sep 11:09` that a user's
 *   SLURM_TIME_FORMAT=relative produces: it has no year, so it cannot be read back without guessing.
 */
export function parseSlurmTimestamp(text: string, zone: SlurmTimeZone = {}): Date | null {
  const trimmed = text.trim()
  if (NO_TIMESTAMP.has(trimmed.toUpperCase())) return null
  const match = TIMESTAMP.exec(trimmed)
  if (match === null) {
    throw new ParseError(SOURCE, 'not a standard Slurm timestamp (is SLURM_TIME_FORMAT set to something else?)', text)
  }
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = match.slice(1).map(Number)
  const wallClockMs = Date.UTC(year, month - 1, day, hour, minute, second)
  const check = new Date(wallClockMs)
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new ParseError(SOURCE, 'timestamp out of range', text)
  }
  if (zone.timeZone !== undefined) return new Date(zonedWallClockToUtcMs(wallClockMs, zone.timeZone))
  return new Date(wallClockMs - (zone.utcOffsetMinutes ?? 0) * 60_000)
}

// find the UTC instant whose wall clock in `timeZone` reads `wallClockMs`; the second pass settles
// instants next to a daylight-saving switch (a wall time inside the spring gap resolves forward)
function zonedWallClockToUtcMs(wallClockMs: number, timeZone: string): number {
  let guess = wallClockMs - zoneOffsetMs(wallClockMs, timeZone)
  guess = wallClockMs - zoneOffsetMs(guess, timeZone)
  return guess
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>()

function zoneOffsetMs(instantMs: number, timeZone: string): number {
  let format = zoneFormats.get(timeZone)
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
    zoneFormats.set(timeZone, format)
  }
  const parts = format.formatToParts(new Date(instantMs))
  const field = (type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === type)?.value)
  const asUtc = Date.UTC(
    field('year'),
    field('month') - 1,
    field('day'),
    field('hour'),
    field('minute'),
    field('second'),
  )
  return asUtc - Math.floor(instantMs / 1000) * 1000
}

/** The unit Slurm means when a memory value has no suffix; it depends on the field. */
export type SlurmMemoryUnit = 'B' | 'K' | 'M' | 'G' | 'T' | 'P'

// Slurm scales by 1024 (src/common/slurm_protocol_api.c convert_num_unit); MB is rpo's unit
const MB_PER_UNIT: Record<SlurmMemoryUnit, number> = {
  B: 1 / 1024 / 1024,
  K: 1 / 1024,
  M: 1,
  G: 1024,
  T: 1024 * 1024,
  P: 1024 * 1024 * 1024,
}
const MEMORY = /^(\d+(?:\.\d+)?)([KMGTP])?$/i
const REQ_MEM = /^(\d+(?:\.\d+)?)([KMGTP])?([nc])?$/
const NO_MEMORY = new Set(['', 'N/A', '(NULL)'])

/**
 * Parse a Slurm memory size into MB (1 MB = 1024 KB, as Slurm counts): `4000M` → 4000, `16G` → 16384,
 * `512K` → 0.5, `1.5T` → 1572864.
 * @param defaultUnit what a bare number means: MB for requests and `sinfo %m`, bytes for sacct's MaxRSS.
 * @returns MB, or null for empty, `N/A` or `(null)`.
 * @throws ParseError for anything else, including ReqMem's per-node/per-CPU suffixes (use `parseSlurmReqMem`).
 */
export function parseSlurmMemoryMb(text: string, defaultUnit: SlurmMemoryUnit = 'M'): number | null {
  const trimmed = text.trim()
  if (NO_MEMORY.has(trimmed.toUpperCase())) return null
  const match = MEMORY.exec(trimmed)
  if (match === null) throw new ParseError(SOURCE, 'not a Slurm memory size', text)
  const unit = (match[2]?.toUpperCase() ?? defaultUnit) as SlurmMemoryUnit
  return Number(match[1]) * MB_PER_UNIT[unit]
}

/** A memory request as sacct's ReqMem prints it. */
export interface SlurmMemoryRequest {
  readonly mb: number
  /** Slurm < 21.08 suffixed `n` (per node) or `c` (per CPU); null when unsuffixed. */
  readonly per: 'node' | 'cpu' | null
}

/**
 * Parse sacct's ReqMem, which before Slurm 21.08 carried a scope suffix: `4000Mn` (per node),
 * `4000Mc` (per CPU), `0n` (no request). A per-CPU value must be multiplied by the CPU count by the caller.
 * @returns null for empty, `N/A` or `(null)`.
 * @throws ParseError for anything else.
 */
export function parseSlurmReqMem(text: string): SlurmMemoryRequest | null {
  const trimmed = text.trim()
  if (NO_MEMORY.has(trimmed.toUpperCase())) return null
  const match = REQ_MEM.exec(trimmed)
  if (match === null) throw new ParseError(SOURCE, 'not a Slurm ReqMem value', text)
  const unit = (match[2] ?? 'M') as SlurmMemoryUnit
  const per = match[3] === 'n' ? 'node' : match[3] === 'c' ? 'cpu' : null
  return { mb: Number(match[1]) * MB_PER_UNIT[unit], per }
}

const SCALE: Record<Exclude<SlurmMemoryUnit, 'B'>, number> = {
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
  P: 1024 ** 5,
}
const TRES_KEY = /^[A-Za-z][A-Za-z0-9_.\-/:]*$/
const TRES_VALUE = /^(\d+(?:\.\d+)?)([KMGTP])?$/
const NO_TRES = new Set(['', 'N/A', '(NULL)'])

/**
 * Parse a TRES list such as AllocTRES / ReqTRES, e.g. `billing=4,cpu=4,gres/gpu:a100=2,gres/gpu=2,mem=16G,node=1`,
 * into counts by TRES name. Memory TRES (`mem`, `vmem`, `gres/gpumem`, any name ending in `mem`) are in MB;
 * a bare memory number is MB (AllocTRES prints `mem=0`). Other suffixed counts are scaled by 1024 as Slurm scales them.
 * @returns an empty record for empty, `N/A` or `(null)`.
 * @throws ParseError for entries that are not `name=number[unit]` (e.g. the durations in TRESUsageInTot).
 */
export function parseSlurmTres(text: string): Record<string, number> {
  const trimmed = text.trim()
  const tres: Record<string, number> = {}
  if (NO_TRES.has(trimmed.toUpperCase())) return tres
  for (const entry of trimmed.split(',')) {
    const equals = entry.indexOf('=')
    const key = entry.slice(0, equals)
    const match = TRES_VALUE.exec(entry.slice(equals + 1))
    if (equals <= 0 || !TRES_KEY.test(key) || match === null || key === '__proto__') {
      throw new ParseError(SOURCE, 'not a TRES entry (name=count)', entry)
    }
    const value = Number(match[1])
    const unit = match[2] as Exclude<SlurmMemoryUnit, 'B'> | undefined
    tres[key] = isMemoryTres(key) ? value * MB_PER_UNIT[unit ?? 'M'] : value * (unit === undefined ? 1 : SCALE[unit])
  }
  return tres
}

function isMemoryTres(key: string): boolean {
  return key === 'mem' || key.endsWith('mem')
}

function pad2(value: number): string {
  return String(value).padStart(2, '0')
}
