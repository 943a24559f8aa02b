/**
 * Slurm job states → rpo's one job-state vocabulary. Data, not logic: the tables below are the
 * documented state codes, and `mapSlurmState` only normalises the spelling before looking them up.
 */
import type { JobState } from '../../src/core/job/job-state.js'

// https://slurm.schedmd.com/squeue.html#SECTION_JOB-STATE-CODES
// https://slurm.schedmd.com/sacct.html#SECTION_JOB-STATE-CODES
/** Every documented long job-state name (`squeue %T`, `sacct State`) and the rpo state it means. */
export const SLURM_JOB_STATES = {
  PENDING: 'pending',
  RUNNING: 'running',
  // ambiguous: suspended (PreemptMode=SUSPEND, gang scheduling) keeps its allocation and resumes by itself
  SUSPENDED: 'running',
  COMPLETING: 'completing',
  COMPLETED: 'succeeded',
  // ambiguous: resources are allocated but nodes are still booting; the job is past the queue
  CONFIGURING: 'running',
  CANCELLED: 'cancelled',
  FAILED: 'failed',
  TIMEOUT: 'timeout',
  // with PreemptMode=REQUEUE the job shows PENDING/REQUEUED instead; PREEMPTED means this allocation is over
  PREEMPTED: 'preempted',
  NODE_FAIL: 'node_fail',
  // ambiguous: the allocated node never came up, so the closest rpo cause is a node failure
  BOOT_FAIL: 'node_fail',
  // ambiguous: killed at its --deadline, i.e. it ran out of time as a timeout does
  DEADLINE: 'timeout',
  OUT_OF_MEMORY: 'out_of_memory',
  REQUEUED: 'requeued',
  // ambiguous: transient state of `scontrol requeuehold`; the job ends up PENDING with reason JobHeld*
  REQUEUE_HOLD: 'held',
  REQUEUE_FED: 'requeued',
  RESIZING: 'running',
  // ambiguous: federation only — this cluster's sibling was withdrawn because another cluster started the job
  REVOKED: 'cancelled',
  SIGNALING: 'running',
  // ambiguous: requeued and held by an epilog for a special exit code; needs a release like a held job
  SPECIAL_EXIT: 'held',
  // ambiguous: the command has ended and burst-buffer files are being staged out
  STAGE_OUT: 'completing',
  // ambiguous: SIGSTOPped but keeps its CPUs, so it still occupies the allocation
  STOPPED: 'running',
  RESV_DEL_HOLD: 'held',
} as const satisfies Record<string, JobState>

export type SlurmJobStateName = keyof typeof SLURM_JOB_STATES
const SLURM_JOB_STATE_NAMES = Object.keys(SLURM_JOB_STATES) as SlurmJobStateName[]

// https://slurm.schedmd.com/squeue.html#SECTION_JOB-STATE-CODES (the compact `%t` codes)
/** Every documented compact state code (`squeue %t`) and the long name it abbreviates. */
export const SLURM_COMPACT_JOB_STATES = {
  BF: 'BOOT_FAIL',
  CA: 'CANCELLED',
  CD: 'COMPLETED',
  CF: 'CONFIGURING',
  CG: 'COMPLETING',
  DL: 'DEADLINE',
  F: 'FAILED',
  NF: 'NODE_FAIL',
  OOM: 'OUT_OF_MEMORY',
  PD: 'PENDING',
  PR: 'PREEMPTED',
  R: 'RUNNING',
  RD: 'RESV_DEL_HOLD',
  RF: 'REQUEUE_FED',
  RH: 'REQUEUE_HOLD',
  RQ: 'REQUEUED',
  RS: 'RESIZING',
  RV: 'REVOKED',
  SI: 'SIGNALING',
  SE: 'SPECIAL_EXIT',
  SO: 'STAGE_OUT',
  ST: 'STOPPED',
  S: 'SUSPENDED',
  TO: 'TIMEOUT',
} as const satisfies Record<string, SlurmJobStateName>

// https://slurm.schedmd.com/job_reason_codes.html — a held job is PENDING with one of these reasons
/** Pending-job reasons that mean "held until someone releases it" (`scontrol hold` / admin hold). */
export const SLURM_HOLD_REASONS: ReadonlySet<string> = new Set(['JobHeldUser', 'JobHeldAdmin'])

/**
 * Map a native Slurm state to rpo's `JobState`.
 *
 * Accepts long names (`RUNNING`), compact codes (`R`), sacct's `CANCELLED by 1234`, and names that a
 * fixed-width column cut short with a trailing `+` (`CANCELLED+`). A PENDING job whose reason is a
 * hold (`JobHeldUser`, `JobHeldAdmin`, also written `(JobHeldUser)`) is `held`.
 * Never throws: anything unrecognised is `unknown`, and the caller keeps the raw text as `nativeState`.
 */
export function mapSlurmState(nativeState: string, reason?: string | null): JobState {
  const name = normalizeSlurmStateName(nativeState)
  if (name === null) return 'unknown'
  const state: JobState = SLURM_JOB_STATES[name]
  if (state === 'pending' && reason != null && SLURM_HOLD_REASONS.has(stripParentheses(reason.trim()))) return 'held'
  return state
}

/**
 * The documented long state name behind a native state spelling, or null when it is not one.
 * `CANCELLED by 0` → `CANCELLED`, `PD` → `PENDING`, `COMPLETED+` → `COMPLETED`.
 */
export function normalizeSlurmStateName(nativeState: string): SlurmJobStateName | null {
  // sacct appends "by <uid>" to CANCELLED; fixed-width output marks a cut-off name with '+'
  const word = (nativeState.trim().split(/\s+/)[0] ?? '').replace(/\++$/, '').toUpperCase()
  if (Object.hasOwn(SLURM_JOB_STATES, word)) return word as SlurmJobStateName
  if (Object.hasOwn(SLURM_COMPACT_JOB_STATES, word)) {
    return SLURM_COMPACT_JOB_STATES[word as keyof typeof SLURM_COMPACT_JOB_STATES]
  }
  // a cut-off name (`OUT_OF_ME+`) still names one state when exactly one long name starts with it
  if (nativeState.trim().endsWith('+') && word.length >= 3) {
    const candidates = SLURM_JOB_STATE_NAMES.filter((name) => name.startsWith(word))
    if (candidates.length === 1) return candidates[0] ?? null
  }
  return null
}

function stripParentheses(text: string): string {
  return text.startsWith('(') && text.endsWith(')') ? text.slice(1, -1) : text
}
