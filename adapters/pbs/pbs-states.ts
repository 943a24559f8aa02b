/**
 * PBS Pro / OpenPBS / Torque job states and exit statuses → rpo's one job-state vocabulary. Data with
 * citations; the two functions below only look the tables up and apply the documented rules for
 * finished jobs, whose letter (F, X, C) never says whether they succeeded.
 */
import type { JobState } from '../../src/core/job/job-state.js'
import { signalName } from '../slurm/sacct-parser.js'

/** Marks a state letter whose rpo state is decided by the exit status (`decidePbsFinalState`). */
export const PBS_FINISHED = 'finished'

// PBS Pro / OpenPBS: Reference Guide, "Job States" (Table 8-1; job_state attribute, RG-334)
//   https://help.altair.com/2024.1.0/PBS%20Professional/PBSReferenceGuide2024.1.pdf
// Torque: qstat(1), "job_state" column
//   https://docs.adaptivecomputing.com/torque/6-1-2/adminGuide/Content/topics/torque/commands/qstat.htm
/** Every documented `job_state` letter of PBS Pro, OpenPBS and Torque, and the rpo state it means. */
export const PBS_JOB_STATES = {
  Q: 'pending',
  // ambiguous: also a job waiting on a dependency (system hold `s`); mapPbsState reads Hold_Types for that
  H: 'held',
  R: 'running',
  // ambiguous: the job's processes are gone and PBS is staging out/cleaning up; the exit status may not be final yet
  E: 'completing',
  // ambiguous: PBS Pro "finished": succeeded, failed or deleted — only Exit_status and substate tell
  F: PBS_FINISHED,
  // ambiguous: PBS Pro subjob "expired" (finished); as F, decided by its exit status
  X: PBS_FINISHED,
  // ambiguous: Torque "completed after having run": success, failure, timeout and qdel alike
  C: PBS_FINISHED,
  // ambiguous: a job array whose subjobs have begun; the array itself never runs, but its work does
  B: 'running',
  // ambiguous: waiting for its Execution_Time (qsub -a), or 30 min after a failed stage-in; it starts by itself
  W: 'pending',
  // ambiguous: suspended by the server for a higher-priority job; keeps its allocation and resumes by itself
  S: 'running',
  // ambiguous: suspended because the cycle-harvesting workstation is busy; resumes by itself
  U: 'running',
  // ambiguous: in transit to another server or queue, not yet eligible to run
  T: 'pending',
  // ambiguous: moved to another server; this server no longer knows its fate, the destination does
  M: 'unknown',
} as const satisfies Record<string, JobState | typeof PBS_FINISHED>

export type PbsJobStateCode = keyof typeof PBS_JOB_STATES

/** True for F, X and C: the job is over and its exit status decides the rpo state. */
export function isPbsFinishedState(nativeState: string): boolean {
  const code = nativeState.trim().toUpperCase()
  return Object.hasOwn(PBS_JOB_STATES, code) && PBS_JOB_STATES[code as PbsJobStateCode] === PBS_FINISHED
}

/** Which exit-status table applies: PBS Pro and OpenPBS share one, Torque has its own. */
export type PbsExitStatusFamily = 'pbspro' | 'torque'

/** One special (negative) exit status set by the MoM instead of the job script. */
export interface PbsSpecialExitStatus {
  readonly name: string
  readonly state: JobState
  readonly meaning: string
}

