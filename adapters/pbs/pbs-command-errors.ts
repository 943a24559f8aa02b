/**
 * What a failed PBS command means, in PBS's words: the server down or unreachable (retry, never a
 * job failure; the command runner, src/scheduler/command-runner.ts, makes the typed error from these
 * words), or a job it no longer knows (not an error for a poll or a delete). Covers PBS Pro, Torque
 * and the Slurm Torque wrappers, which word and route their errors differently. Pure.
 */
import type { ExecResult } from '../../src/transport/transport.js'

// the server is down or unreachable: worth retrying, never a job failure (PBS Pro/Torque client
// errors; "Problem loading jobs" and the slurmctld messages come from the Slurm wrappers)
export const PBS_UNAVAILABLE =
  /cannot connect to server|Connection refused|Communication failure|pbs_iff|Server not available|Unable to contact slurm controller|Socket timed out|Problem loading (jobs|partitions|nodes)|Zero Bytes were transmitted/i
// PBSE_UNKJOBID (15001) and PBSE_HISTJOBID (15139) as exit statuses (mod 256): 153 and 35
const UNKNOWN_JOB_EXITS = new Set([153, 35])
const GONE = /Unknown Job Id|Job has finished|job has been deleted|Request invalid for state of job|already complet/i

/** Whether a PBS client's message says the server did not answer (rather than refused). */
export function isPbsServerUnavailable(message: string): boolean {
  return PBS_UNAVAILABLE.test(message)
}

/** qstat's "no such job" answer: the jobs it did know are printed, the others are simply absent. */
export function onlyUnknownPbsJobs(result: ExecResult): boolean {
  if (result.exitCode === null || !UNKNOWN_JOB_EXITS.has(result.exitCode)) return false
  return result.stderr.split('\n').every((line) => line.trim() === '' || GONE.test(line))
}

/** qdel's answer for jobs that already ended and need no deleting (the wrappers' qdel then fails in silence). */
export function pbsJobsAlreadyGone(result: ExecResult): boolean {
  return result.stdout.trim() === '' && result.stderr.split('\n').every((line) => line.trim() === '' || GONE.test(line))
}
