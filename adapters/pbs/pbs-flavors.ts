/**
 * The ONE place for what differs between PBS Pro, OpenPBS and Torque: a table of small strategy
 * objects (resource syntax, array option, job-name limit, status and inventory commands), the choice of
 * output format per version, and `detectPbsFlavor` from `qstat --version`. Everything else in
 * adapters/pbs reads these objects instead of asking which flavor it is.
 */
import { RpoError } from '../../src/core/errors.js'
import type { PbsExitStatusFamily } from './pbs-states.js'
import { formatPbsSizeMb } from './pbs-units.js'

export const PBS_FLAVOR_NAMES = ['pbspro', 'openpbs', 'torque'] as const
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

/** An array request: indices `first`..`last`, at most `maxConcurrent` running at once. */
export interface PbsArraySpec {
  readonly first: number
  readonly last: number
  readonly maxConcurrent?: number
}

export interface PbsFlavor {
  readonly name: PbsFlavorName
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
  /** The array option and its value, e.g. `['-J', '0-9%2']`. */
  arrayOption(spec: PbsArraySpec): readonly [string, string]
  /** `qstat` argv (before the job ids) that prints full status, finished jobs included where possible. */
  qstatArgv(format: PbsOutputFormat): readonly string[]
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

function arraySpec(spec: PbsArraySpec): string {
  const { first, last, maxConcurrent } = spec
  if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last < first) {
    throw new RpoError('spec-invalid', `PBS script: not an array range ${first}-${last}`)
  }
  if (maxConcurrent !== undefined && (!Number.isInteger(maxConcurrent) || maxConcurrent < 1)) {
    throw new RpoError('spec-invalid', `PBS script: array concurrency must be a positive integer, got ${maxConcurrent}`)
  }
  return `${first}-${last}${maxConcurrent === undefined ? '' : `%${maxConcurrent}`}`
}

const PBSPRO_FAMILY: Omit<PbsFlavor, 'name'> = {
  exitStatusFamily: 'pbspro',
  // PBS Pro RG, Job_Name: "up to 236 characters"
  maxJobNameLength: 236,
  outputFormats: ['json', 'text'],
  resourceRequests: pbsSelect,
  // PBS Pro: -J <start>-<end>[:<step>][%<max running>]; a range of one index is refused by qsub
  arrayOption: (spec) => {
    if (spec.first === spec.last) throw new RpoError('spec-invalid', 'PBS script: a PBS Pro job array needs 2+ indices')
    return ['-J', arraySpec(spec)]
  },
  // -x: finished jobs too (job history), so a job that ended between two polls still has a row
  qstatArgv: (format) => (format === 'json' ? ['qstat', '-f', '-F', 'json', '-x'] : ['qstat', '-f', '-x']),
  pbsnodesArgv: (format) => (format === 'json' ? ['pbsnodes', '-av', '-F', 'json'] : ['pbsnodes', '-av']),
}

/** The flavor table. */
export const PBS_FLAVORS: Readonly<Record<PbsFlavorName, PbsFlavor>> = {
  pbspro: { name: 'pbspro', ...PBSPRO_FAMILY },
  // OpenPBS is PBS Pro's open-source line (20.0+): same commands, same output
  openpbs: { name: 'openpbs', ...PBSPRO_FAMILY },
  torque: {
    name: 'torque',
    exitStatusFamily: 'torque',
    // older Torque releases limit -N to 15 characters (the POSIX batch limit); 15 is the safe default
    maxJobNameLength: 15,
    outputFormats: ['xml', 'text'],
    resourceRequests: torqueNodes,
    arrayOption: (spec) => ['-t', arraySpec(spec)],
    // Torque's -x is XML, not history; finished jobs stay visible for keep_completed seconds
    qstatArgv: (format) => (format === 'xml' ? ['qstat', '-x'] : ['qstat', '-f']),
    pbsnodesArgv: (format) => (format === 'xml' ? ['pbsnodes', '-x'] : ['pbsnodes', '-a']),
  },
}

/** Which flavor, which version, and the format rpo should ask for. */
export interface PbsDialect {
  readonly flavor: PbsFlavorName
  /** As printed, e.g. `19.1.3`, `2022.1.1.20220926110806`, `6.1.3`; null when not printed. */
  readonly version: string | null
  readonly format: PbsOutputFormat
  /**
   * False when `qstat --version` named no PBS or Torque version — e.g. the Slurm Torque wrappers, whose
   * qstat answers "Unknown option: version". Such a server is treated as Torque-compatible text.
   */
  readonly recognized: boolean
}

/**
 * The dialect of a configured flavor: PBS Pro/OpenPBS ≥ 19 (and Altair's year-numbered releases)
 * print JSON, older PBS Pro text; Torque prints XML (`qstat -x` since 1.1.0p2).
 */
export function pbsDialectFor(flavor: PbsFlavorName, version: string | null = null): PbsDialect {
  if (flavor === 'torque') return { flavor, version, format: 'xml', recognized: true }
  const major = version === null ? null : Number.parseInt(version, 10)
  // qstat -F json exists from PBS Pro 19 (the swrap MetaCentrum 19.0.0 capture); unknown version: assume current
  const format = major === null || Number.isNaN(major) || major >= 19 ? 'json' : 'text'
  return { flavor, version, format, recognized: true }
}

const PBS_VERSION = /^\s*pbs_version\s*=\s*(\d[\w.-]*)\s*$/m
const TORQUE_VERSION = /^\s*version:\s*(\d[\w.-]*)\s*$/im

/**
 * The flavor behind a server, from the stdout (and stderr) of `qstat --version`:
 * `pbs_version = 19.1.3` → PBS Pro family (Altair's year-numbered 2020+ releases → pbspro, 20–99 → openpbs,
 * older → pbspro), `Version: 6.1.3` → torque. Anything else — notably the Slurm Torque wrappers, which
 * answer `Unknown option: version` and a usage text — is treated as Torque-compatible text output with
 * `recognized: false`, so the caller can say so instead of trusting JSON/XML it will not get.
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
  return { flavor: 'torque', version: null, format: 'text', recognized: false }
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
