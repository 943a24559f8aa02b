/**
 * `squeue --noheader --states=all --format=<SQUEUE_FORMAT>` → typed records and observations.
 * squeue answers from slurmctld's memory, so it is the fresh view of pending and running jobs;
 * a job gone from squeue is not finished — ask sacct. https://slurm.schedmd.com/squeue.html
 */

import { ParseError } from '../../src/core/errors.js'
import { isTerminalJobState, type JobState } from '../../src/core/job/job-state.js'
import { asNativeJobId, type JobObservation } from '../../src/scheduler/scheduler-adapter.js'
import { type DelimitedRow, splitDelimitedRows, withCellContext } from './delimited-output.js'
import { expandSlurmHostlist } from './slurm-hostlist.js'
import { mapSlurmState } from './slurm-states.js'
import { parseSlurmDurationSeconds, parseSlurmTimestamp, type SlurmTimeZone } from './slurm-time.js'

const SOURCE = 'squeue'

// https://slurm.schedmd.com/squeue.html#OPT_format — a %-code without a size prints the whole value,
// whereas --Format fields default to 20 characters, which would cut job names
/** The squeue `--format` %-codes rpo knows, by the record field each one fills. */
export const SQUEUE_FORMAT_CODES = {
  jobId: '%i',
  jobIdRaw: '%A',
  arrayJobId: '%F',
  arrayTaskId: '%K',
  state: '%T',
  stateCompact: '%t',
  reason: '%r',
  reasonOrNodes: '%R',
  name: '%j',
  elapsed: '%M',
  timeLimit: '%l',
  startTime: '%S',
  submitTime: '%V',
  endTime: '%e',
  nodeList: '%N',
  partition: '%P',
  account: '%a',
  nodeCount: '%D',
  cpus: '%C',
  tresPerNode: '%b',
  nice: '%y',
  dependency: '%E',
  user: '%u',
  workDir: '%Z',
} as const

/** A squeue column; `ignore` skips a column rpo does not read (for output captured with other formats). */
export type SqueueColumn = keyof typeof SQUEUE_FORMAT_CODES | 'ignore'

/** The columns rpo asks squeue for, in order: ids, state and reason, the name carrying the submission key, times. */
export const SQUEUE_COLUMNS = [
  'jobId',
  'jobIdRaw',
  'arrayJobId',
  'arrayTaskId',
  'state',
  'reason',
  'name',
  'elapsed',
  'timeLimit',
  'startTime',
  'submitTime',
  'endTime',
  'nodeList',
  'partition',
  'account',
  'nodeCount',
  'cpus',
  'tresPerNode',
] as const satisfies readonly SqueueColumn[]

/** The ASCII unit separator: it cannot occur in a job name, reason or node list. */
export const SQUEUE_DELIMITER = '\u001f'

/** The `--format` value for `columns`, e.g. `%i<US>%A<US>…`. */
export function buildSqueueFormat(
  columns: readonly Exclude<SqueueColumn, 'ignore'>[] = SQUEUE_COLUMNS,
  delimiter: string = SQUEUE_DELIMITER,
): string {
  return columns.map((column) => SQUEUE_FORMAT_CODES[column]).join(delimiter)
}

export interface SqueueParseOptions extends SlurmTimeZone {
  /** @default SQUEUE_DELIMITER */
  readonly delimiter?: string | RegExp
}

