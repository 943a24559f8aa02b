/**
 * The ONE place for what differs between PBS Pro, OpenPBS, Torque and the Slurm Torque wrappers: a
 * table of small strategy objects (resource syntax, job arrays, job-name limit, status and inventory
 * commands, which job controls the clients have, what qstat leaves out), the choice of output format
 * per version, and `detectPbsFlavor` from `qstat --version`. Everything else in adapters/pbs reads
 * these objects instead of asking which flavor it is.
 *
 * The Slurm Torque wrappers (Debian's `slurm-wlm-torque`, see
 * test/adapters/pbs/fixtures/slurm-torque-wrappers/README.md) are a row like the others, detected
 * when qstat names no version at all: `qstat -f` text with bare ids, no qalter -p or qsig, no arrays
 * that qstat could tell apart, no exit status (job scripts record their own), a held job printed as
 * `Q` with `Priority = 0`, and Slurm's start and end times under PBS's `mtime` and `ctime`.
 */
import { RpoError } from '../../src/core/errors.js'
import type { DependencyCondition } from '../../src/scheduler/scheduler-adapter.js'
import { checkArraySpec, evenRange, evenRuns, indexList, type PbsArraySpec } from './pbs-array-indices.js'
import type { PbsExitStatusFamily } from './pbs-states.js'
import { formatPbsSizeMb } from './pbs-units.js'

export const PBS_FLAVOR_NAMES = ['pbspro', 'openpbs', 'torque', 'slurm-torque'] as const
export type PbsFlavorName = (typeof PBS_FLAVOR_NAMES)[number]

/** How `qstat`/`pbsnodes` print: `-F json` (PBS Pro ≥ 19, OpenPBS), `-x` XML (Torque), or `-f`/`-a` text. */
export type PbsOutputFormat = 'json' | 'xml' | 'text'

/** A job's resources as rpo asks for them: `nodes` identical chunks, one per node. */
export interface PbsChunkRequest {
  readonly nodes: number
  readonly cpusPerNode: number
  readonly memoryMbPerNode: number
  readonly gpusPerNode: number
  /** One GPU type, already validated; null for any type. */
  readonly gpuType: string | null
}

/** Site conventions for GPUs; PBS has no built-in GPU type. */
export interface PbsGpuResourceNames {
  /** Name of the GPU count resource in a PBS Pro select chunk. @default 'ngpus' */
  readonly gpuResource?: 'ngpus' | 'gpus'
  /** Custom string resource that carries the GPU type (PBS Pro `:gputype=a100`); on Torque the type is a node property. */
  readonly gpuTypeResource?: string
}

export type { PbsArraySpec } from './pbs-array-indices.js'

/** How a flavor runs a job array: which indices one array can hold, and how its subjobs are spelled. */
export interface PbsArrayDialect {
  /** The array option and its value, e.g. `['-J', '0-9:3%2']`. @throws RpoError('spec-invalid') when `spec` cannot be one array. */
  option(spec: PbsArraySpec): readonly [string, string]
  /**
   * Split ascending distinct indices into the groups that can each be one array (2+ indices each);
   * an index in no group goes out as a job of its own.
   */
  split(indices: readonly number[]): number[][]
  /** The environment variable that holds a subjob's index in its job script. */
  readonly indexVariable: string
  /**
   * The text the server replaces with the subjob index in `-o`/`-e` paths; null where the server
   * appends `-<index>` to the paths instead (Torque), so the script itself must redirect per instance.
   */
  readonly pathIndexToken: string | null
  /** `-W depend` types for a dependency on a whole array (`1234[].server`). */
  readonly dependTypes: Readonly<Record<DependencyCondition, string>>
  /** qhold/qrls accept one subjob's id (Torque); PBS Pro holds and releases whole arrays only. */
  readonly holdSubjobs: boolean
  /** The server makes every array rerunnable, so an array script asks for no `-r n` (PBS Pro). */
  readonly alwaysRerunnable: boolean
  /**
   * The server itself holds the subjobs beyond an array's throttle (and all of them while it creates
   * the array) and prints no hold letter for that: such a subjob (H, no u/o/s/p) waits, it is not held.
   */
  readonly silentThrottleHolds: boolean
  /** The server takes arrays with a `%` throttle, by its version (null: not printed, assume current). */
  supported(version: string | null): boolean
}

