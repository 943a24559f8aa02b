/**
 * argv builders for the Slurm commands rpo runs, and the parser of sbatch's answer. Builders only
 * build: the adapter passes the argv to `Transport.exec`, which quotes each word once
 * (`quoteShellWord`). Every id and name is validated here, so nothing unexpected reaches a command line.
 */
import { ParseError, RpoError } from '../../src/core/errors.js'
import { asNativeJobId, type NativeJobId, type SubmissionKey } from '../../src/scheduler/scheduler-adapter.js'
import { isSafeName } from '../../src/script/shell-quote.js'
import { SACCT_DELIMITER, SACCT_FIELDS } from './sacct-parser.js'
import { buildSinfoFormat } from './sinfo-parser.js'
import { buildSqueueFormat } from './squeue-parser.js'

/**
 * Prefix for squeue/sacct, whose output rpo parses. A user's SLURM_TIME_FORMAT (e.g. `relative`, set
 * in a shell profile that an SSH command sources) turns timestamps into forms without a year
 * (https://slurm.schedmd.com/sacct.html#OPT_SLURM_TIME_FORMAT); SLURM_BITSTR_LEN=0 stops array task
 * expressions like `123_[1-3,7,…]` from being cut at 64 bytes (https://slurm.schedmd.com/squeue.html#OPT_SLURM_BITSTR_LEN).
 */
export const SLURM_OUTPUT_ENV = ['env', 'SLURM_TIME_FORMAT=standard', 'SLURM_BITSTR_LEN=0'] as const

// a job, an array task, pending array tasks or a het-job component; never a step or a free string
const SLURM_JOB_ID = /^\d+(?:_(?:\d+|\[[0-9,%-]+\]))?(?:\+\d+)?$/

/**
 * Check that `id` is a Slurm job id (`123`, `123_4`, `123_[1-3]`, `123+0`).
 * @throws RpoError('internal') otherwise: ids come from sbatch/squeue/sacct, so a bad one is a bug.
 */
export function assertSlurmJobId(id: string): NativeJobId {
  if (!SLURM_JOB_ID.test(id)) throw new RpoError('internal', `not a Slurm job id: ${JSON.stringify(id)}`)
  return asNativeJobId(id)
}

// an empty --jobs list would make squeue/sacct/scancel act on every job of the user
function jobList(command: string, ids: readonly NativeJobId[]): string {
  if (ids.length === 0) throw new RpoError('internal', `${command} needs at least one job id`)
  return ids.map(assertSlurmJobId).join(',')
}

function nameList(command: string, keys: readonly SubmissionKey[]): string {
  if (keys.length === 0) throw new RpoError('internal', `${command} needs at least one submission key`)
  for (const key of keys) {
    if (!isSafeName(key)) throw new RpoError('internal', `not a safe job name: ${JSON.stringify(key)}`)
  }
  return keys.join(',')
}

export interface SbatchArgvOptions {
  /** Path of the script on the cluster; when absent sbatch reads the script from stdin. */
  readonly scriptPath?: string
  /** Submit held (`--hold`): the job waits for `scontrol release`. @default false */
  readonly hold?: boolean
}

/**
 * `sbatch --parsable [--hold] [script]` — prints `<jobid>` or `<jobid>;<cluster>`. Without a path the
 * script comes on stdin (https://slurm.schedmd.com/sbatch.html: "If no file name is specified, sbatch
 * will read the script from standard input").
 */
export function buildSbatchArgv(options: SbatchArgvOptions = {}): readonly string[] {
  const argv = ['sbatch', '--parsable']
  if (options.hold === true) argv.push('--hold')
  if (options.scriptPath !== undefined) {
    // a path starting with '-' would be read as an option
    if (options.scriptPath === '' || options.scriptPath.startsWith('-')) {
      throw new RpoError('internal', `not a script path: ${JSON.stringify(options.scriptPath)}`)
    }
    argv.push(options.scriptPath)
  }
  return argv
}

/** What `sbatch --parsable` printed. */
export interface SbatchResult {
  readonly jobId: NativeJobId
  /** Set when the submission went to a named cluster (`-M`/federation). */
  readonly cluster: string | null
}

/**
 * Parse `sbatch --parsable` stdout: `123` or `123;cluster`. Lines before the last one (site
 * job_submit plugins sometimes print notices) are ignored; the last non-blank line must be the id.
 * @throws ParseError when it is not.
 */
export function parseSbatchParsable(stdout: string): SbatchResult {
  const lines = stdout.split('\n').map((line) => line.trim())
  const last = lines.filter((line) => line !== '').at(-1) ?? ''
  const match = /^(\d+)(?:;([A-Za-z0-9._-]+))?$/.exec(last)
  if (match?.[1] === undefined) throw new ParseError('sbatch', 'no job id in `sbatch --parsable` output', stdout)
  return { jobId: asNativeJobId(match[1]), cluster: match[2] ?? null }
}

/**
 * `squeue` for the given jobs in every state, one line per job in SQUEUE_FORMAT. When one of the ids
 * is unknown to slurmctld squeue may exit 1 ("Invalid job id specified"; see isSqueueInvalidJobIdError).
 */
export function buildSqueueArgv(jobIds: readonly NativeJobId[]): readonly string[] {
  return [...squeueBase(), `--jobs=${jobList('squeue', jobIds)}`]
}