// OpenPBS src/include/job.h "Special Job Exit Values" (JOB_EXEC_*), the same values as the PBS Pro
// Reference Guide, Table 11-2 "Job Exit Codes":
//   https://github.com/openpbs/openpbs/blob/master/src/include/job.h
// Codes that make the server requeue the job are seen on a *finished* job only when the requeue was
// refused (not rerunnable, run-count limit): the attempt ended for a system reason, hence node_fail.
/** PBS Pro / OpenPBS negative exit statuses. */
export const PBSPRO_SPECIAL_EXIT_STATUSES = {
  '-1': { name: 'JOB_EXEC_FAIL1', state: 'failed', meaning: 'exec failed before files, no retry' },
  '-2': { name: 'JOB_EXEC_FAIL2', state: 'failed', meaning: 'exec failed after files, no retry' },
  '-3': { name: 'JOB_EXEC_RETRY', state: 'node_fail', meaning: 'exec failed, retry' },
  '-4': { name: 'JOB_EXEC_INITABT', state: 'node_fail', meaning: 'job aborted on MoM initialization' },
  '-5': { name: 'JOB_EXEC_INITRST', state: 'node_fail', meaning: 'aborted on MoM init, checkpointed, no migrate' },
  '-6': { name: 'JOB_EXEC_INITRMG', state: 'node_fail', meaning: 'aborted on MoM init, checkpointed, ok migrate' },
  '-7': { name: 'JOB_EXEC_BADRESRT', state: 'failed', meaning: 'job restart failed' },
  '-10': { name: 'JOB_EXEC_FAILUID', state: 'failed', meaning: 'invalid uid/gid for job' },
  '-11': { name: 'JOB_EXEC_RERUN', state: 'node_fail', meaning: 'job rerun' },
  // the allocation is over and a checkpoint exists: what rpo calls preempted (resume on a new attempt)
  '-12': { name: 'JOB_EXEC_CHKP', state: 'preempted', meaning: 'job was checkpointed and killed' },
  '-13': { name: 'JOB_EXEC_FAIL_PASSWORD', state: 'failed', meaning: 'bad password' },
  '-14': { name: 'JOB_EXEC_RERUN_SIS_FAIL', state: 'node_fail', meaning: 'sister MoM communication failed' },
  '-15': { name: 'JOB_EXEC_QUERST', state: 'preempted', meaning: 'requeued for restart from checkpoint' },
  '-16': { name: 'JOB_EXEC_FAILHOOK_RERUN', state: 'node_fail', meaning: 'a hook rejected the start, retry later' },
  '-17': { name: 'JOB_EXEC_FAILHOOK_DELETE', state: 'failed', meaning: 'a hook rejected the start, delete' },
  '-18': { name: 'JOB_EXEC_HOOK_RERUN', state: 'node_fail', meaning: 'a hook requested a requeue' },
  '-19': { name: 'JOB_EXEC_HOOK_DELETE', state: 'failed', meaning: 'a hook requested deletion' },
  '-20': { name: 'JOB_EXEC_RERUN_MS_FAIL', state: 'node_fail', meaning: 'mother superior connection failed' },
  '-21': { name: 'JOB_EXEC_FAIL_SECURITY', state: 'failed', meaning: 'security breach in PBS directory' },
  '-22': { name: 'JOB_EXEC_HOOKERROR', state: 'failed', meaning: 'hook exception or hook timeout' },
  '-23': { name: 'JOB_EXEC_FAIL_KRB5', state: 'failed', meaning: 'no Kerberos credentials supplied' },
  '-24': { name: 'JOB_EXEC_KILL_NCPUS_BURST', state: 'failed', meaning: 'exceeded ncpus (burst)' },
  '-25': { name: 'JOB_EXEC_KILL_NCPUS_SUM', state: 'failed', meaning: 'exceeded ncpus (sum)' },
  '-26': { name: 'JOB_EXEC_KILL_VMEM', state: 'out_of_memory', meaning: 'exceeded vmem' },
  '-27': { name: 'JOB_EXEC_KILL_MEM', state: 'out_of_memory', meaning: 'exceeded mem' },
  // a CPU-time limit is a time limit: more time, not more memory, is what a retry needs
  '-28': { name: 'JOB_EXEC_KILL_CPUT', state: 'timeout', meaning: 'exceeded cput' },
  '-29': { name: 'JOB_EXEC_KILL_WALLTIME', state: 'timeout', meaning: 'exceeded walltime' },
  '-30': { name: 'JOB_EXEC_JOINJOB', state: 'node_fail', meaning: 'join job error (sister MoM)' },
} as const satisfies Record<string, PbsSpecialExitStatus>