export interface PbsFlavor {
  readonly name: PbsFlavorName
  /** The server as a user's message names it, when qstat printed no version. */
  readonly title: string
  /** Which job controls the clients have beyond qdel/qhold/qrls: `qalter -p` and `qsig`. */
  readonly controls: { readonly priority: boolean; readonly signal: boolean }
  /**
   * qstat reports a finished job's exit status. Where it does not, job scripts record their own in
   * the job folder and rpo's deletes leave a marker there (pbs-exit-status-files.ts).
   */
  readonly reportsExitStatus: boolean
  /** A queued job with `Priority = 0` is held: how Slurm holds a job, printed as `Q` by the wrappers. */
  readonly heldAtPriorityZero: boolean
  /** qstat prints Slurm's start and end under `mtime` and `ctime` (pbs-qstat-output.ts). */
  readonly slurmTimeNames: boolean
  /** Which JOB_EXEC_* table the exit statuses follow. */
  readonly exitStatusFamily: PbsExitStatusFamily
  /**
   * The longest job name (`-N`) the server accepts. A submission key that does not fit is carried in
   * `-v RPO_SUBMISSION_KEY=…` beside a short name (see choosePbsJobName).
   */
  readonly maxJobNameLength: number
  /** The formats this flavor's qstat can print, preferred first. */
  readonly outputFormats: readonly PbsOutputFormat[]
  /** `-l` values for the job's resources (without walltime), in directive order. */
  resourceRequests(chunk: PbsChunkRequest, names?: PbsGpuResourceNames): string[]
  /** Job arrays: option, grouping, subjob spelling. */
  readonly arrays: PbsArrayDialect
  /**
   * `qstat` argv (before the job ids) that prints full status, finished jobs included where possible;
   * with `subjobs`, every subjob of an array too (`-t`).
   */
  qstatArgv(format: PbsOutputFormat, options?: { readonly subjobs?: boolean }): readonly string[]
  /** `pbsnodes` argv that prints every node in `format`. */
  pbsnodesArgv(format: PbsOutputFormat): readonly string[]
}

// PBS Pro / OpenPBS: qsub -l select=<chunks> and -l place
//   https://help.altair.com/2024.1.0/PBS%20Professional/PBSReferenceGuide2024.1.pdf (qsub, "Resources")
function pbsSelect(chunk: PbsChunkRequest, names: PbsGpuResourceNames = {}): string[] {
  const parts = [String(chunk.nodes), `ncpus=${chunk.cpusPerNode}`, `mem=${formatPbsSizeMb(chunk.memoryMbPerNode)}`]
  if (chunk.gpusPerNode > 0) parts.push(`${names.gpuResource ?? 'ngpus'}=${chunk.gpusPerNode}`)
  if (chunk.gpuType !== null) parts.push(`${gpuTypeResource(names)}=${chunk.gpuType}`)
  // scatter: one chunk per host, so "per node" means what it says (as Slurm's --nodes does)
  return chunk.nodes > 1 ? [`select=${parts.join(':')}`, 'place=scatter'] : [`select=${parts.join(':')}`]
}

// Torque: -l nodes=<count>:ppn=<n>[:gpus=<n>][:<property>] and -l mem=<total>
//   https://docs.adaptivecomputing.com/torque/6-1-2/adminGuide/Content/topics/torque/2-jobs/requestingRes.htm
function torqueNodes(chunk: PbsChunkRequest, names: PbsGpuResourceNames = {}): string[] {
  const parts = [String(chunk.nodes), `ppn=${chunk.cpusPerNode}`]
  if (chunk.gpusPerNode > 0) parts.push(`gpus=${chunk.gpusPerNode}`)
  if (chunk.gpuType !== null) {
    // Torque node specs take properties, not custom resources: the type is a node property
    gpuTypeResource(names)
    parts.push(chunk.gpuType)
  }
  // Torque's mem is per job, not per node
  return [`nodes=${parts.join(':')}`, `mem=${formatPbsSizeMb(chunk.memoryMbPerNode * chunk.nodes)}`]
}