/** One squeue line. Columns that were not requested, `N/A` and `(null)` are null. */
export interface SqueueRecord {
  /** `123`, `123_4` (array task) or `123_[5-9]` (array tasks still pending together). */
  readonly jobId: string
  readonly jobIdRaw: string | null
  readonly arrayJobId: string | null
  readonly arrayTaskId: string | null
  /** null only when neither `state` nor `stateCompact` was requested. */
  readonly state: JobState | null
  readonly nativeState: string | null
  /** e.g. `JobHeldUser`, `Dependency`; null for `None`. */
  readonly reason: string | null
  readonly name: string | null
  readonly elapsedSeconds: number | null
  readonly timeLimitSeconds: number | null
  /** Actual start for started jobs; for a pending job squeue's %S is only an estimate, so null. */
  readonly startedAt: Date | null
  /**
   * For a pending or held job, the scheduler's own estimate of its start: %S, the StartTime that
   * `squeue --start` prints (set by the backfill scheduler; may lie in the past when it is stale);
   * null when Slurm has none (`N/A`: not yet considered, held, waiting on a dependency) and for any
   * other state.
   */
  readonly expectedStartAt: Date | null
  readonly submittedAt: Date | null
  /** Actual end of a job in a terminal state; for a live job squeue's %e is only the expected end, so null. */
  readonly endedAt: Date | null
  readonly nodeList: string | null
  readonly partition: string | null
  readonly account: string | null
  readonly nodeCount: number | null
  readonly cpus: number | null
  /** e.g. `gres:gpu:a100:2` (22.05) or `gres/gpu:a100:2`; null for `N/A`. */
  readonly tresPerNode: string | null
  /** Every requested column as printed. */
  readonly columns: Readonly<Partial<Record<Exclude<SqueueColumn, 'ignore'>, string>>>
}

const NO_VALUE = new Set(['', 'N/A', '(null)'])
const JOB_ID = /^\d+(?:_(?:\d+|\[[0-9,%-]+\]))?(?:\+\d+)?$/

/**
 * Parse squeue output printed with `--format=buildSqueueFormat(columns)` and `--noheader`.
 *
 * Lines `CLUSTER: <name>` (printed before the jobs when `-M` is given) are skipped.
 * @throws ParseError with the offending line for a wrong column count, a malformed id, time or count.
 *   An unknown state is not an error: it becomes `unknown` with `nativeState` kept.
 */
export function parseSqueue(
  stdout: string,
  columns: readonly SqueueColumn[] = SQUEUE_COLUMNS,
  options: SqueueParseOptions = {},
): SqueueRecord[] {
  if (!columns.includes('jobId') && !columns.includes('jobIdRaw')) {
    throw new ParseError(SOURCE, 'the column list has neither jobId nor jobIdRaw', columns.join(','))
  }
  // https://slurm.schedmd.com/squeue.html#OPT_clusters — with -M each cluster's block starts "CLUSTER: name"
  const body = stdout
    .split('\n')
    .filter((line) => !line.startsWith('CLUSTER: '))
    .join('\n')
  const rows = splitDelimitedRows(body, SOURCE, options.delimiter ?? SQUEUE_DELIMITER, columns.length)
  return rows.map((row) => parseRow(row, columns, options))
}

