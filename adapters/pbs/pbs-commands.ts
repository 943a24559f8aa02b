/**
 * argv builders for the PBS Pro / OpenPBS / Torque commands rpo runs, and the parser of qsub's answer.
 * Builders only build: the adapter passes the argv to the transport, which quotes each word once
 * (`quoteShellWord`). Every id is validated here, and no list may be empty — `qdel` or `qstat` without
 * ids would act on (or print) every job.
 */
import { ParseError, RpoError } from '../../src/core/errors.js'
import { asNativeJobId, type DependencyCondition, type NativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import { PBS_DEPEND_TYPES, PBS_FLAVORS, type PbsDialect, type PbsFlavorName } from './pbs-flavors.js'
import { PBS_JOB_ID } from './pbs-job-record.js'
import { pbsArrayParentId } from './pbs-subjobs.js'

/**
 * Check that `id` is a PBS job id (`123`, `123.server`, `123[].server`, `123[4].server`).
 * @throws RpoError('internal') otherwise: ids come from qsub/qstat, so a bad one is a bug.
 */
export function assertPbsJobId(id: string): NativeJobId {
  if (!PBS_JOB_ID.test(id)) throw new RpoError('internal', `not a PBS job id: ${JSON.stringify(id)}`)
  return asNativeJobId(id)
}

function jobIds(command: string, ids: readonly string[]): NativeJobId[] {
  if (ids.length === 0) throw new RpoError('internal', `${command} needs at least one job id`)
  return ids.map(assertPbsJobId)
}

/** An upstream job by id and the condition it must meet. */
export interface PbsDependency {
  readonly jobId: string
  readonly condition: DependencyCondition
}

/** One `-W depend` term: the type and the id (or the shell variable that will hold it). */
export interface PbsDependTerm {
  readonly type: string
  readonly id: string
}

/**
 * The `-W depend` term for an upstream: a plain job as is; a subjob or array as its whole array
 * (`1234[7].srv` → `1234[].srv`) with the flavor's array type, because neither PBS Pro nor Torque
 * can wait for one subjob. A dependent of some instances thus waits for all of its array: correct,
 * but stricter when it needs only some of them (see pbs-array.ts).
 * @throws RpoError('internal') for a malformed id.
 */
export function pbsDependTerm(
  jobId: string,
  condition: DependencyCondition,
  flavor: PbsFlavorName = 'pbspro',
): PbsDependTerm {
  const parent = pbsArrayParentId(assertPbsJobId(jobId))
  return parent === null
    ? { type: PBS_DEPEND_TYPES[condition], id: jobId }
    : { type: PBS_FLAVORS[flavor].arrays.dependTypes[condition], id: parent }
}

/** `afterok:1.srv:2.srv,afterany:3.srv`: ids of one type joined by ':', types by ','; duplicates once. */
export function joinPbsDependTerms(terms: readonly PbsDependTerm[]): string | null {
  const byType = new Map<string, Set<string>>()
  for (const { type, id } of terms) byType.set(type, (byType.get(type) ?? new Set()).add(id))
  return byType.size === 0 ? null : [...byType].map(([type, ids]) => [type, ...ids].join(':')).join(',')
}

/**
 * The value of `-W depend=`: `afterok:1.srv:2.srv,afterany:3.srv` (ids of one type joined by ':',
 * types by ','; all must hold), upstreams in an array as their array (pbsDependTerm). Null when
 * there is nothing to wait for.
 * @throws RpoError('internal') for a malformed id.
 */
export function buildPbsDependSpec(
  dependencies: readonly PbsDependency[],
  flavor: PbsFlavorName = 'pbspro',
): string | null {
  const order = ['succeeded', 'finished', 'failed'] as const
  const sorted = [...dependencies].sort((a, b) => order.indexOf(a.condition) - order.indexOf(b.condition))
  return joinPbsDependTerms(sorted.map((d) => pbsDependTerm(d.jobId, d.condition, flavor)))
}

export interface QsubArgvOptions {
  /** Submit held (`-h`): the job waits for qrls. @default false */
  readonly hold?: boolean
  /**
   * Dependencies on the command line (`-W depend=…`), for upstreams whose ids became known after the
   * script was rendered (a batch submitted in one round trip); the script's own `#PBS -W depend` is
   * overridden by the command line.
   */
  readonly dependencies?: readonly PbsDependency[]
}

/** `qsub [-h] [-W depend=…] <script>`: prints the new job's id (`1234.server`; bare `1234` from the Slurm wrappers). */
export function buildQsubArgv(scriptPath: string, options: QsubArgvOptions = {}): readonly string[] {
  // a path starting with '-' would be read as an option
  if (scriptPath === '' || scriptPath.startsWith('-') || /[\n\r\0]/.test(scriptPath)) {
    throw new RpoError('internal', `not a script path: ${JSON.stringify(scriptPath)}`)
  }
  const argv = ['qsub']
  if (options.hold === true) argv.push('-h')
  const depend = buildPbsDependSpec(options.dependencies ?? [])
  if (depend !== null) argv.push('-W', `depend=${depend}`)
  argv.push(scriptPath)
  return argv
}

/**
 * Parse qsub's stdout: the last non-blank line is the job id (site submit filters may print notices
 * before it). PBS Pro and Torque print `1234.server[.domain]`, arrays `1234[].server`; the Slurm Torque
 * wrappers print the bare Slurm id.
 * @throws ParseError when the last line is not a job id.
 */
export function parseQsubOutput(stdout: string): NativeJobId {
  const last =
    stdout
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .at(-1) ?? ''
  if (!PBS_JOB_ID.test(last)) throw new ParseError('qsub', 'no job id in the qsub answer', stdout)
  return asNativeJobId(last)
}

/**
 * Full status of the given jobs in the dialect's format: `qstat -f -F json -x <ids>` (PBS Pro/OpenPBS),
 * `qstat -x <ids>` (Torque XML), `qstat -f -x <ids>` (older PBS Pro) or `qstat -f <ids>` (Torque text,
 * the Slurm wrappers). An id the server no longer knows makes qstat print "Unknown Job Id" on stderr
 * and exit non-zero while still printing the others: the caller parses stdout either way, and a
 * missing job is unknown, not finished. With `subjobs` (`-t`), an array id lists every subjob too.
 */
export function buildQstatArgv(
  dialect: PbsDialect,
  ids: readonly string[],
  options: { readonly subjobs?: boolean } = {},
): readonly string[] {
  return [...PBS_FLAVORS[dialect.flavor].qstatArgv(dialect.format, options), ...jobIds('qstat', ids)]
}

/**
 * Full status of every job the server shows (history included on PBS Pro), to find jobs by submission
 * key: PBS cannot select by name or variable, so the caller filters with findPbsJobsBySubmissionKey.
 * With `subjobs` (`-t`) the subjobs of arrays are listed one by one.
 * `-u <user>` is not added: with `-f -F json` OpenPBS mixes a text table into the JSON
 * (openpbs/openpbs#2675), and Torque ignores it for `-f`. On a large server the answer is large.
 */
export function buildQstatAllArgv(
  dialect: PbsDialect,
  options: { readonly subjobs?: boolean } = {},
): readonly string[] {
  return PBS_FLAVORS[dialect.flavor].qstatArgv(dialect.format, options)
}

/** `qhold <id> …`: hold queued jobs (a running job is checkpointed and held where the site supports it). */
export function buildQholdArgv(ids: readonly string[]): readonly string[] {
  return ['qhold', ...jobIds('qhold', ids)]
}

/** `qrls <id> …`: release held jobs. */
export function buildQrlsArgv(ids: readonly string[]): readonly string[] {
  return ['qrls', ...jobIds('qrls', ids)]
}

/** `qdel <id> …`. */
export function buildQdelArgv(ids: readonly string[]): readonly string[] {
  return ['qdel', ...jobIds('qdel', ids)]
}

/**
 * `qsig -s <SIGNAL> <id> …`: signal running jobs (their session leader, i.e. the batch shell — the
 * command itself in an rpo script, which `exec`s it). Names with or without `SIG`, or numbers.
 * Not provided by the Slurm Torque wrappers.
 */
export function buildQsigArgv(ids: readonly string[], signal: string): readonly string[] {
  if (!/^(?:SIG)?[A-Z][A-Z0-9]{0,9}$|^\d{1,2}$/.test(signal)) {
    throw new RpoError('internal', `not a signal name: ${JSON.stringify(signal)}`)
  }
  return ['qsig', '-s', signal, ...jobIds('qsig', ids)]
}

/**
 * `qalter -p <priority> <id> …`: the job's priority within its queue, -1024 (lowest) … 1023.
 * https://help.altair.com/2024.1.0/PBS%20Professional/PBSReferenceGuide2024.1.pdf (qalter -p)
 * Not supported by the Slurm Torque wrappers' qalter (only -N, -r, -o).
 */
export function buildQalterPriorityArgv(ids: readonly string[], priority: number): readonly string[] {
  if (!Number.isInteger(priority) || priority < -1024 || priority > 1023) {
    throw new RpoError('internal', `a PBS priority must be an integer in -1024…1023, got ${priority}`)
  }
  return ['qalter', '-p', String(priority), ...jobIds('qalter', ids)]
}

/** Every node in the dialect's format: `pbsnodes -av -F json`, `pbsnodes -x`, `pbsnodes -av` or `pbsnodes -a`. */
export function buildPbsnodesArgv(dialect: PbsDialect): readonly string[] {
  return PBS_FLAVORS[dialect.flavor].pbsnodesArgv(dialect.format)
}

/** `qstat --version`, for detectPbsFlavor (parse stdout and stderr together; the exit code does not matter). */
export function buildQstatVersionArgv(): readonly string[] {
  return ['qstat', '--version']
}