function gpuTypeResource(names: PbsGpuResourceNames): string {
  if (names.gpuTypeResource === undefined) {
    throw new RpoError(
      'spec-invalid',
      'PBS script: a GPU type was requested but no gpuTypeResource is configured (PBS has no built-in GPU type)',
    )
  }
  return names.gpuTypeResource
}

function majorVersion(version: string | null): number | null {
  const major = version === null ? Number.NaN : Number.parseInt(version, 10)
  return Number.isNaN(major) ? null : major
}

/**
 * The `-W depend` type of a dependency on a plain job (not an array): PBS Pro UG "Job dependencies"
 * and Torque qsub(1) -W depend use the same after* types.
 */
export const PBS_DEPEND_TYPES: Readonly<Record<DependencyCondition, string>> = {
  succeeded: 'afterok',
  finished: 'afterany',
  failed: 'afternotok',
}

/** What every real PBS server (not the Slurm wrappers) does alike. */
const REAL_PBS = {
  controls: { priority: true, signal: true },
  reportsExitStatus: true,
  heldAtPriorityZero: false,
  slurmTimeNames: false,
} as const

const PBSPRO_FAMILY: Omit<PbsFlavor, 'name' | 'title'> = {
  ...REAL_PBS,
  exitStatusFamily: 'pbspro',
  // PBS Pro RG, Job_Name: "up to 236 characters"
  maxJobNameLength: 236,
  outputFormats: ['json', 'text'],
  resourceRequests: pbsSelect,
  // PBS Pro qsub(1B): -J <first>-<last>[:<step>][%<max running subjobs>], 2+ indices, never a list;
  // subjobs are `1234[7].server`, the index is $PBS_ARRAY_INDEX, `^array_index^` in -o/-e is replaced
  // by it (server array_func.c subst_array_index), and dependencies name the whole array (`1234[]`)
  arrays: {
    option: (spec) => {
      const { indices, throttle } = checkArraySpec(spec)
      const range = evenRange(indices)
      if (range === null) {
        throw new RpoError(
          'spec-invalid',
          `PBS script: a PBS Pro job array needs 2+ evenly spaced indices, got ${indices.join(',')}`,
        )
      }
      return ['-J', `${range}${throttle}`]
    },
    split: evenRuns,
    indexVariable: 'PBS_ARRAY_INDEX',
    pathIndexToken: '^array_index^',
    dependTypes: PBS_DEPEND_TYPES,
    // qhold(1B), qrls(1B): "can be used on jobs and job arrays, but not on subjobs"
    holdSubjobs: false,
    // qsub(1B) -J: "Job arrays are always rerunnable"
    alwaysRerunnable: true,
    // the scheduler throttles with max_run_subjobs: the waiting subjobs stay queued
    silentThrottleHolds: false,
    // the `%` throttle (max_run_subjobs) is in OpenPBS's qsub(1B) but not in the 2016 PBS Pro one:
    // before 20 rpo does not rely on it, and the planner keeps maxParallel itself
    supported: (version) => {
      const major = majorVersion(version)
      return major === null || major >= 20
    },
  },
  // -x: finished jobs too (job history), so a job that ended between two polls still has a row
  qstatArgv: (format, options = {}) => [
    ...(format === 'json' ? ['qstat', '-f', '-F', 'json', '-x'] : ['qstat', '-f', '-x']),
    ...(options.subjobs === true ? ['-t'] : []),
  ],
  pbsnodesArgv: (format) => (format === 'json' ? ['pbsnodes', '-av', '-F', 'json'] : ['pbsnodes', '-av']),
}