// Torque 6.1 Admin Guide, "Job exit status" (negative values are set by pbs_mom):
//   https://docs.adaptivecomputing.com/torque/6-1-2/adminGuide/Content/topics/torque/2-jobs/jobExitStatus.htm
// Torque 2.5.6–5.x had one JOB_EXEC_OVERLIMIT (-10) for any limit (src/include/pbs_job.h of those
// releases); -10 is read as memory unless the walltime was used up (see decidePbsFinalState).
/** Torque negative exit statuses. */
export const TORQUE_SPECIAL_EXIT_STATUSES = {
  '-1': { name: 'JOB_EXEC_FAIL1', state: 'failed', meaning: 'exec failed before files, no retry' },
  '-2': { name: 'JOB_EXEC_FAIL2', state: 'failed', meaning: 'exec failed after files, no retry' },
  '-3': { name: 'JOB_EXEC_RETRY', state: 'node_fail', meaning: 'exec failed, retry' },
  '-4': { name: 'JOB_EXEC_INITABT', state: 'node_fail', meaning: 'job aborted on MoM initialization' },
  '-5': { name: 'JOB_EXEC_INITRST', state: 'node_fail', meaning: 'aborted on MoM init, checkpoint, no migrate' },
  '-6': { name: 'JOB_EXEC_INITRMG', state: 'node_fail', meaning: 'aborted on MoM init, checkpoint, ok migrate' },
  '-7': { name: 'JOB_EXEC_BADRESRT', state: 'failed', meaning: 'job restart failed' },
  '-8': { name: 'JOB_EXEC_CMDFAIL', state: 'failed', meaning: 'exec() of user command failed' },
  '-9': { name: 'JOB_EXEC_STDOUTFAIL', state: 'failed', meaning: 'could not create/open stdout/stderr files' },
  '-10': { name: 'JOB_EXEC_OVERLIMIT_MEM', state: 'out_of_memory', meaning: 'exceeded a memory limit' },
  '-11': { name: 'JOB_EXEC_OVERLIMIT_WT', state: 'timeout', meaning: 'exceeded a walltime limit' },
  '-12': { name: 'JOB_EXEC_OVERLIMIT_CPUT', state: 'timeout', meaning: 'exceeded a CPU time limit' },
  '-13': { name: 'JOB_EXEC_RETRY_CGROUP', state: 'node_fail', meaning: 'cgroup creation failed, retry' },
  '-14': { name: 'JOB_EXEC_RETRY_PROLOGUE', state: 'node_fail', meaning: 'prologue failed, retry' },
} as const satisfies Record<string, PbsSpecialExitStatus>

const SPECIAL_EXIT_STATUSES: Record<PbsExitStatusFamily, Readonly<Record<string, PbsSpecialExitStatus>>> = {
  pbspro: PBSPRO_SPECIAL_EXIT_STATUSES,
  torque: TORQUE_SPECIAL_EXIT_STATUSES,
}

// https://github.com/openpbs/openpbs/blob/master/src/include/job.h — JOB_SUBSTATE_TERMINATED: the
// history substate of a job that was deleted (qdel), beside 92 FINISHED and 93 FAILED
const SUBSTATE_TERMINATED = 91

/** What a finished job's exit status says. */
export interface PbsFinalStateContext {
  /** @default 'pbspro' */
  readonly family?: PbsExitStatusFamily
  /** PBS Pro `substate`; 91 (TERMINATED) marks a deleted job. */
  readonly substate?: number | null
  /** The job used its whole walltime (`resources_used.walltime` ≥ `Resource_List.walltime`). */
  readonly walltimeExceeded?: boolean
}

/** An rpo state with the signal and the reason that explain it (both null when there is nothing to add). */
export interface PbsStateDecision {
  readonly state: JobState
  readonly signal: string | null
  readonly reason: string | null
}

/**
 * The rpo state of a finished job (F, X, C) from its exit status.
 *
 * - 0 → succeeded; 1–255 → failed (the script's own exit value; 128+n when its shell saw signal n).
 * - ≥ 256 → the MoM killed the job with signal (status − 256), e.g. 271 = SIGTERM after qdel or at the
 *   walltime (PBS Pro RG Table 11-1, "Job exit status"): cancelled for a deleted job (substate 91),
 *   timeout when the walltime was used up, failed otherwise.
 * - negative → the family's JOB_EXEC_* table; an undocumented code is failed, with the raw value in the reason.
 * - no exit status → cancelled for a deleted job (substate 91, e.g. deleted while queued), else unknown:
 *   a finished job whose outcome nobody printed is not assumed done (the Slurm Torque wrappers print none).
 */
