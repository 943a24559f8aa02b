/**
 * `sdiag` (and `sdiag --json`, Slurm ≥ 23.02) → slurmctld's own count of the RPCs it served, by
 * message type and by user, since its statistics were last reset. rpo reads it to check from the
 * controller's side how many scheduler calls a sync round costs (issue #11: flat in the number of
 * pipelines); the delta between two readings is one user's calls in between.
 * https://slurm.schedmd.com/sdiag.html
 */
import { ParseError } from '../../src/core/errors.js'

const SOURCE = 'sdiag'

/** One row of an RPC table: a message type (name, type id) or a user (name, uid). Times in µs. */
export interface SdiagRpcCount {
  readonly name: string
  readonly id: number
  readonly count: number
  readonly averageTimeUs: number
  readonly totalTimeUs: number
}

export interface SdiagReport {
  /** When the statistics were read (epoch seconds); null when the output does not say. */
  readonly sampledAt: number | null
  /** Start of the counting period as printed ("Data since"): a change means the counters were reset. */
  readonly dataSince: string | null
  readonly rpcsByType: readonly SdiagRpcCount[]
  readonly rpcsByUser: readonly SdiagRpcCount[]
}

const HEADER = /^sdiag output at /m
const SECTION = {
  'Remote Procedure Call statistics by message type': 'rpcsByType',
  'Remote Procedure Call statistics by user': 'rpcsByUser',
} as const
// "\tREQUEST_JOB_INFO   ( 2003) count:20   ave_time:16188  total_time:323771" (users: name and uid)
const ROW = /^(\S+)\s*\(\s*(\d+)\)\s+(.*)$/
const FIELD = /(\w+):(\d+)/g

/**
 * Parse sdiag's text output. Sections other than the two RPC tables are skipped; an output without
 * RPC tables (statistics printed before any RPC, or cut short) gives empty tables.
 * @throws ParseError when the text is not sdiag's, or a row of an RPC table cannot be read.
 */
export function parseSdiag(text: string): SdiagReport {
  if (!HEADER.test(text)) throw new ParseError(SOURCE, 'not sdiag output (no "sdiag output at" header)', text)
  const tables: { rpcsByType: SdiagRpcCount[]; rpcsByUser: SdiagRpcCount[] } = { rpcsByType: [], rpcsByUser: [] }
  let section: keyof typeof tables | null = null
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === '') {
      section = null
      continue
    }
    const heading = SECTION[line as keyof typeof SECTION]
    if (heading) {
      section = heading
      continue
    }
    // a row is indented; an unindented line starts another section
    if (section === null || !/^\s/.test(raw)) {
      section = null
      continue
    }
    tables[section].push(parseRow(line))
  }
  const sampled = /^sdiag output at .*\((\d+)\)\s*$/m.exec(text)
  const since = /^Data since\s+(.+?)\s*$/m.exec(text)
  return {
    sampledAt: sampled ? Number(sampled[1]) : null,
    dataSince: since ? (since[1] as string) : null,
    ...tables,
  }
}

function parseRow(line: string): SdiagRpcCount {
  const match = ROW.exec(line)
  if (!match) throw new ParseError(SOURCE, 'an RPC statistics row is not "<name> (<id>) count:<n> …"', line)
  const fields = new Map<string, number>()
  for (const [, key, value] of (match[3] as string).matchAll(FIELD)) fields.set(key as string, Number(value))
  const count = fields.get('count')
  if (count === undefined) throw new ParseError(SOURCE, 'an RPC statistics row has no count', line)
  return {
    name: match[1] as string,
    id: Number(match[2]),
    count,
    averageTimeUs: fields.get('ave_time') ?? 0,
    totalTimeUs: fields.get('total_time') ?? 0,
  }
}

/**
 * Parse `sdiag --json` (data_parser v0.0.39 and later; 24.05 wraps numbers as {set, infinite, number}).
 * @throws ParseError when it is not JSON or has no `statistics` object.
 */
export function parseSdiagJson(text: string): SdiagReport {
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch (error) {
    throw new ParseError(SOURCE, `sdiag --json output is not JSON: ${(error as Error).message}`, text)
  }
  const statistics = (document as { statistics?: unknown } | null)?.statistics
  if (typeof statistics !== 'object' || statistics === null) {
    throw new ParseError(SOURCE, 'sdiag --json output has no "statistics" object', text)
  }
  const stats = statistics as Record<string, unknown>
  const start = jsonNumber(stats.req_time_start)
  return {
    sampledAt: jsonNumber(stats.req_time),
    dataSince: start === null ? null : String(start),
    rpcsByType: jsonRows(stats.rpcs_by_message_type, 'message_type', 'type_id'),
    rpcsByUser: jsonRows(stats.rpcs_by_user, 'user', 'user_id'),
  }
}

function jsonRows(rows: unknown, nameKey: string, idKey: string): SdiagRpcCount[] {
  if (!Array.isArray(rows)) return []
  return rows.map((row: Record<string, unknown>) => {
    const count = jsonNumber(row.count)
    if (typeof row[nameKey] !== 'string' || count === null) {
      throw new ParseError(SOURCE, `an RPC statistics entry has no ${nameKey} or count`, JSON.stringify(row))
    }
    return {
      name: row[nameKey] as string,
      id: jsonNumber(row[idKey]) ?? -1,
      count,
      averageTimeUs: jsonNumber(row.average_time) ?? 0,
      totalTimeUs: jsonNumber(row.total_time) ?? 0,
    }
  })
}

function jsonNumber(value: unknown): number | null {
  if (typeof value === 'number') return value
  if (typeof value === 'object' && value !== null && 'number' in value) {
    const wrapped = value as { set?: boolean; number?: unknown }
    return wrapped.set === false || typeof wrapped.number !== 'number' ? null : wrapped.number
  }
  return null
}

/** RPCs slurmctld counted for `user` (0 when it served none). */
export function rpcCountOfUser(report: SdiagReport, user: string): number {
  return report.rpcsByUser.find((row) => row.name === user)?.count ?? 0
}

/**
 * RPCs of `user` between two readings. When the counters were reset in between (`sdiag --reset`,
 * slurmctld's daily reset or a restart) the second reading counts from the reset, which is all
 * that can be known.
 */
export function rpcDeltaOfUser(before: SdiagReport, after: SdiagReport, user: string): number {
  const was = rpcCountOfUser(before, user)
  const is = rpcCountOfUser(after, user)
  const reset = before.dataSince !== after.dataSince || is < was
  return reset ? is : is - was
}