// Torque qsub(1): -t <list of ids and ranges>[%<slot limit>]; subjobs are `1234[7].server`, the
// index is $PBS_ARRAYID; the server appends `-<index>` to the -o/-e paths and the job name
// (server job_func.c job_clone), and a dependency on an array is `afterokarray:1234[]`
const TORQUE_ARRAYS: PbsArrayDialect = {
  option: (spec) => {
    const { indices, throttle } = checkArraySpec(spec)
    return ['-t', `${indexList(indices)}${throttle}`]
  },
  split: (indices) => (indices.length >= 2 ? [[...indices]] : []),
  indexVariable: 'PBS_ARRAYID',
  pathIndexToken: null,
  dependTypes: { succeeded: 'afterokarray', finished: 'afteranyarray', failed: 'afternotokarray' },
  // subjobs are whole jobs there (job_clone): qhold/qrls take their ids
  holdSubjobs: true,
  alwaysRerunnable: false,
  // job_func.c job_clone_wt holds subjobs with HOLD_a while cloning and HOLD_l beyond the slot
  // limit; attr_fn_hold.c encode_hold prints only s, o and u
  silentThrottleHolds: true,
  supported: () => true,
}

// Torque's -x is XML, not history; finished jobs stay visible for keep_completed seconds
function torqueQstatArgv(format: PbsOutputFormat, options: { readonly subjobs?: boolean } = {}): readonly string[] {
  return [...(format === 'xml' ? ['qstat', '-x'] : ['qstat', '-f']), ...(options.subjobs === true ? ['-t'] : [])]
}

function torquePbsnodesArgv(format: PbsOutputFormat): readonly string[] {
  return format === 'xml' ? ['pbsnodes', '-x'] : ['pbsnodes', '-a']
}

/** The flavor table. */
export const PBS_FLAVORS: Readonly<Record<PbsFlavorName, PbsFlavor>> = {
  pbspro: { name: 'pbspro', title: 'PBS Pro', ...PBSPRO_FAMILY },
  // OpenPBS is PBS Pro's open-source line (20.0+): same commands, same output
  openpbs: { name: 'openpbs', title: 'OpenPBS', ...PBSPRO_FAMILY },
  torque: {
    name: 'torque',
    title: 'Torque',
    ...REAL_PBS,
    exitStatusFamily: 'torque',
    // older Torque releases limit -N to 15 characters (the POSIX batch limit); 15 is the safe default
    maxJobNameLength: 15,
    outputFormats: ['xml', 'text'],
    resourceRequests: torqueNodes,
    arrays: TORQUE_ARRAYS,
    qstatArgv: torqueQstatArgv,
    pbsnodesArgv: torquePbsnodesArgv,
  },
  'slurm-torque': {
    name: 'slurm-torque',
    title: 'the Slurm Torque wrappers (qstat names no version)',
    // qalter (-p) and qsig are not among the wrappers; qrerun is there but broken
    controls: { priority: false, signal: false },
    reportsExitStatus: false,
    heldAtPriorityZero: true,
    slurmTimeNames: true,
    exitStatusFamily: 'torque',
    // qsub -N becomes sbatch --job-name: the submission key itself fits (lookups read the name, as no
    // Variable_List is printed)
    maxJobNameLength: 200,
    outputFormats: ['text'],
    resourceRequests: torqueNodes,
    // their qsub takes -t (it becomes sbatch --array), but their qstat prints the array's tasks as
    // plain Slurm job ids without an index, so no instance could be told apart or observed
    arrays: { ...TORQUE_ARRAYS, supported: () => false },
    qstatArgv: torqueQstatArgv,
    pbsnodesArgv: torquePbsnodesArgv,
  },
}

/** Which flavor, which version, and the format rpo should ask for. */
export interface PbsDialect {
  readonly flavor: PbsFlavorName
  /** As printed, e.g. `19.1.3`, `2022.1.1.20220926110806`, `6.1.3`; null when not printed. */
  readonly version: string | null
  readonly format: PbsOutputFormat
}

