/**
 * `sacct --parsable2 --noheader --delimiter=<US> --format=<SACCT_FIELDS>` → typed records, and the fold
 * of a job's allocation row and step rows into one `JobObservation`.
 * https://slurm.schedmd.com/sacct.html
 */

import { ParseError } from '../../src/core/errors.js'
import type { JobState } from '../../src/core/job/job-state.js'
import { asNativeJobId, type JobObservation, type ResourceUsage } from '../../src/scheduler/scheduler-adapter.js'
import { type DelimitedRow, isHeaderRow, splitDelimitedRows, withCellContext } from './delimited-output.js'
import { expandSlurmHostlist } from './slurm-hostlist.js'
import { mapSlurmState } from './slurm-states.js'
import {
  parseSlurmDurationSeconds,
  parseSlurmMemoryMb,
  parseSlurmTimestamp,
  parseSlurmTres,
  type SlurmTimeZone,
} from './slurm-time.js'

const SOURCE = 'sacct'

/**
 * The columns rpo asks sacct for, in order. ElapsedRaw (integer seconds) instead of Elapsed; Reason
 * tells a held PENDING job from a queued one; steps are kept (no `--allocations`) for MaxRSS and for
 * the exit code of the step that failed. TRESUsageInTot (last, so older captures differ only by their
 * final column) carries `gres/gpuutil` where the cluster gathers GPU accounting (AcctGatherGpu).
 */
export const SACCT_FIELDS = [
  'JobID',
  'JobIDRaw',
  'JobName',
  'State',
  'Reason',
  'ExitCode',
  'Submit',
  'Start',
  'End',
  'ElapsedRaw',
  'Timelimit',
  'AllocTRES',
  'TotalCPU',
  'MaxRSS',
  'NodeList',
  'Account',
  'Partition',
  'TRESUsageInTot',
] as const

/**
 * The ASCII unit separator: it cannot occur in a job name, reason or path, unlike `|` (the parsable
 * default), so a column can never shift. The argv carries it as a literal byte.
 */
export const SACCT_DELIMITER = '\u001f'

export interface SacctParseOptions extends SlurmTimeZone {
  /** @default SACCT_DELIMITER */
  readonly delimiter?: string
}

/** The parts of a sacct JobID: `123`, `123_4` (array task), `123_[1-3]` (pending tasks), `123+0` (het job), `.batch`. */
export interface SacctJobId {
  /** The job this row belongs to, without the step: what squeue/sacct/scontrol accept as an id. */
  readonly jobId: string
  /** `batch`, `extern`, `interactive`, `0`, `1`, …; null for the allocation row. */
  readonly step: string | null
  readonly arrayJobId: string | null
  /** `4`, or `[1-3]` for array tasks that are still pending together. */
  readonly arrayTaskId: string | null
  readonly hetJobOffset: number | null
}

/** One sacct row: the allocation of a job (step null) or one of its steps. Absent columns are null. */
export interface SacctRecord extends SacctJobId {
  readonly jobIdRaw: string | null
  readonly name: string | null
  readonly state: JobState | null
  /** sacct's own words, e.g. `CANCELLED by 0`. */
  readonly nativeState: string | null
  /** Why the job is (or last was) pending, e.g. `JobHeldUser`; null for `None`. */
  readonly reason: string | null
  readonly exitCode: number | null
  /** Number of the signal that ended the job or step; 0 when none. */
  readonly signal: number | null
  readonly submittedAt: Date | null
  readonly startedAt: Date | null
  readonly endedAt: Date | null
  readonly elapsedSeconds: number | null
  /** null also for UNLIMITED / Partition_Limit. */
  readonly timeLimitSeconds: number | null
  /** Allocated TRES, memory in MB. */
  readonly allocTres: Readonly<Record<string, number>> | null
  readonly totalCpuSeconds: number | null
  /** Peak resident memory of the largest task (step rows; empty on allocation rows), MB. */
  readonly maxRssMb: number | null
  /** Compressed host list as printed, e.g. `omni[19,21]`; null for `None assigned`. */
  readonly nodeList: string | null
  readonly account: string | null
  readonly partition: string | null
  /**
   * `gres/gpuutil` of TRESUsageInTot (step rows): the GPU utilisation the step's tasks reported, in
   * percent summed over the GPUs they used; null where the cluster does not gather it.
   */
  readonly gpuUtilPercent: number | null
  /** Every column as printed, by the field name used in --format (e.g. `ReqMem`). */
  readonly fields: Readonly<Record<string, string>>
}

