/**
 * The typed job record every qstat parser (JSON, XML, text) produces, built from the job's attributes
 * as PBS names them (`Resource_List.walltime`, `resources_used.mem`, …), and its mapping to rpo's
 * `JobObservation`. Pure: the parsers own the syntax, this file owns the meaning.
 */
import { ParseError } from '../../src/core/errors.js'
import {
  asNativeJobId,
  type JobObservation,
  type NativeJobId,
  type SubmissionKey,
} from '../../src/scheduler/scheduler-adapter.js'
import { PBS_SUBMISSION_KEY_VARIABLE } from './pbs-flavors.js'
import { isPbsFinishedState, mapPbsState, type PbsExitStatusFamily } from './pbs-states.js'
import { type PbsTimeZone, parsePbsDurationSeconds, parsePbsSizeMb, parsePbsTimestamp } from './pbs-units.js'

/** A PBS/Torque job id as qstat prints it: `123`, `123.server`, `123[].server`, `123[4].server.domain`. */
export const PBS_JOB_ID = /^\d+(\[\d*\])?(\.[A-Za-z0-9._-]+)?$/

/** Options every qstat parser takes. */
export type PbsParseOptions = PbsTimeZone

/** One job as qstat reported it. Absent attributes are null; every attribute is also kept as printed. */
export interface PbsJobRecord {
  /** The full id as printed (`123.server`): rpo's NativeJobId for PBS. */
  readonly jobId: string
  readonly name: string | null
  /** RPO_SUBMISSION_KEY from Variable_List, set when the job name had to be shortened. */
  readonly submissionKey: string | null
  readonly owner: string | null
  /** The `job_state` letter. */
  readonly nativeState: string
  readonly substate: number | null
  readonly queue: string | null
  /** Account_Name, else the PBS Pro project (unless it is the default `_pbs_project_default`). */
  readonly account: string | null
  /** Exit_status (PBS Pro) / exit_status (Torque). */
  readonly exitStatus: number | null
  readonly holdTypes: string | null
  readonly depend: string | null
  readonly comment: string | null
  /** ctime: when the job was created. */
  readonly createdAt: Date | null
  /** stime (PBS Pro) / start_time (Torque). */
  readonly startedAt: Date | null
  /** obittime (PBS Pro) / comp_time (Torque): set once the job has ended. */
  readonly endedAt: Date | null
  /** mtime: last modification. */
  readonly modifiedAt: Date | null
  readonly walltimeLimitSeconds: number | null
  /** Hosts from exec_host, in order, each once. */
  readonly execHosts: readonly string[]
  /** Whose exit-status table applies, from the attribute spelling (Exit_status vs exit_status); null if unknown. */
  readonly family: PbsExitStatusFamily | null
  readonly resourceList: Readonly<Record<string, string>>
  readonly resourcesUsed: Readonly<Record<string, string>>
  readonly variables: Readonly<Record<string, string>>
  /** Every attribute as printed, nested names joined with '.' (`Resource_List.select`). */
  readonly attributes: Readonly<Record<string, string>>
}

// attributes only one lineage prints, for text output where nothing else says which server spoke
const PBSPRO_HINTS = ['Exit_status', 'stime', 'obittime', 'Resource_List.select', 'exec_vnode', 'history_timestamp']
const TORQUE_HINTS = ['exit_status', 'start_time', 'comp_time', 'Resource_List.nodes', 'queue_type', 'euser']

/**
 * Build the typed record of one job from its attributes.
 * @param family forced by the format (JSON → pbspro, XML → torque), or null to infer it from the names.
 * @throws ParseError naming the job and attribute when the id, job_state or a typed value is malformed.
 */