export function decidePbsFinalState(exitStatus: number | null, context: PbsFinalStateContext = {}): PbsStateDecision {
  const deleted = context.substate === SUBSTATE_TERMINATED
  const walltimeExceeded = context.walltimeExceeded === true
  if (exitStatus === null) {
    return deleted
      ? { state: 'cancelled', signal: null, reason: 'deleted (substate 91) without an exit status' }
      : { state: 'unknown', signal: null, reason: 'finished without an exit status' }
  }
  if (exitStatus === 0) return { state: 'succeeded', signal: null, reason: null }
  if (exitStatus > 0 && exitStatus < 256) {
    // a shell that saw its command killed exits 128+n; at the walltime that is the limit's doing
    if (exitStatus > 128 && walltimeExceeded) {
      return { state: 'timeout', signal: null, reason: `exit status ${exitStatus} after the walltime was used up` }
    }
    return { state: 'failed', signal: null, reason: null }
  }
  if (exitStatus >= 256) {
    const signal = signalName(exitStatus - 256)
    if (deleted) return { state: 'cancelled', signal, reason: `deleted (substate 91), killed by ${signal}` }
    if (walltimeExceeded) return { state: 'timeout', signal, reason: `killed by ${signal} at the walltime limit` }
    return { state: 'failed', signal, reason: `killed by ${signal}` }
  }
  const family = context.family ?? 'pbspro'
  const special = SPECIAL_EXIT_STATUSES[family][String(exitStatus)]
  if (special === undefined) {
    return { state: 'failed', signal: null, reason: `undocumented ${family} exit status ${exitStatus}` }
  }
  const reason = `${special.name} (${exitStatus}): ${special.meaning}`
  // before Torque 6, -10 (JOB_EXEC_OVERLIMIT) was any limit; a used-up walltime says which one
  if (family === 'torque' && exitStatus === -10 && walltimeExceeded) return { state: 'timeout', signal: null, reason }
  return { state: special.state, signal: null, reason }
}

/** What besides the letter decides a job's rpo state. */
export interface PbsStateContext extends PbsFinalStateContext {
  /** Exit_status / exit_status; only read for finished jobs. */
  readonly exitStatus?: number | null
  /** Hold_Types, e.g. `u`, `s`, `uo`, `n`. */
  readonly holdTypes?: string | null
  /** The job has a `depend` attribute. */
  readonly hasDependency?: boolean
}

/**
 * Map a native `job_state` letter to rpo's state. A held job (H) whose only hold is the system hold
 * `s` while it has dependencies is pending: PBS and Torque hold a job that way until its upstream
 * jobs end, and release it themselves (Torque qsub(1) `-W depend`; PBS Pro UG "Job dependencies").
 * Never throws: an unknown letter is `unknown`, and the caller keeps the raw letter as `nativeState`.
 */
export function mapPbsState(nativeState: string, context: PbsStateContext = {}): PbsStateDecision {
  const code = nativeState.trim().toUpperCase()
  if (!Object.hasOwn(PBS_JOB_STATES, code)) {
    return { state: 'unknown', signal: null, reason: `unknown PBS job state ${JSON.stringify(nativeState)}` }
  }
  const meaning = PBS_JOB_STATES[code as PbsJobStateCode]
  if (meaning === PBS_FINISHED) return decidePbsFinalState(context.exitStatus ?? null, context)
  if (meaning === 'held' && context.hasDependency === true && isSystemHoldOnly(context.holdTypes)) {
    return { state: 'pending', signal: null, reason: 'waiting for its dependencies (system hold)' }
  }
  return { state: meaning, signal: null, reason: null }
}

// Hold_Types letters: u user, o operator, s system, p bad password (PBS Pro), n none
function isSystemHoldOnly(holdTypes: string | null | undefined): boolean {
  return holdTypes != null && /^[sn]*s[sn]*$/.test(holdTypes.trim())
}
