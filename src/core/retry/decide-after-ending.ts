/**
 * The failure policy: what follows an attempt that ended without success. A task with a checkpoint
 * resumes after a checkpoint exit (85), a time limit, a node failure or a preemption — at once, not
 * counted as a failure, but bounded by `checkpoint.maxResumes`; out-of-memory retries ask for more
 * memory, and time-limit retries (of a task without a checkpoint) for more time, up to a ceiling
 * (escalate-resource.ts); a node that failed a job is excluded from the task's next attempts; the
 * rest goes to the retry policy. A job killed by its own checkpoint warning is a time limit
 * (`checkpointWarningKill`). Pure: the same history always gives the same decision.
 */
import { CHECKPOINT_EXIT_CODE, type ResolvedTask, type RetryableEnding } from '../pipeline/resolved-pipeline.js'
import { attemptResources, type TaskOverrides } from '../scheduling/run-snapshot.js'
import { decideRetry } from './decide-retry.js'
import { escalate, escalationFor } from './escalate-resource.js'

export interface EndedAttempt {
  /** The attempt's final job state (`unknown` for a lost job). */
  readonly state: RetryableEnding | 'unknown'
  readonly exitCode: number | null
  readonly nodes: readonly string[]
  /** How the ending reads to a user, e.g. "exited with code 3". */
  readonly why: string
  /** What the executor saw, e.g. "used 412 MB, over its 64 MB limit" (shown after out-of-memory endings). */
  readonly evidence?: string | null
}

export interface TaskHistory {
  readonly failures: number
  readonly resumes: number
  readonly overrides: TaskOverrides | null
}

export type EndingDecision =
  | {
      readonly kind: 'resume'
      readonly why: string
      readonly resumes: number
      readonly overrides: TaskOverrides | null
    }
  | {
      readonly kind: 'retry'
      readonly why: string
      readonly failures: number
      readonly delaySeconds: number
      readonly overrides: TaskOverrides | null
    }
  | { readonly kind: 'give-up'; readonly why: string; readonly failures: number; readonly resumes: number }

/**
 * How much earlier than asked a checkpoint warning may come: Slurm sends `--signal=…@lead` up to 60 s
 * early (its event resolution, https://slurm.schedmd.com/sbatch.html#OPT_signal); rpo's own warning
 * (checkpoint-watch, where the scheduler cannot) comes at or after its time.
 */
export const WARNING_EARLY_SECONDS = 60

/** What a job's ending says about how it ended (a job observation's fields). */
export interface JobEnding {
  readonly state: string
  /** The signal that ended it, with or without the SIG prefix; null when it exited. */
  readonly signal?: string | null
  readonly startedAt: Date | null
  readonly endedAt: Date | null
}

/**
 * The reason to record when a failed job was killed by its own checkpoint warning — the signal rpo
 * asked for (`--signal=B:USR2@lead` on Slurm, rpo's own before the limit elsewhere), arriving when
 * that warning was due, before the task had a handler for it (a slow import): the time limit come
 * early, not a failure of the task's own, so it ends as at its time limit and resumes from its
 * newest checkpoint (maxResumes bounds it), as the local launcher records it. Slurm says FAILED
 * with ExitCode 0:12 (SIGUSR2) for such a job. Null for any other ending: a job killed by that
 * signal long before its warning was due was signalled by someone else (a user's scancel --signal).
 */
export function checkpointWarningKill(ending: JobEnding, definition: ResolvedTask): string | null {
  const checkpoint = definition.checkpoint
  if (!checkpoint || ending.state !== 'failed' || !ending.signal) return null
  if (ending.signal.replace(/^SIG/, '') !== checkpoint.signal) return null
  if (ending.startedAt === null || ending.endedAt === null) return null
  const ranSeconds = (ending.endedAt.getTime() - ending.startedAt.getTime()) / 1000
  const limit = definition.resources.timeLimitSeconds
  if (ranSeconds < limit - checkpoint.leadSeconds - WARNING_EARLY_SECONDS) return null
  return `killed by SIG${checkpoint.signal}, its checkpoint warning ${checkpoint.leadSeconds}s before its time limit of ${limit}s, before it handled that signal: ended as at its time limit`
}

/** Keep the exclusion list short: a task that failed on this many nodes has a problem of its own. */
const MAX_EXCLUDED_NODES = 16
const RESUMABLE: ReadonlySet<string> = new Set(['timeout', 'node_fail', 'preempted'])

export function decideAfterEnding(ended: EndedAttempt, history: TaskHistory, definition: ResolvedTask): EndingDecision {
  const overrides = ended.state === 'node_fail' ? excludeNodes(history.overrides, ended.nodes) : history.overrides
  const checkpoint = definition.checkpoint
  const checkpointed = ended.state === 'failed' && ended.exitCode === CHECKPOINT_EXIT_CODE
  if (checkpoint && (checkpointed || RESUMABLE.has(ended.state))) {
    const why = checkpointed ? 'checkpointed and asked to be resumed (exit 85)' : ended.why
    const resumes = history.resumes + 1
    if (resumes > checkpoint.maxResumes) {
      return {
        kind: 'give-up',
        why: `${why}; not resumed: already resumed ${history.resumes} times (checkpoint.maxResumes ${checkpoint.maxResumes})`,
        failures: history.failures,
        resumes: history.resumes,
      }
    }
    return { kind: 'resume', why: `${why}; resuming from its last checkpoint`, resumes, overrides }
  }

  const ending: RetryableEnding = ended.state === 'unknown' ? 'lost' : ended.state
  const failures = history.failures + 1
  const decision = decideRetry(ending, failures, definition.retry)
  if (decision.kind === 'give-up') return giveUp(ended.why, decision.reason, failures, history, definition)
  const rule = escalationFor(ending, definition)
  if (!rule) return { kind: 'retry', why: ended.why, failures, delaySeconds: decision.delaySeconds, overrides }
  const current = attemptResources(definition, history.overrides)[rule.override]
  // the executor's evidence (what the job used, the scheduler's words) is what a user acts on
  const seen = ended.evidence ? ` (${ended.evidence})` : ''
  const ran = `${ended.why} with ${rule.describe(current)}${seen}`
  const step = escalate(current, rule.factor, rule.ceiling)
  if (step.kind === 'at-ceiling') {
    return {
      kind: 'give-up',
      why: `${ran}, the escalation ceiling (${rule.ceilingSetting})`,
      failures,
      resumes: history.resumes,
    }
  }
  const asks = step.next === current ? '' : `; the next attempt asks for ${rule.describe(step.next)}`
  return {
    kind: 'retry',
    why: `${ran}${asks}`,
    failures,
    delaySeconds: decision.delaySeconds,
    overrides: step.next === current ? overrides : { ...overrides, [rule.override]: step.next },
  }
}

function giveUp(
  why: string,
  reason: 'not-retryable' | 'max-attempts',
  failures: number,
  history: TaskHistory,
  definition: ResolvedTask,
): EndingDecision {
  const suffix = reason === 'max-attempts' && definition.retry.maxRetries > 0 ? ` (after ${failures} attempts)` : ''
  return { kind: 'give-up', why: `${why}${suffix}`, failures, resumes: history.resumes }
}

function excludeNodes(overrides: TaskOverrides | null, nodes: readonly string[]): TaskOverrides | null {
  if (nodes.length === 0) return overrides
  const excluded = [...new Set([...(overrides?.excludeNodes ?? []), ...nodes])].slice(-MAX_EXCLUDED_NODES)
  return { ...overrides, excludeNodes: excluded }
}