/** `squeue --name=<key>,…`: find live jobs by the submission key in their job name. */
export function buildSqueueByNameArgv(keys: readonly SubmissionKey[]): readonly string[] {
  return [...squeueBase(), `--name=${nameList('squeue', keys)}`]
}

function squeueBase(): string[] {
  // --array: one line per array task, even while pending (squeue folds pending tasks into 123_[1-9])
  return [...SLURM_OUTPUT_ENV, 'squeue', '--noheader', '--array', '--states=all', `--format=${buildSqueueFormat()}`]
}

/**
 * `sacct` for the given jobs with SACCT_FIELDS, steps included. No `--duplicates`: without it sacct
 * prints only the latest run of a requeued job, which is the one to observe
 * (https://slurm.schedmd.com/sacct.html#OPT_duplicates). No `--starttime`: with `--jobs` the window
 * starts at Unix epoch 0 (https://slurm.schedmd.com/sacct.html#OPT_starttime).
 */
export function buildSacctArgv(jobIds: readonly NativeJobId[]): readonly string[] {
  return [...sacctBase(), `--jobs=${jobList('sacct', jobIds)}`]
}

/**
 * `sacct --name=<key>,… --starttime=now-<days>days --allocations`: find jobs (including finished
 * ones) by submission key. Without `--jobs` sacct only looks at jobs since midnight, hence the window.
 */
export function buildSacctByNameArgv(
  keys: readonly SubmissionKey[],
  options: { lookbackDays: number },
): readonly string[] {
  if (!Number.isInteger(options.lookbackDays) || options.lookbackDays < 1) {
    throw new RpoError('internal', `lookbackDays must be a positive integer, got ${options.lookbackDays}`)
  }
  return [
    ...sacctBase(),
    '--allocations',
    `--starttime=now-${options.lookbackDays}days`,
    `--name=${nameList('sacct', keys)}`,
  ]
}

function sacctBase(): string[] {
  return [
    ...SLURM_OUTPUT_ENV,
    'sacct',
    '--parsable2',
    '--noheader',
    `--delimiter=${SACCT_DELIMITER}`,
    `--format=${SACCT_FIELDS.join(',')}`,
  ]
}

/** The scontrol job actions rpo uses; each takes a comma-separated job list in one call. */
export type ScontrolJobAction = 'hold' | 'release' | 'requeue' | 'requeuehold'

/**
 * `scontrol <action> <id>,<id>,…` (https://slurm.schedmd.com/scontrol.html#OPT_hold):
 * hold/release a pending job, requeue a running one (`requeuehold` requeues it held).
 */
export function buildScontrolArgv(action: ScontrolJobAction, jobIds: readonly NativeJobId[]): readonly string[] {
  return ['scontrol', action, jobList(`scontrol ${action}`, jobIds)]
}

/**
 * `scontrol update JobId=<id>,… Nice=<n>`: lower (positive n) or raise (negative n, operators only) a
 * job's priority. https://slurm.schedmd.com/scontrol.html#OPT_Nice
 *
 * Do not renice a held job: a hold is priority 0, and the update recomputes the priority, which
 * releases the job (seen on Slurm 22.05: a `--hold` job started right after `Nice=10`).
 */
export function buildScontrolNiceArgv(jobIds: readonly NativeJobId[], nice: number): readonly string[] {
  // Slurm's documented range is ±(2^31 - 3)
  if (!Number.isInteger(nice) || Math.abs(nice) > 2_147_483_645) {
    throw new RpoError('internal', `nice must be an integer within ±2147483645, got ${nice}`)
  }
  return ['scontrol', 'update', `JobId=${jobList('scontrol update', jobIds)}`, `Nice=${nice}`]
}

/** `scancel <id> <id> …`. */
export function buildScancelArgv(jobIds: readonly NativeJobId[]): readonly string[] {
  jobList('scancel', jobIds)
  return ['scancel', ...jobIds]
}

/** Which processes of a job a signal reaches (https://slurm.schedmd.com/scancel.html#OPT_batch). */
export type ScancelSignalTarget = 'batch' | 'steps' | 'all'

/**
 * `scancel --signal=<SIG> [--batch|--full] <id> …`. `batch` signals only the batch shell (where an
 * rpo script's command runs), `steps` only srun steps (scancel's default), `all` both (`--full`).
 */
export function buildScancelSignalArgv(
  jobIds: readonly NativeJobId[],
  signal: string,
  target: ScancelSignalTarget = 'batch',
): readonly string[] {
  if (!/^(?:SIG)?[A-Z0-9]{1,10}$/.test(signal))
    throw new RpoError('internal', `not a signal name: ${JSON.stringify(signal)}`)
  jobList('scancel', jobIds)
  const scope = target === 'batch' ? ['--batch'] : target === 'all' ? ['--full'] : []
  return ['scancel', `--signal=${signal}`, ...scope, ...jobIds]
}

/** `sinfo --noheader --Node --format=<SINFO_FORMAT>`: one line per node and partition. */
export function buildSinfoArgv(): readonly string[] {
  return ['sinfo', '--noheader', '--Node', `--format=${buildSinfoFormat()}`]
}

/** `sinfo --version` (see parseSlurmVersion). */
export function buildSinfoVersionArgv(): readonly string[] {
  return ['sinfo', '--version']
}
