/**
 * qstat's output as job records, in the format the server's dialect prints (JSON, Torque XML or
 * `qstat -f` text), with the Slurm Torque wrappers' time names read as they mean them. Pure.
 */
import { PBS_FLAVORS, type PbsDialect } from './pbs-flavors.js'
import type { PbsJobRecord, PbsParseOptions } from './pbs-job-record.js'
import { isPbsFinishedState } from './pbs-states.js'
import { parsePbsTimestamp } from './pbs-units.js'
import { parseQstatJson } from './qstat-json-parser.js'
import { parseQstatText } from './qstat-text-parser.js'
import { parseQstatXml } from './qstat-xml-parser.js'

/** The job records of one qstat answer. */
export function parsePbsQstatOutput(dialect: PbsDialect, stdout: string, zone: PbsParseOptions): PbsJobRecord[] {
  const records =
    dialect.format === 'json'
      ? parseQstatJson(stdout, zone)
      : dialect.format === 'xml'
        ? parseQstatXml(stdout, zone)
        : parseQstatText(stdout, zone)
  return PBS_FLAVORS[dialect.flavor].slurmTimeNames ? records.map((r) => fromSlurmWrappers(r, zone)) : records
}

/**
 * The Slurm Torque wrappers' `qstat -f` means other things by PBS's time names: `mtime` is the start,
 * `ctime` the end (the expected end while the job runs), `qtime` the submission.
 */
function fromSlurmWrappers(record: PbsJobRecord, zone: PbsParseOptions): PbsJobRecord {
  let submitted: Date | null = null
  try {
    submitted = parsePbsTimestamp(record.attributes.qtime ?? '', zone)
  } catch {
    submitted = null
  }
  return {
    ...record,
    createdAt: submitted,
    startedAt: record.modifiedAt,
    endedAt: isPbsFinishedState(record.nativeState) ? record.createdAt : null,
    modifiedAt: null,
  }
}
