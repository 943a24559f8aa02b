/**
 * Polling PBS jobs: one qstat for every job in flight (a subjob through its array, `qstat -t`), read
 * into one observation per id asked about, under the id as rpo knows it. The state is resolved here
 * from what qstat prints and what the server leaves out:
 *
 * - exit statuses the Slurm Torque wrappers do not print, from the job folders (pbs-exit-status-files.ts);
 * - a job held behind the wrappers: they print it as `Q`, but Slurm holds a job by setting its
 *   priority to 0 (scontrol(1) "hold"), which qstat prints, so a queued job with `Priority = 0` is `held`;
 * - a subjob reports the instance it runs, and a subjob the server holds for its array's throttle is pending;
 * - memory kills reported as a plain signal status or no status at all (pbs-memory-kill.ts).
 */
import { readOutputTails } from '../../src/scheduler/output-tails.js'
import type { JobObservation, NativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import { onlyUnknownPbsJobs } from './pbs-command-errors.js'
import { buildQstatArgv } from './pbs-commands.js'
import { type PbsRecordWithMarker, withPbsExitStatusFiles } from './pbs-exit-status-files.js'
import { PBS_FLAVORS, type PbsDialect } from './pbs-flavors.js'
import { pbsJobSequence } from './pbs-job-folders.js'
import { type PbsJobRecord, toPbsJobObservations } from './pbs-job-record.js'
import {
  findPbsMemoryKillMessage,
  pbsOutputFiles,
  pbsOverMemoryFromAccounting,
  pbsOverMemoryFromOutput,
} from './pbs-memory-kill.js'
import { parsePbsQstatOutput } from './pbs-qstat-output.js'
import type { PbsServer } from './pbs-server.js'
import { isPbsFinishedState } from './pbs-states.js'
import { pbsArrayParentId, pbsRecordKey, pbsSubjobIndex } from './pbs-subjobs.js'

/** One observation per id qstat printed, under the id as rpo knows it; ids qstat did not print are absent. */
export async function pollPbsJobs(server: PbsServer, jobIds: readonly NativeJobId[]): Promise<JobObservation[]> {
  if (jobIds.length === 0) return []
  const dialect = await server.detect()
  const zone = { utcOffsetMinutes: await server.clusterUtcOffset() }
  // a subjob is asked for through its array with -t, which lists every subjob (queued ones too) on
  // PBS Pro and Torque alike; the array's own record never stands for an instance (another sequence)
  const subjobs = jobIds.some((id) => pbsSubjobIndex(id) !== null)
  const query = [...new Set(jobIds.map((id) => (pbsSubjobIndex(id) === null ? id : (pbsArrayParentId(id) ?? id))))]
  const result = await server.run(buildQstatArgv(dialect, query, { subjobs }), {
    idempotent: true,
    allowFailure: onlyUnknownPbsJobs,
  })
  const asked = new Set(jobIds.map(pbsJobSequence))
  const printed = parsePbsQstatOutput(dialect, result.stdout, zone).filter((r) => asked.has(pbsJobSequence(r.jobId)))
  const records = await withPbsExitStatusFiles(server, dialect, printed)
  const observed = await recogniseMemoryKills(
    server,
    dialect,
    observe(dialect, records),
    records.map((r) => r.record),
  )
  const bySequence = new Map<string, JobObservation>()
  for (const o of observed) bySequence.set(pbsJobSequence(o.jobId), o)
  return jobIds.flatMap((id) => {
    const o = bySequence.get(pbsJobSequence(id))
    return o ? [{ ...o, jobId: id }] : []
  })
}

function observe(dialect: PbsDialect, entries: readonly PbsRecordWithMarker[]): JobObservation[] {
  const flavor = PBS_FLAVORS[dialect.flavor]
  const observations = toPbsJobObservations(
    entries.map((e) => e.record),
    { family: flavor.exitStatusFamily },
  )
  return observations.map((o, i) => {
    const { record, cancelled } = entries[i] as PbsRecordWithMarker
    if (cancelled) {
      return { ...o, state: 'cancelled', reason: 'deleted by rpo (qdel); this server reports no exit status' }
    }
    // Slurm (behind the wrappers) holds a job by setting its priority to 0; qstat prints it as Q
    if (flavor.heldAtPriorityZero && o.state === 'pending' && record.attributes.Priority?.trim() === '0') {
      return { ...o, state: 'held', reason: 'held (priority 0: qhold or qsub -h)' }
    }
    if (pbsSubjobIndex(record.jobId) === null) return o
    // a subjob carries its array's name: report the instance it runs
    const named = { ...o, name: pbsRecordKey(record) ?? o.name }
    // held by the server itself for its array's throttle (pbs-flavors.ts): it releases it itself
    const silent = PBS_FLAVORS[dialect.flavor].arrays.silentThrottleHolds
    if (silent && o.state === 'held' && !/[uosp]/.test(record.holdTypes ?? '')) {
      return { ...named, state: 'pending', reason: 'waiting for a slot of its job array (held by the server itself)' }
    }
    return named
  })
}

// a MoM polling memory kills with a plain signal status on some servers (pbs-memory-kill.ts):
// accounting's figures, else the MoM's message in the job's output, make it out_of_memory
async function recogniseMemoryKills(
  server: PbsServer,
  dialect: PbsDialect,
  observations: readonly JobObservation[],
  records: readonly PbsJobRecord[],
): Promise<JobObservation[]> {
  const judged = observations.map(pbsOverMemoryFromAccounting)
  // behind the wrappers a job Slurm SIGKILLed wrote no exit status: finished, outcome unknown
  const candidate = (o: JobObservation, record: PbsJobRecord) =>
    o.state === 'failed' ||
    (server.usesExitStatusFiles(dialect) && o.state === 'unknown' && isPbsFinishedState(record.nativeState))
  const unexplained = judged.flatMap((o, i) => {
    const record = records[i]
    const dir = record !== undefined && candidate(o, record) ? server.jobFolders.of(record) : undefined
    return dir === undefined ? [] : [{ i, files: pbsOutputFiles(dir) }]
  })
  if (unexplained.length === 0) return judged
  const tails = await readOutputTails(server.transport, unexplained, server.timeout(unexplained.length))
  unexplained.forEach(({ i }, n) => {
    const message = findPbsMemoryKillMessage(tails.get(n) ?? '')
    const o = judged[i]
    if (message !== null && o !== undefined) judged[i] = pbsOverMemoryFromOutput(o, message)
  })
  return judged
}
