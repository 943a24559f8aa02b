/**
 * Dependencies between tasks, for the planner: whether a task's upstream steps let it run, skip it or
 * fail it; which waiting tasks a scheduler with native dependencies may take now; which queued
 * dependents must be cancelled; and the upstream-first order of a tick's submissions. Pure.
 */
import { isTerminalJobState, type JobState } from '../job/job-state.js'
import type { ResolvedDependency, ResolvedTask } from '../pipeline/resolved-pipeline.js'
import { type AttemptSnapshot, isTerminalTaskState, type TaskSnapshot } from './run-snapshot.js'
import type { PlannedSubmission } from './tick-plan.js'

export function groupTasks(tasks: ReadonlyMap<string, TaskSnapshot>): Map<string, TaskSnapshot[]> {
  const groups = new Map<string, TaskSnapshot[]>()
  for (const task of tasks.values()) {
    const list = groups.get(task.group)
    if (list) list.push(task)
    else groups.set(task.group, [task])
  }
  return groups
}

export type Verdict =
  | { kind: 'ready' }
  | { kind: 'wait' }
  | { kind: 'skip'; reason: string }
  | { kind: 'upstream-failed'; reason: string }

const READY: Verdict = { kind: 'ready' }
const WAIT: Verdict = { kind: 'wait' }

export function judgeDependencies(
  after: readonly ResolvedDependency[],
  groups: ReadonlyMap<string, readonly TaskSnapshot[]>,
): Verdict {
  let waiting = false
  for (const dep of after) {
    // one pass over the upstream step's instances (an expanded template counts as none of them)
    let allDone = true
    let broken: TaskSnapshot | undefined
    let skipped: TaskSnapshot | undefined
    for (const t of groups.get(dep.task) ?? []) {
      if (t.state === 'expanded') continue
      if (!isTerminalTaskState(t.state)) allDone = false
      else if (
        broken === undefined &&
        (t.state === 'failed' || t.state === 'cancelled' || t.state === 'upstream_failed')
      )
        broken = t
      else if (skipped === undefined && t.state === 'skipped') skipped = t
    }
    if (dep.condition === 'succeeded') {
      if (broken)
        return {
          kind: 'upstream-failed',
          reason: `upstream ${broken.id} ${broken.state === 'upstream_failed' ? 'did not run (its upstream failed)' : broken.state}`,
        }
      if (!allDone) {
        waiting = true
        continue
      }
      if (skipped) return { kind: 'skip', reason: `upstream ${skipped.id} was skipped` }
    } else if (dep.condition === 'finished') {
      if (!allDone) waiting = true
    } else {
      if (!allDone) {
        waiting = true
        continue
      }
      if (!broken) return { kind: 'skip', reason: `runs only if ${dep.task} fails, and it did not` }
    }
  }
  return waiting ? WAIT : READY
}

/**
 * Keep the priority order, except that a submission never precedes an upstream it depends on in
 * the same tick (the adapter wires in-batch dependencies in list order).
 */
export function orderUpstreamsFirst(submissions: PlannedSubmission[]): void {
  if (submissions.length < 2) return
  const keys = new Set(submissions.map((s) => s.submissionKey))
  const placed = new Set<string>()
  const ordered: PlannedSubmission[] = []
  let pending = [...submissions]
  while (pending.length > 0) {
    const next: PlannedSubmission[] = []
    for (const submission of pending) {
      const waits = submission.dependsOn.some((d) => keys.has(d.submissionKey) && !placed.has(d.submissionKey))
      if (waits) next.push(submission)
      else {
        ordered.push(submission)
        placed.add(submission.submissionKey)
      }
    }
    // a cycle cannot happen (the pipeline is a DAG); guard against looping forever all the same
    if (next.length === pending.length) {
      ordered.push(...next)
      break
    }
    pending = next
  }
  submissions.splice(0, submissions.length, ...ordered)
}

/** The submission key of a task's attempt in flight, or null. */
export function activeKey(
  task: TaskSnapshot | undefined,
  attempts: ReadonlyMap<string, AttemptSnapshot>,
): string | null {
  if (task?.state !== 'active') return null
  const attempt = attempts.get(task.id)
  return attempt && !isTerminalJobState(attempt.state as JobState) ? attempt.submissionKey : null
}

export type EarlyVerdict = { readonly taskId: string; readonly condition: 'succeeded' | 'finished' }[]

/**
 * Whether a waiting task can be handed to the scheduler now with native dependencies: every
 * upstream instance is done (and then needs no dependency: a finished job may have aged out of the
 * scheduler) or in flight / about to be submitted this tick. Never for `condition: failed`.
 */
export function judgeEarly(
  after: readonly ResolvedDependency[],
  groups: ReadonlyMap<string, readonly TaskSnapshot[]>,
  attempts: ReadonlyMap<string, AttemptSnapshot>,
  tentative: ReadonlySet<string>,
  wholeArrays = false,
): EarlyVerdict | null {
  const deps: { taskId: string; condition: 'succeeded' | 'finished' }[] = []
  for (const dep of after) {
    if (dep.condition === 'failed') return null
    for (const member of groups.get(dep.task) ?? []) {
      if (member.kind === 'foreach-template') {
        if (member.state === 'expanded') continue
        return null
      }
      if (member.state === 'succeeded' || (dep.condition === 'finished' && isTerminalTaskState(member.state))) continue
      // a dependency on a whole array that holds a retried instance's failed job is never met:
      // wait for the upstreams to finish instead of wiring it
      const retried = member.attempts > 1 || (member.attempts >= 1 && tentative.has(member.id))
      if (wholeArrays && retried) return null
      // a job that has ended but whose outcome is not read yet may be one the dependency can never
      // meet (an exit 85, a failure): wait for its conclusion instead of queueing behind it
      if (attempts.get(member.id)?.state === 'completing' && !tentative.has(member.id)) return null
      if (tentative.has(member.id) || activeKey(member, attempts) !== null) {
        deps.push({ taskId: member.id, condition: dep.condition })
        continue
      }
      return null
    }
  }
  return deps
}

/**
 * A task in flight with native dependencies whose upstream failed (it can never start) or went back
 * to be retried (its dependency names the old job): its queued job must be cancelled.
 */
export function judgeInFlightDependents(
  definition: ResolvedTask,
  task: TaskSnapshot,
  groups: ReadonlyMap<string, readonly TaskSnapshot[]>,
  attempts: ReadonlyMap<string, AttemptSnapshot>,
): { kind: 'upstream-failed' | 'rewire'; reason: string } | null {
  const attempt = attempts.get(task.id)
  if (!attempt || attempt.startedAt !== null || isTerminalJobState(attempt.state as JobState)) return null
  for (const dep of definition.after) {
    if (dep.condition !== 'succeeded') continue
    for (const member of groups.get(dep.task) ?? []) {
      if (member.state === 'failed' || member.state === 'cancelled' || member.state === 'upstream_failed') {
        return {
          kind: 'upstream-failed',
          reason: `upstream ${member.id} ${member.state === 'upstream_failed' ? 'did not run (its upstream failed)' : member.state}`,
        }
      }
      if (member.state === 'retry_wait') return { kind: 'rewire', reason: `upstream ${member.id} is being retried` }
    }
  }
  return null
}