export function buildPbsJobRecord(
  source: string,
  jobId: string,
  attributes: Readonly<Record<string, string>>,
  family: PbsExitStatusFamily | null,
  zone: PbsTimeZone = {},
): PbsJobRecord {
  if (!PBS_JOB_ID.test(jobId)) throw new ParseError(source, 'not a PBS job id', jobId)
  const text = (name: string): string | null => {
    const value = Object.hasOwn(attributes, name) ? attributes[name] : undefined
    return value === undefined || value.trim() === '' ? null : value.trim()
  }
  const typed = <T>(name: string, parse: (value: string) => T): T | null => {
    const value = text(name)
    if (value === null) return null
    try {
      return parse(value)
    } catch (error) {
      if (error instanceof ParseError) throw withPbsContext(source, `job ${jobId}, ${name}`, error)
      throw error
    }
  }
  const nativeState = text('job_state')
  if (nativeState === null) throw new ParseError(source, `job ${jobId} has no job_state`, jobId)
  const time = (name: string) => typed(name, (value) => parsePbsTimestamp(value, zone))
  const variables = collectVariables(source, jobId, attributes)
  const project = text('project')
  return {
    jobId,
    name: text('Job_Name'),
    submissionKey: variables[PBS_SUBMISSION_KEY_VARIABLE] ?? null,
    owner: text('Job_Owner'),
    nativeState,
    substate: typed('substate', parseInteger),
    queue: text('queue'),
    account: text('Account_Name') ?? (project === '_pbs_project_default' ? null : project),
    exitStatus: typed('Exit_status', parseInteger) ?? typed('exit_status', parseInteger),
    holdTypes: text('Hold_Types'),
    depend: text('depend'),
    comment: text('comment'),
    createdAt: time('ctime'),
    startedAt: time('stime') ?? time('start_time'),
    endedAt: time('obittime') ?? time('comp_time'),
    modifiedAt: time('mtime'),
    walltimeLimitSeconds: typed('Resource_List.walltime', parsePbsDurationSeconds),
    execHosts: typed('exec_host', parseExecHosts) ?? [],
    family: family ?? inferFamily(attributes),
    resourceList: withPrefix(attributes, 'Resource_List.'),
    resourcesUsed: withPrefix(attributes, 'resources_used.'),
    variables,
    attributes,
  }
}

/** Re-throw a value's ParseError from `source` with where it was found (`job 12.srv, ctime`). */
export function withPbsContext(source: string, context: string, error: ParseError): ParseError {
  let message = error.message.startsWith(`${error.source}: `)
    ? error.message.slice(error.source.length + 2)
    : error.message
  const near = error.excerpt ? ` (near: ${JSON.stringify(error.excerpt.slice(0, 120))})` : ''
  if (near !== '' && message.endsWith(near)) message = message.slice(0, -near.length)
  return new ParseError(source, `${context}: ${message}`, error.excerpt)
}

function inferFamily(attributes: Readonly<Record<string, string>>): PbsExitStatusFamily | null {
  if (PBSPRO_HINTS.some((name) => Object.hasOwn(attributes, name))) return 'pbspro'
  if (TORQUE_HINTS.some((name) => Object.hasOwn(attributes, name))) return 'torque'
  return null
}

function parseInteger(text: string): number {
  if (!/^-?\d{1,12}$/.test(text)) throw new ParseError('pbs', 'not an integer', text)
  return Number(text)
}

// `b141/0*16+b142/0*16` (PBS Pro), `r2i4n13/0-23+r1i2n12/0-23` and `node01/0` (Torque)
function parseExecHosts(text: string): string[] {
  const hosts: string[] = []
  for (const part of text.split('+')) {
    const host = part.split('/')[0]?.trim() ?? ''
    if (!/^[A-Za-z0-9._-]+$/.test(host)) throw new ParseError('pbs', 'not an exec_host list (host/slots+…)', text)
    if (!hosts.includes(host)) hosts.push(host)
  }
  return hosts
}

function withPrefix(attributes: Readonly<Record<string, string>>, prefix: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(attributes)
      .filter(([name]) => name.startsWith(prefix))
      .map(([name, value]) => [name.slice(prefix.length), value]),
  )
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*=/

/**
 * Variable_List as a record. JSON prints an object (flattened to `Variable_List.NAME` by the caller);
 * text and XML print `NAME=value,NAME=value`, where PBS escapes a comma inside a value as `\,` but older
 * servers did not (`module=() {  eval …,}`): a piece that does not start with `NAME=` continues the
 * previous value.
 */