const JOB_ID = /^(\d+)(?:_(\d+|\[[0-9,%-]+\]))?(?:\+(\d+))?(?:\.([A-Za-z0-9_+-]+))?$/

/**
 * Split a sacct JobID into job, array and step parts.
 * @throws ParseError when it is not a Slurm job id.
 */
export function parseSacctJobId(text: string): SacctJobId {
  const match = JOB_ID.exec(text.trim())
  if (match === null) throw new ParseError(SOURCE, 'not a Slurm job id', text)
  const [whole, baseId, arrayTask, hetOffset, step] = match
  return {
    jobId: step === undefined ? whole : whole.slice(0, whole.length - step.length - 1),
    step: step ?? null,
    arrayJobId: arrayTask === undefined ? null : (baseId ?? null),
    arrayTaskId: arrayTask ?? null,
    hetJobOffset: hetOffset === undefined ? null : Number(hetOffset),
  }
}

/**
 * Parse sacct output into records, one per line (allocation rows and step rows alike).
 *
 * @param fields the `--format` field list in order (case-insensitive), or `'from-header'` when the
 *   output starts with sacct's header line. A header matching `fields` is skipped either way.
 * @param options delimiter (default SACCT_DELIMITER) and the cluster's time zone for timestamps.
 * @throws ParseError with the offending line when a line has the wrong number of columns or a
 *   value of a typed column (times, ids, memory, TRES, exit code) is malformed. Unknown states are
 *   not errors: they become `unknown` with `nativeState` kept.
 */
export function parseSacct(
  stdout: string,
  fields: readonly string[] | 'from-header' = SACCT_FIELDS,
  options: SacctParseOptions = {},
): SacctRecord[] {
  const delimiter = options.delimiter ?? SACCT_DELIMITER
  let names: readonly string[]
  let rows: DelimitedRow[]
  if (fields === 'from-header') {
    const firstLine = stdout.split('\n').find((line) => line.trim() !== '') ?? ''
    names = firstLine.replace(/\r$/, '').split(delimiter)
    if (names[names.length - 1] === '') names = names.slice(0, -1)
    rows = splitDelimitedRows(stdout, SOURCE, delimiter, names.length).slice(1)
  } else {
    names = fields
    rows = splitDelimitedRows(stdout, SOURCE, delimiter, names.length)
    if (rows[0] !== undefined && isHeaderRow(rows[0], names)) rows = rows.slice(1)
  }
  const columns = names.map((name) => name.trim().toLowerCase())
  if (!columns.includes('jobid')) throw new ParseError(SOURCE, 'the field list has no JobID column', names.join(','))
  return rows.map((row) => parseRow(row, names, columns, options))
}

function parseRow(
  row: DelimitedRow,
  names: readonly string[],
  columns: readonly string[],
  zone: SlurmTimeZone,
): SacctRecord {
  // fromEntries: a header cell named `__proto__` stays an ordinary key
  const raw = Object.fromEntries(names.map((name, index) => [name, row.cells[index] ?? '']))
  const byColumn = new Map(columns.map((column, index) => [column, (row.cells[index] ?? '').trim()]))
  // a column that was not requested is null; an empty one is null too
  const text = (column: string): string | null => {
    const value = byColumn.get(column)
    return value === undefined || value === '' ? null : value
  }
  const typed = <T>(column: string, parse: (value: string) => T): T | null => {
    const value = text(column)
    return value === null ? null : withCellContext(SOURCE, row, column, () => parse(value))
  }
  const id = typed('jobid', parseSacctJobId)
  if (id === null) throw new ParseError(SOURCE, `line ${row.lineNumber}: empty JobID`, row.line)
  const nativeState = text('state')
  const reasonText = text('reason')
  const reason = reasonText === null || reasonText === 'None' ? null : reasonText
  const exit = typed('exitcode', parseExitCode)
  const elapsedRaw = typed('elapsedraw', parseWholeNumber)
  return {
    ...id,
    jobIdRaw: text('jobidraw'),
    name: text('jobname'),
    state: nativeState === null ? null : mapSlurmState(nativeState, reason),
    nativeState,
    reason,
    exitCode: exit?.exitCode ?? null,
    signal: exit?.signal ?? null,
    submittedAt: typed('submit', (value) => parseSlurmTimestamp(value, zone)),
    startedAt: typed('start', (value) => parseSlurmTimestamp(value, zone)),
    endedAt: typed('end', (value) => parseSlurmTimestamp(value, zone)),
    elapsedSeconds: elapsedRaw ?? typed('elapsed', parseSlurmDurationSeconds),
    timeLimitSeconds: typed('timelimit', parseSlurmDurationSeconds),
    allocTres: typed('alloctres', parseSlurmTres),
    totalCpuSeconds: typed('totalcpu', parseSlurmDurationSeconds),
    // sacct prints MaxRSS with an exact binary suffix (1294440K); a bare number is bytes
    maxRssMb: typed('maxrss', (value) => parseSlurmMemoryMb(value, 'B')),
    nodeList: text('nodelist') === 'None assigned' ? null : text('nodelist'),
    account: text('account'),
    partition: text('partition'),
    gpuUtilPercent: typed('tresusageintot', parseGpuUtil),
    fields: raw,
  }
}

