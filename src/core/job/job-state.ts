/**
 * The one job-state vocabulary every scheduler adapter maps into, and the transitions between
 * states that reconciliation accepts. The raw scheduler state is always kept beside it.
 */

export const JobState = {
  pending: 'pending',
  held: 'held',
  running: 'running',
  completing: 'completing',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
  timeout: 'timeout',
  out_of_memory: 'out_of_memory',
  node_fail: 'node_fail',
  preempted: 'preempted',
  requeued: 'requeued',
  unknown: 'unknown',
} as const
export type JobState = (typeof JobState)[keyof typeof JobState]

export const JOB_STATES: readonly JobState[] = Object.values(JobState)

/** States after which the scheduler will do nothing more with this job. */
export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set<JobState>([
  'succeeded',
  'failed',
  'cancelled',
  'timeout',
  'out_of_memory',
  'node_fail',
  'preempted',
])

export function isTerminalJobState(state: JobState): boolean {
  return TERMINAL_JOB_STATES.has(state)
}

/** States in which the job still holds or waits for scheduler resources. */
export function isActiveJobState(state: JobState): boolean {
  return !TERMINAL_JOB_STATES.has(state)
}

// a terminal state is final for the attempt: a requeue is a new attempt, never a silent regression.
// `requeued` and `unknown` may move anywhere; `unknown` is what a lost job is until reconciled.
const ALLOWED: Record<JobState, readonly JobState[]> = {
  pending: ['held', 'running', 'completing', 'requeued', 'unknown', ...TERMINAL_JOB_STATES],
  held: ['pending', 'running', 'requeued', 'unknown', ...TERMINAL_JOB_STATES],
  running: ['completing', 'requeued', 'held', 'pending', 'unknown', ...TERMINAL_JOB_STATES],
  completing: ['requeued', 'unknown', ...TERMINAL_JOB_STATES],
  requeued: ['pending', 'held', 'running', 'completing', 'unknown', ...TERMINAL_JOB_STATES],
  unknown: ['pending', 'held', 'running', 'completing', 'requeued', ...TERMINAL_JOB_STATES],
  succeeded: [],
  failed: [],
  cancelled: [],
  timeout: [],
  out_of_memory: [],
  node_fail: [],
  preempted: [],
}

export function canTransition(from: JobState, to: JobState): boolean {
  return from === to || ALLOWED[from].includes(to)
}