function collectVariables(
  source: string,
  jobId: string,
  attributes: Readonly<Record<string, string>>,
): Record<string, string> {
  const variables = new Map(Object.entries(withPrefix(attributes, 'Variable_List.')))
  const list = Object.hasOwn(attributes, 'Variable_List') ? attributes.Variable_List : undefined
  if (list !== undefined && list.trim() !== '') {
    let current: string | null = null
    for (const piece of list.split(/(?<!\\),/)) {
      const unescaped = piece.replaceAll('\\,', ',')
      if (VARIABLE_NAME.test(unescaped)) {
        const equals = unescaped.indexOf('=')
        current = unescaped.slice(0, equals)
        variables.set(current, unescaped.slice(equals + 1))
      } else if (current !== null) {
        variables.set(current, `${variables.get(current) ?? ''},${unescaped}`)
      } else {
        throw new ParseError(source, `job ${jobId}, Variable_List: does not start with NAME=value`, list)
      }
    }
  }
  return Object.fromEntries(variables)
}

/** Options for mapping records to observations. */
export interface PbsObservationOptions {
  /** The exit-status table for records whose output did not say (text output without hints). @default 'pbspro' */
  readonly family?: PbsExitStatusFamily
}

/**
 * One observation per record: state from the state table and the exit status (with the job's
 * substate, hold types, dependencies and whether its walltime was used up), the exit status as
 * exitCode, start and end times (for a finished job without obittime/comp_time, mtime is its end),
 * hosts from exec_host, and usage (elapsed from resources_used.walltime, CPU from cput, peak memory
 * from mem, allocated cpu/mem/gpus/nodes from Resource_List). The name is the submission key from
 * Variable_List when the job carries one, else Job_Name.
 * @throws ParseError for a malformed resource value.
 */
export function toPbsJobObservations(
  records: readonly PbsJobRecord[],
  options: PbsObservationOptions = {},
): JobObservation[] {
  return records.map((record) => toObservation(record, options.family ?? 'pbspro'))
}

function toObservation(record: PbsJobRecord, defaultFamily: PbsExitStatusFamily): JobObservation {
  const value = <T>(name: string, text: string | undefined, parse: (value: string) => T): T | null => {
    if (text === undefined || text.trim() === '') return null
    try {
      return parse(text.trim())
    } catch (error) {
      if (error instanceof ParseError) throw withPbsContext('pbs', `job ${record.jobId}, ${name}`, error)
      throw error
    }
  }
  const used = record.resourcesUsed
  const elapsedSeconds = value('resources_used.walltime', used.walltime, parsePbsDurationSeconds)
  const decision = mapPbsState(record.nativeState, {
    exitStatus: record.exitStatus,
    family: record.family ?? defaultFamily,
    substate: record.substate,
    holdTypes: record.holdTypes,
    hasDependency: record.depend !== null,
    walltimeExceeded:
      elapsedSeconds !== null && record.walltimeLimitSeconds !== null && elapsedSeconds >= record.walltimeLimitSeconds,
  })
  const finished = isPbsFinishedState(record.nativeState)
  const usage: { elapsedSeconds?: number; cpuSeconds?: number; maxRssMb?: number; allocTres?: Record<string, number> } =
    {}
  if (elapsedSeconds !== null) usage.elapsedSeconds = elapsedSeconds
  const cpuSeconds = value('resources_used.cput', used.cput, parsePbsDurationSeconds)
  if (cpuSeconds !== null) usage.cpuSeconds = cpuSeconds
  const maxRssMb = value('resources_used.mem', used.mem, parsePbsSizeMb)
  if (maxRssMb !== null) usage.maxRssMb = maxRssMb
  const allocTres = allocatedTres(record, value)
  if (Object.keys(allocTres).length > 0) usage.allocTres = allocTres
  return {
    jobId: asNativeJobId(record.jobId),
    state: decision.state,
    nativeState: record.nativeState,
    exitCode: record.exitStatus,
    signal: decision.signal,
    reason: decision.reason ?? record.comment,
    startedAt: record.startedAt,
    endedAt: finished ? (record.endedAt ?? record.modifiedAt) : null,
    nodes: record.execHosts,
    usage,
    ...(record.submissionKey !== null
      ? { name: record.submissionKey }
      : record.name !== null
        ? { name: record.name }
        : {}),
  }
}