function parseRow(row: DelimitedRow, columns: readonly SqueueColumn[], zone: SlurmTimeZone): SqueueRecord {
  const printed: Partial<Record<Exclude<SqueueColumn, 'ignore'>, string>> = {}
  columns.forEach((column, index) => {
    if (column !== 'ignore') printed[column] = row.cells[index] ?? ''
  })
  // fixed-width codes such as %.15j pad with spaces; squeue never prints meaningful edge spaces
  const text = (column: Exclude<SqueueColumn, 'ignore'>): string | null => {
    const value = printed[column]?.trim()
    return value === undefined || NO_VALUE.has(value) ? null : value
  }
  const typed = <T>(column: Exclude<SqueueColumn, 'ignore'>, parse: (value: string) => T): T | null => {
    const value = text(column)
    return value === null ? null : withCellContext(SOURCE, row, column, () => parse(value))
  }
  const jobId = typed('jobId', checkJobId) ?? typed('jobIdRaw', checkJobId)
  if (jobId === null) throw new ParseError(SOURCE, `line ${row.lineNumber}: empty job id`, row.line)
  const nativeState = text('state') ?? text('stateCompact')
  const reasonText = text('reason') ?? reasonFromReasonOrNodes(text('reasonOrNodes'))
  const reason = reasonText === 'None' ? null : reasonText
  const state = nativeState === null ? null : mapSlurmState(nativeState, reason)
  const waiting = state === 'pending' || state === 'held'
  const started = state !== null && !waiting
  const ended = state !== null && isTerminalJobState(state)
  return {
    jobId,
    jobIdRaw: typed('jobIdRaw', checkJobId),
    arrayJobId: text('arrayJobId'),
    arrayTaskId: text('arrayTaskId'),
    state,
    nativeState,
    reason,
    name: text('name'),
    elapsedSeconds: typed('elapsed', parseSlurmDurationSeconds),
    timeLimitSeconds: typed('timeLimit', parseSlurmDurationSeconds),
    startedAt: started ? typed('startTime', (value) => parseSlurmTimestamp(value, zone)) : null,
    expectedStartAt: waiting ? typed('startTime', (value) => parseSlurmTimestamp(value, zone)) : null,
    submittedAt: typed('submitTime', (value) => parseSlurmTimestamp(value, zone)),
    endedAt: ended ? typed('endTime', (value) => parseSlurmTimestamp(value, zone)) : null,
    nodeList: text('nodeList') ?? nodesFromReasonOrNodes(text('reasonOrNodes')),
    partition: text('partition'),
    account: text('account'),
    nodeCount: typed('nodeCount', parseCount),
    cpus: typed('cpus', parseCount),
    tresPerNode: text('tresPerNode'),
    columns: printed,
  }
}

function checkJobId(text: string): string {
  if (!JOB_ID.test(text)) throw new ParseError(SOURCE, 'not a Slurm job id', text)
  return text
}

function parseCount(text: string): number {
  if (!/^\d+$/.test(text)) throw new ParseError(SOURCE, 'not a whole number', text)
  return Number(text)
}

// %R prints "(Reason)" for pending jobs and the node list for running ones
function reasonFromReasonOrNodes(text: string | null): string | null {
  return text?.startsWith('(') && text.endsWith(')') ? text.slice(1, -1) : null
}

function nodesFromReasonOrNodes(text: string | null): string | null {
  return text === null || text.startsWith('(') ? null : text
}

/**
 * One observation per squeue record. squeue prints no exit code, but COMPLETED is Slurm's name for
 * "the job exited 0" (https://slurm.schedmd.com/squeue.html#SECTION_JOB-STATE-CODES: "terminated
 * all processes on all nodes with an exit code of zero"), so it needs nothing from sacct to conclude. Any other
 * ending's exit code (FAILED: 85 is "resume me") is null: sacct has it. Usage is the elapsed time
 * only (sacct adds the allocation). A pending job's start estimate rides along (`expectedStartAt`), so
 * the scheduler's forecast costs no command of its own. A record without a state column yields `unknown`.
 * @throws ParseError when a node list cannot be expanded.
 */
export function squeueToJobObservations(records: readonly SqueueRecord[]): JobObservation[] {
  return records.map((record) => ({
    jobId: asNativeJobId(record.jobId),
    state: record.state ?? 'unknown',
    nativeState: record.nativeState ?? '',
    exitCode: record.state === 'succeeded' ? 0 : null,
    reason: record.reason,
    startedAt: record.startedAt,
    endedAt: record.endedAt,
    nodes: record.nodeList === null ? [] : expandSlurmHostlist(record.nodeList),
    usage: record.elapsedSeconds === null ? {} : { elapsedSeconds: record.elapsedSeconds },
    ...(record.name === null ? {} : { name: record.name }),
    ...(record.expectedStartAt === null ? {} : { expectedStartAt: record.expectedStartAt }),
  }))
}

/**
 * True when squeue failed only because a requested job id is no longer known to slurmctld
 * (purged after MinJobAge): squeue then exits 1 with "Invalid job id specified". That is not an
 * outage — the job must be looked up in sacct instead.
 */
export function isSqueueInvalidJobIdError(stderr: string): boolean {
  return /Invalid job id specified/i.test(stderr)
}