function parseExitCode(text: string): { exitCode: number; signal: number } {
  // https://slurm.schedmd.com/job_exit_code.html — "exit code:signal"; -2 appears on killed steps
  const match = /^(-?\d+):(-?\d+)$/.exec(text)
  if (match === null) throw new ParseError(SOURCE, 'not an exit code "code:signal"', text)
  return { exitCode: Number(match[1]), signal: Number(match[2]) }
}

/**
 * `gres/gpuutil=N` from a TRESUsageInTot list (`cpu=15:33:58,…,gres/gpuutil=90,mem=1294440K,…`); the
 * other entries hold durations and sizes in several forms and are not read here. null when absent.
 */
export function parseGpuUtil(text: string): number | null {
  for (const entry of text.split(',')) {
    if (!entry.startsWith('gres/gpuutil=')) continue
    const value = entry.slice('gres/gpuutil='.length)
    if (!/^\d+(\.\d+)?$/.test(value)) throw new ParseError(SOURCE, 'gres/gpuutil is not a percentage', entry)
    return Number(value)
  }
  return null
}

function parseWholeNumber(text: string): number {
  if (!/^\d+$/.test(text)) throw new ParseError(SOURCE, 'not a whole number', text)
  return Number(text)
}

interface JobInstance {
  readonly index: number
  readonly allocation: SacctRecord | null
  readonly steps: SacctRecord[]
}

/**
 * Fold sacct records into one observation per job: the allocation row gives the state, times, nodes
 * and allocated TRES; the steps give usage (largest MaxRSS, CPU time when the allocation row has none)
 * and, for a job that did not succeed while its allocation row shows exit 0:0, the exit code and
 * signal of the first step that failed (the batch step first; `extern` never counts).
 *
 * With `--duplicates` a requeued job has one allocation row per run: each step attaches to the
 * allocation row printed before it, and the run submitted last wins. A job with step rows only
 * (no allocation row) yields no observation: its state is unknown, and missing means unknown.
 * @throws ParseError when a node list cannot be expanded.
 */
export function sacctToJobObservations(records: readonly SacctRecord[]): JobObservation[] {
  const instancesByJob = new Map<string, JobInstance[]>()
  records.forEach((record, index) => {
    const instances = instancesByJob.get(record.jobId) ?? []
    instancesByJob.set(record.jobId, instances)
    const current = instances[instances.length - 1]
    if (record.step === null || current === undefined) {
      instances.push({
        index,
        allocation: record.step === null ? record : null,
        steps: record.step === null ? [] : [record],
      })
    } else {
      current.steps.push(record)
    }
  })
  const observations: JobObservation[] = []
  for (const instances of instancesByJob.values()) {
    const latest = pickLatestRun(instances)
    if (latest?.allocation != null) observations.push(toObservation(latest.allocation, latest.steps))
  }
  return observations
}