/**
 * The dialect of a configured flavor: PBS Pro/OpenPBS ≥ 19 (and Altair's year-numbered releases)
 * print JSON, older PBS Pro text; Torque prints XML (`qstat -x` since 1.1.0p2).
 */
export function pbsDialectFor(flavor: PbsFlavorName, version: string | null = null): PbsDialect {
  if (flavor === 'torque') return { flavor, version, format: 'xml' }
  if (flavor === 'slurm-torque') return { flavor, version, format: 'text' }
  const major = version === null ? null : Number.parseInt(version, 10)
  // qstat -F json exists from PBS Pro 19 (the swrap MetaCentrum 19.0.0 capture); unknown version: assume current
  const format = major === null || Number.isNaN(major) || major >= 19 ? 'json' : 'text'
  return { flavor, version, format }
}

const PBS_VERSION = /^\s*pbs_version\s*=\s*(\d[\w.-]*)\s*$/m
const TORQUE_VERSION = /^\s*version:\s*(\d[\w.-]*)\s*$/im

/**
 * The flavor behind a server, from the stdout (and stderr) of `qstat --version`:
 * `pbs_version = 19.1.3` → PBS Pro family (Altair's year-numbered 2020+ releases → pbspro, 20–99 → openpbs,
 * older → pbspro), `Version: 6.1.3` → torque. Anything else — notably the Slurm Torque wrappers, which
 * answer `Unknown option: version` and a usage text — is the `slurm-torque` row: Torque-compatible
 * text without the controls and the exit statuses that a real server has.
 */
export function detectPbsFlavor(qstatVersionOutput: string): PbsDialect {
  const pbs = PBS_VERSION.exec(qstatVersionOutput)?.[1]
  if (pbs !== undefined) {
    const major = Number.parseInt(pbs, 10)
    const flavor: PbsFlavorName = major >= 2000 ? 'pbspro' : major >= 20 ? 'openpbs' : 'pbspro'
    return pbsDialectFor(flavor, pbs)
  }
  const torque = TORQUE_VERSION.exec(qstatVersionOutput)?.[1]
  if (torque !== undefined) return pbsDialectFor('torque', torque)
  return pbsDialectFor('slurm-torque')
}

/** The job name to submit under, and whether the key must travel in `-v RPO_SUBMISSION_KEY`. */
export interface PbsJobName {
  readonly name: string
  readonly keyInVariable: boolean
}

/** The environment variable that carries the submission key when the job name cannot. */
export const PBS_SUBMISSION_KEY_VARIABLE = 'RPO_SUBMISSION_KEY'

// PBS Pro and older Torque want a job name that starts with a letter
const PBS_JOB_NAME = /^[A-Za-z][A-Za-z0-9._-]*$/
const SHORT_NAME_LENGTH = 12

/**
 * The submission key itself when it is a valid name of at most `maxLength` characters; otherwise a
 * short deterministic name `rpo-<8 hex>` (FNV-1a of the key), with the key carried in the job's
 * Variable_List. The variable, not the short name, is what a lookup by key matches.
 * @throws RpoError('spec-invalid') when `maxLength` cannot hold even the short name.
 */
export function choosePbsJobName(submissionKey: string, maxLength: number): PbsJobName {
  if (submissionKey.length <= maxLength && PBS_JOB_NAME.test(submissionKey)) {
    return { name: submissionKey, keyInVariable: false }
  }
  if (!Number.isInteger(maxLength) || maxLength < SHORT_NAME_LENGTH) {
    throw new RpoError('spec-invalid', `PBS script: a job-name limit below ${SHORT_NAME_LENGTH} cannot be used`)
  }
  return { name: `rpo-${fnv1a32(submissionKey)}`, keyInVariable: true }
}

function fnv1a32(text: string): string {
  let hash = 0x811c9dc5
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash.toString(16).padStart(8, '0')
}
