/**
 * Exit statuses where the server reports none: the Slurm Torque wrappers print every finished job as
 * `C` without an exit status, and rpo never assumes success. So there the job script records its
 * own: the command runs as `bash -c <command>` and its exit status is written to
 * `<jobDir>/exit_status` (withExitStatusFile). For a job that qstat reports finished without an exit
 * status, the adapter reads those files (one remote script for all of them). A job rpo itself
 * deleted (it writes `<jobDir>/cancel_requested` before qdel) is `cancelled` unless it recorded
 * exit 0 — also when it recorded a signal's status, which it can: scancel signals the job's
 * processes one by one. Another job killed from outside writes nothing as a rule; then (walltime,
 * node failure) it stays `unknown` and, once the wrappers forget it (~5 min), the engine declares it
 * lost. Real PBS and Torque report Exit_status, so their scripts run the command with `exec` as
 * rendered and no file is read (override with the adapter option `exitStatusFiles`).
 */
import type { JobSubmission, NativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import { pbsJobsAlreadyGone } from './pbs-command-errors.js'
import { PBS_FLAVORS, type PbsDialect } from './pbs-flavors.js'
import { buildMarkAndDeleteScript, type JobFilesFound, pbsJobDir, withExitStatusFile } from './pbs-job-files.js'
import type { PbsJobRecord } from './pbs-job-record.js'
import type { PbsServer } from './pbs-server.js'
import { isPbsFinishedState } from './pbs-states.js'

/** A qstat record, and whether rpo's own cancel marker makes it `cancelled`. */
export interface PbsRecordWithMarker {
  record: PbsJobRecord
  cancelled: boolean
}

/** The command as the job script runs it: recording its own exit status where the server reports none. */
export function pbsJobCommand(server: PbsServer, job: JobSubmission, dialect: PbsDialect): string {
  return server.usesExitStatusFiles(dialect) ? withExitStatusFile(job.command, pbsJobDir(job)) : job.command
}

/** Finished jobs without an exit status: the exit status (or rpo's cancel marker) from the job folder. */
export async function withPbsExitStatusFiles(
  server: PbsServer,
  dialect: PbsDialect,
  records: readonly PbsJobRecord[],
): Promise<PbsRecordWithMarker[]> {
  const plain = records.map((record) => ({ record, cancelled: false }))
  if (!server.usesExitStatusFiles(dialect)) return plain
  const wanted = plain.flatMap((entry, i) => {
    if (!isPbsFinishedState(entry.record.nativeState) || entry.record.exitStatus !== null) return []
    const dir = server.jobFolders.of(entry.record)
    return dir === undefined ? [] : [{ i, dir }]
  })
  if (wanted.length === 0) return plain
  const files = await server.readJobFiles(wanted.map((w) => ({ dir: w.dir, files: ['exitStatus', 'cancelMarker'] })))
  wanted.forEach(({ i, dir }, n) => {
    const found: JobFilesFound = files.get(n) ?? {}
    const entry = plain[i] as PbsRecordWithMarker
    server.jobFolders.remember(entry.record.jobId, dir)
    const exitStatus =
      found.exitStatus !== undefined && /^-?\d{1,5}$/.test(found.exitStatus) ? Number(found.exitStatus) : null
    // rpo deleted it and it did not succeed: cancelled, whatever it recorded. qdel (scancel) signals
    // every process of the job in turn, so when the command dies first the job script may still
    // write 143 before its own signal lands — a failure only by the order of two kill() calls
    if (found.cancelMarker !== undefined && exitStatus !== 0) {
      entry.cancelled = true
    } else if (exitStatus !== null) {
      const family = entry.record.family ?? PBS_FLAVORS[dialect.flavor].exitStatusFamily
      entry.record = { ...entry.record, exitStatus, family }
    }
  })
  return plain
}

/**
 * `qdel` after writing the cancel marker into the folders of the jobs it deletes: without exit
 * statuses a deleted job looks like any job killed from outside. One remote script.
 */
export async function markAndDeletePbsJobs(
  server: PbsServer,
  jobIds: readonly NativeJobId[],
  qdelArgv: readonly string[],
): Promise<void> {
  const dirs = jobIds.flatMap((id) => {
    const dir = server.jobFolders.ofJob(id)
    return dir === undefined ? [] : [dir]
  })
  await server.runner.runScript(buildMarkAndDeleteScript(dirs, qdelArgv), {
    idempotent: true,
    label: qdelArgv,
    check: true,
    allowFailure: pbsJobsAlreadyGone,
  })
}