function pickLatestRun(instances: readonly JobInstance[]): JobInstance | undefined {
  let best: JobInstance | undefined
  for (const instance of instances) {
    if (instance.allocation === null) continue
    const submitted = instance.allocation.submittedAt?.getTime() ?? Number.NEGATIVE_INFINITY
    const bestSubmitted = best?.allocation?.submittedAt?.getTime() ?? Number.NEGATIVE_INFINITY
    if (best === undefined || submitted >= bestSubmitted) best = instance
  }
  return best
}

function toObservation(allocation: SacctRecord, steps: readonly SacctRecord[]): JobObservation {
  const state = allocation.state ?? 'unknown'
  let exitCode = allocation.exitCode
  let signal = allocation.signal
  if (state !== 'succeeded' && (exitCode ?? 0) === 0 && (signal ?? 0) === 0) {
    const failed = orderSteps(steps).find((step) => (step.exitCode ?? 0) !== 0 || (step.signal ?? 0) !== 0)
    if (failed !== undefined) {
      exitCode = failed.exitCode
      signal = failed.signal
    }
  }
  const usage: { -readonly [K in keyof ResourceUsage]: ResourceUsage[K] } = {}
  if (allocation.elapsedSeconds !== null) usage.elapsedSeconds = allocation.elapsedSeconds
  // a job that ran has its CPU time in its steps' records, which slurmdbd may store a moment after
  // the job's own (the allocation row then shows TotalCPU 00:00:00): no step yet, no figure yet
  const stepsRecorded = allocation.startedAt === null || steps.some((step) => step.step !== 'extern')
  const cpuSeconds = allocation.totalCpuSeconds ?? sumOrNull(steps.map((step) => step.totalCpuSeconds))
  if (cpuSeconds !== null && stepsRecorded) usage.cpuSeconds = cpuSeconds
  const rss = [allocation, ...steps].map((record) => record.maxRssMb).filter((mb): mb is number => mb !== null)
  if (rss.length > 0) usage.maxRssMb = Math.max(...rss)
  if (allocation.allocTres !== null) usage.allocTres = allocation.allocTres
  // the steps of a job run one after another or side by side on its GPUs: the busiest says how much
  // of the allocation was used at best (extern holds no work)
  const gpuUtil = [allocation, ...steps.filter((step) => step.step !== 'extern')]
    .map((record) => record.gpuUtilPercent)
    .filter((percent): percent is number => percent !== null)
  if (gpuUtil.length > 0) usage.gpuUtilPercent = Math.max(...gpuUtil)
  return {
    jobId: asNativeJobId(allocation.jobId),
    state,
    nativeState: allocation.nativeState ?? '',
    exitCode,
    signal: signal === null || signal === 0 ? null : signalName(signal),
    reason: allocation.reason,
    startedAt: allocation.startedAt,
    endedAt: allocation.endedAt,
    nodes: allocation.nodeList === null ? [] : expandSlurmHostlist(allocation.nodeList),
    usage,
    ...(allocation.name === null ? {} : { name: allocation.name }),
  }
}

// the batch step runs the script, so its failure is the job's; then numbered/other steps in order
function orderSteps(steps: readonly SacctRecord[]): SacctRecord[] {
  const candidates = steps.filter((step) => step.step !== 'extern')
  return [...candidates.filter((step) => step.step === 'batch'), ...candidates.filter((step) => step.step !== 'batch')]
}

function sumOrNull(values: readonly (number | null)[]): number | null {
  const present = values.filter((value): value is number => value !== null)
  return present.length === 0 ? null : present.reduce((sum, value) => sum + value, 0)
}

// Linux signal numbers (signal(7)); Slurm prints the number only
const SIGNAL_NAMES: Readonly<Record<number, string>> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  4: 'SIGILL',
  6: 'SIGABRT',
  7: 'SIGBUS',
  8: 'SIGFPE',
  9: 'SIGKILL',
  10: 'SIGUSR1',
  11: 'SIGSEGV',
  12: 'SIGUSR2',
  13: 'SIGPIPE',
  14: 'SIGALRM',
  15: 'SIGTERM',
  24: 'SIGXCPU',
  25: 'SIGXFSZ',
}

/** `15` → `SIGTERM`; unknown numbers stay numeric (`SIG40`). */
export function signalName(signal: number): string {
  return SIGNAL_NAMES[signal] ?? `SIG${signal}`
}
