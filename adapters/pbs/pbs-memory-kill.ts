/**
 * Jobs a PBS MoM killed for using more memory than they asked for, when the exit status does not say
 * so. PBS Pro/OpenPBS report JOB_EXEC_KILL_MEM (-27) and Torque 6 JOB_EXEC_OVERLIMIT_MEM (-10)
 * (pbs-states.ts), but older Torque and PBS Pro MoMs polling without cgroups end such a job with a
 * plain signal status (265/271 = 256 + SIGKILL/SIGTERM) and leave their reason only in the job's
 * stderr:
 *
 *     =>> PBS: job killed: mem job total 4323312 kb exceeded limit 3145728 kb
 *     =>> PBS: job killed: vmem 2097152kb exceeded limit 1048576kb
 *
 * (Torque src/resmom/mom_main.c and PBS Pro src/resmom/mom_main.c, `job_over_limit`; the PBS Pro
 * cgroups hook says "Cgroup mem limit exceeded".) A failed job becomes `out_of_memory` when it was
 * killed by a signal with resources_used.mem at or over Resource_List.mem, or when the tail of its
 * output holds such a line; on the Slurm Torque wrappers, so does a finished job without an exit
 * status whose output holds slurmstepd's memory-limit message. Pure.
 */
import type { JobObservation } from '../../src/scheduler/scheduler-adapter.js'

// the last alternative: slurmstepd's, for jobs run by Slurm behind the Torque wrappers
// (adapters/slurm/slurm-memory-kill.ts), which record no exit status once their shell is SIGKILLed
const MEMORY_KILL_MESSAGE =
  /PBS: job killed: [pv]?mem\b.*exceeded limit|Cgroup mem(?:ory)? limit exceeded|slurmstepd.*exceeded (?:job |step )?memory limit/i

/** The files a job's MoM message goes to (pbs-script.ts: `<jobDir>/pbs.err|out`). */
export function pbsOutputFiles(jobDir: string): string[] {
  const dir = jobDir.replace(/\/+$/, '')
  return [`${dir}/pbs.err`, `${dir}/pbs.out`]
}

/** A failed job killed by a signal at or over its requested memory: `out_of_memory`; others unchanged. */
export function pbsOverMemoryFromAccounting(o: JobObservation): JobObservation {
  if (o.state !== 'failed' || !killedBySignal(o)) return o
  const used = o.usage?.maxRssMb
  const limit = o.usage?.allocTres?.mem
  if (used === undefined || limit === undefined || limit <= 0 || used < limit) return o
  return {
    ...o,
    state: 'out_of_memory',
    reason: `killed by the MoM's memory enforcement (${o.signal ?? `exit status ${o.exitCode}`} at ${Math.round(used)} MB used, over its ${Math.round(limit)} MB limit; resources_used.mem ≥ Resource_List.mem)`,
  }
}

/** The MoM's memory-kill line in a job's output, or null. */
export function findPbsMemoryKillMessage(output: string): string | null {
  const line = output.split('\n').find((l) => MEMORY_KILL_MESSAGE.test(l))
  return line === undefined ? null : line.trim()
}

/** A failed observation with the MoM's message as evidence: `out_of_memory`, the message in the reason. */
export function pbsOverMemoryFromOutput(o: JobObservation, message: string): JobObservation {
  return {
    ...o,
    state: 'out_of_memory',
    reason: `killed by the MoM's memory enforcement; the job's output says: ${message.slice(0, 300)}`,
  }
}

// 256 + n: the MoM's signal (pbs-states.ts); 128 + n: the job's shell saw its command killed
function killedBySignal(o: JobObservation): boolean {
  return (o.signal ?? null) !== null || (o.exitCode !== null && o.exitCode > 128 && o.exitCode < 256)
}
