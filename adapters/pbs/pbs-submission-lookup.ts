/**
 * Which PBS job a submission key went out as, so a job submitted just before a crash is not sent
 * twice. PBS cannot select by name or variable, so every job is listed and filtered; jobs the
 * scheduler no longer lists are found by the `<jobDir>/job_id` file the batch script wrote (with the
 * engine's jobsRoot), and the folders found are remembered for later polls.
 */
import type { NativeJobId, SubmissionKey } from '../../src/scheduler/scheduler-adapter.js'
import { asNativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import { isSafeName } from '../../src/script/shell-quote.js'
import { onlyUnknownPbsJobs } from './pbs-command-errors.js'
import { buildQstatAllArgv } from './pbs-commands.js'
import { findPbsJobsBySubmissionKey, PBS_JOB_ID } from './pbs-job-record.js'
import { parsePbsQstatOutput } from './pbs-qstat-output.js'
import type { PbsServer } from './pbs-server.js'
import { pbsRecordKey } from './pbs-subjobs.js'

/** The job id of each key found, created within the lookback (`lookbackDays`, default 14). */
export async function findPbsJobIdsBySubmissionKey(
  server: PbsServer,
  keys: readonly SubmissionKey[],
): Promise<Map<SubmissionKey, NativeJobId>> {
  const found = new Map<SubmissionKey, NativeJobId>()
  if (keys.length === 0) return found
  const dialect = await server.detect()
  const zone = { utcOffsetMinutes: await server.clusterUtcOffset() }
  // list every job (history too where the server keeps it, subjobs one by one where sweeps may be
  // arrays) and filter; a subjob stands for its instance
  const argv = buildQstatAllArgv(dialect, { subjobs: server.arraysOn(dialect) })
  const result = await server.run(argv, { idempotent: true, allowFailure: onlyUnknownPbsJobs })
  const cutoff = Date.now() - (server.options.lookbackDays ?? 14) * 86_400_000
  const records = parsePbsQstatOutput(dialect, result.stdout, zone).filter(
    (r) => r.createdAt === null || r.createdAt.getTime() >= cutoff,
  )
  for (const [key, id] of findPbsJobsBySubmissionKey(records, keys, pbsRecordKey)) found.set(key, id)
  // jobs the scheduler no longer lists (the wrappers forget finished jobs after ~5 min): the id the
  // batch script wrote to the job folder proves the job was submitted, so it is not sent again
  const jobsRoot = server.options.jobsRoot
  const rest = keys.filter((k) => !found.has(k) && isSafeName(k))
  if (jobsRoot !== undefined && rest.length > 0) {
    const files = await server.readJobFiles(rest.map((k) => ({ dir: `${jobsRoot}/${k}`, files: ['jobId'] })))
    rest.forEach((key, i) => {
      const id = files.get(i)?.jobId
      if (id !== undefined && PBS_JOB_ID.test(id)) found.set(key, asNativeJobId(id))
    })
  }
  if (jobsRoot !== undefined) for (const [key, id] of found) server.jobFolders.remember(id, `${jobsRoot}/${key}`)
  return found
}