type ValueReader = <T>(name: string, text: string | undefined, parse: (value: string) => T) => T | null

// PBS Pro sums a select into Resource_List.ncpus/mem/ngpus/nodect; Torque requests nodes=N:ppn=C:gpus=G
function allocatedTres(record: PbsJobRecord, value: ValueReader): Record<string, number> {
  const list = record.resourceList
  const tres: Record<string, number> = {}
  const count = (text: string): number => {
    if (!/^\d+$/.test(text)) throw new ParseError('pbs', 'not a count', text)
    return Number(text)
  }
  const nodesSpec = list.select === undefined ? value('Resource_List.nodes', list.nodes, parseTorqueNodes) : null
  const cpus = nodesSpec?.cpus ?? value('Resource_List.ncpus', list.ncpus, count)
  if (cpus !== null) tres.cpu = cpus
  const memoryMb = value('Resource_List.mem', list.mem, parsePbsSizeMb)
  if (memoryMb !== null) tres.mem = memoryMb
  const gpus = value('Resource_List.ngpus', list.ngpus, count) ?? nodesSpec?.gpus ?? null
  if (gpus !== null && gpus > 0) tres['gres/gpu'] = gpus
  const nodes = value('Resource_List.nodect', list.nodect, count) ?? nodesSpec?.nodes ?? null
  if (nodes !== null) tres.node = nodes
  return tres
}

/** Totals of a Torque nodes spec: `4:ppn=24` → 4 nodes × 24; `n1:ppn=2+n2` → 2 nodes, 3 CPUs. */
export function parseTorqueNodes(spec: string): { nodes: number; cpus: number; gpus: number } {
  let nodes = 0
  let cpus = 0
  let gpus = 0
  for (const part of spec.split('+')) {
    const [head = '', ...properties] = part.trim().split(':')
    if (!/^(?:\d+|[A-Za-z][A-Za-z0-9._-]*)$/.test(head)) throw new ParseError('pbs', 'not a Torque nodes spec', spec)
    const count = /^\d+$/.test(head) ? Number(head) : 1
    let ppn = 1
    let perNodeGpus = 0
    for (const property of properties) {
      const match = /^(ppn|gpus)=(\d+)$/.exec(property)
      if (match?.[1] === 'ppn') ppn = Number(match[2])
      else if (match?.[1] === 'gpus') perNodeGpus = Number(match[2])
      else if (!/^[A-Za-z0-9._-]+$/.test(property)) throw new ParseError('pbs', 'not a Torque nodes spec', spec)
    }
    nodes += count
    cpus += count * ppn
    gpus += count * perNodeGpus
  }
  return { nodes, cpus, gpus }
}

/**
 * The jobs among `records` that carry one of `keys`: in RPO_SUBMISSION_KEY (Variable_List) or, for a
 * job without that variable, as its job name. PBS cannot select by name or variable (qselect -N
 * matches names only, and a shortened name is not the key), so the caller lists the jobs with
 * `buildQstatAllArgv` and filters here. When several jobs carry one key, the one created last wins.
 * @param keyOf the key a record stands for (pbs-subjobs.ts pbsRecordKey also reads subjobs as their instances)
 */
export function findPbsJobsBySubmissionKey(
  records: readonly PbsJobRecord[],
  keys: readonly SubmissionKey[],
  keyOf: (record: PbsJobRecord) => string | null = (record) => record.submissionKey ?? record.name,
): Map<SubmissionKey, NativeJobId> {
  const wanted = new Set<string>(keys)
  const found = new Map<SubmissionKey, PbsJobRecord>()
  for (const record of records) {
    const key = keyOf(record)
    if (key === null || !wanted.has(key)) continue
    const seen = found.get(key as SubmissionKey)
    const created = record.createdAt?.getTime() ?? Number.NEGATIVE_INFINITY
    if (seen === undefined || created >= (seen.createdAt?.getTime() ?? Number.NEGATIVE_INFINITY)) {
      found.set(key as SubmissionKey, record)
    }
  }
  return new Map([...found].map(([key, record]) => [key, asNativeJobId(record.jobId)]))
}
