/**
 * The second half of planning a run: walk its pending work in topological order and decide, for
 * each task that runs on this tick's cluster, whether it is ready (with the native dependencies it
 * may be submitted under), skipped, failed by its upstream, fanned out (foreach), or must have its
 * queued job cancelled; and which dependencies a re-sent attempt carries. Tasks of other clusters
 * are left to their own cluster's tick. What is submitted is decided across runs afterwards
 * (cluster-admission.ts). Pure: it changes only the run's planning context.
 */
import { expandForeach, type TaskInstance } from '../pipeline/expand-pipeline.js'
import type { ResolvedDependency, ResolvedTask } from '../pipeline/resolved-pipeline.js'
import {
  activeKey,
  type EarlyVerdict,
  judgeDependencies,
  judgeEarly,
  judgeInFlightDependents,
  type Verdict,
} from './dependencies.js'
import { evaluateWhen } from './evaluate-when.js'
import type { RunPlanning } from './run-planning.js'
import { type AttemptSnapshot, newTaskSnapshot, type TaskSnapshot, type TaskState } from './run-snapshot.js'

/** A task that may be submitted this tick, if the cross-run admission lets it. */
export interface ReadyTask {
  readonly plan: RunPlanning
  readonly task: TaskSnapshot
  /** Upstream tasks still in flight (native dependencies); empty when every upstream is done. */
  readonly deps: EarlyVerdict
}

/** The run's ready work on this tick's cluster, in topological order; skips, failures and fan-outs on the way. */
export function walkPending(plan: RunPlanning): ReadyTask[] {
  const groups = plan.groups()
  const ready: ReadyTask[] = []
  // tasks ready this tick: a dependent on one of them may be submitted with a native dependency
  const tentative = new Set<string>()
  const native = plan.rules.nativeDependencies
  for (const definition of plan.snapshot.pipeline.tasks) {
    const members = groups.get(definition.name)
    if (members === undefined || !plan.runsHere(definition)) continue
    // every instance of a step has the same upstream steps: judge them once per step
    let verdict: Verdict | null = null
    let early: EarlyVerdict | null | undefined
    const mayGoEarly = native && definition.when.length === 0
    // by index: planning replaces a task it changes in its group's list, and a fan-out appends to it
    for (let i = 0; i < members.length; i++) {
      const task = members[i] as TaskSnapshot
      if (task.state === 'active') {
        if (native) cancelDoomedDependent(plan, definition, task, groups)
        continue
      }
      if (task.state === 'retry_wait') {
        if (task.nextAttemptAt === null || Date.parse(task.nextAttemptAt) > plan.rules.now) continue
        verdict ??= judgeDependencies(definition.after, groups)
        if (verdict.kind === 'ready') ready.push({ plan, task, deps: [] })
        else if (mayGoEarly && task.kind === 'task') {
          if (early === undefined) early = judgeEarlyOnCluster(plan, definition, groups, tentative)
          if (early) ready.push({ plan, task, deps: early })
        }
        continue
      }
      if (task.state !== 'pending') continue
      verdict ??= judgeDependencies(definition.after, groups)
      if (verdict.kind === 'wait') {
        // native dependencies: submit now, the scheduler starts it when its upstreams end
        if (mayGoEarly && task.kind === 'task') {
          if (early === undefined) early = judgeEarlyOnCluster(plan, definition, groups, tentative)
          if (early) {
            ready.push({ plan, task, deps: early })
            tentative.add(task.id)
          }
        }
        continue
      }
      if (verdict.kind === 'skip' || verdict.kind === 'upstream-failed') {
        const state: TaskState = verdict.kind === 'skip' ? 'skipped' : 'upstream_failed'
        plan.patchTask(task.id, { state, reason: verdict.reason, endedAt: plan.nowIso })
        plan.event({
          type: verdict.kind === 'skip' ? 'task:skipped' : 'task:upstream-failed',
          taskId: task.id,
          message: verdict.reason,
        })
        continue
      }
      const failedCondition = definition.when.map((w) => evaluateWhen(w, groups)).find((r) => !r.holds)
      if (failedCondition) {
        plan.patchTask(task.id, { state: 'skipped', reason: failedCondition.reason, endedAt: plan.nowIso })
        plan.event({ type: 'task:skipped', taskId: task.id, message: failedCondition.reason })
        continue
      }
      if (task.kind === 'foreach-template') {
        expandTemplate(plan, task, definition, groups)
        continue
      }
      ready.push({ plan, task, deps: [] })
      tentative.add(task.id)
    }
  }
  return ready
}

/**
 * Whether a waiting task may be handed to the scheduler now, and on which upstream jobs: only an
 * upstream on the task's own cluster can be a native dependency; one on another cluster must have
 * ended as the edge asks (rpo waits on it) before the task goes at all.
 */
function judgeEarlyOnCluster(
  plan: RunPlanning,
  definition: ResolvedTask,
  groups: ReadonlyMap<string, readonly TaskSnapshot[]>,
  tentative: ReadonlySet<string>,
): EarlyVerdict | null {
  const own = plan.clusterOfStep(definition.name)
  const sameCluster: ResolvedDependency[] = []
  const otherCluster: ResolvedDependency[] = []
  for (const dep of definition.after) (plan.clusterOfStep(dep.task) === own ? sameCluster : otherCluster).push(dep)
  if (otherCluster.length > 0 && judgeDependencies(otherCluster, groups).kind !== 'ready') return null
  return judgeEarly(sameCluster, groups, plan.attempts, tentative, plan.rules.wholeArrayDependencies)
}

/** A queued dependent whose upstream failed or went back to be retried: its job is cancelled. */
function cancelDoomedDependent(
  plan: RunPlanning,
  definition: ResolvedTask,
  task: TaskSnapshot,
  groups: ReadonlyMap<string, readonly TaskSnapshot[]>,
): void {
  const doomed = judgeInFlightDependents(definition, task, groups, plan.attempts)
  if (!doomed) return
  const attempt = plan.attempts.get(task.id) as AttemptSnapshot
  plan.cancellations.push({ taskId: task.id, submissionKey: attempt.submissionKey, jobId: attempt.jobId })
  plan.patchAttempt(attempt, { state: 'cancelled', reason: doomed.reason, endedAt: plan.nowIso })
  if (doomed.kind === 'upstream-failed') {
    plan.patchTask(task.id, { state: 'upstream_failed', reason: doomed.reason, endedAt: plan.nowIso })
    plan.event({
      type: 'task:upstream-failed',
      taskId: task.id,
      message: `${doomed.reason}; its queued job is cancelled`,
    })
  } else {
    plan.patchTask(task.id, { state: 'pending', reason: doomed.reason })
  }
}

function expandTemplate(
  plan: RunPlanning,
  template: TaskSnapshot,
  definition: ResolvedTask,
  groups: ReadonlyMap<string, readonly TaskSnapshot[]>,
): void {
  const source = definition.foreach as { task: string; output: string }
  const upstream = plan.tasks.get(source.task) ?? (groups.get(source.task) ?? [])[0]
  const list = upstream?.outputs?.[source.output]
  const fail = (reason: string) => {
    plan.patchTask(template.id, { state: 'failed', reason, endedAt: plan.nowIso })
    plan.event({ type: 'task:failed', taskId: template.id, message: reason })
  }
  if (!Array.isArray(list)) {
    fail(
      `foreach: ${source.task} did not write a list under "${source.output}" in its outputs (got ${list === undefined ? 'nothing' : typeof list})`,
    )
    return
  }
  let instances: TaskInstance[]
  try {
    instances = expandForeach(definition, list)
  } catch (error) {
    fail(`foreach: ${error instanceof Error ? error.message : String(error)}`)
    return
  }
  const message = `fanned out into ${instances.length} tasks`
  plan.patchTask(template.id, { state: 'expanded', reason: message, endedAt: plan.nowIso })
  plan.event({ type: 'task:expanded', taskId: template.id, message, data: { count: instances.length } })
  for (const instance of instances) {
    plan.addTask(newTaskSnapshot(instance))
    plan.newTasks.push(instance)
  }
}

/** Attempts the scheduler never saw go first, under their old keys, on whatever upstream is still in flight. */
export function queueResends(plan: RunPlanning): void {
  if (plan.resends.length === 0) return
  const groups = plan.groups()
  for (const attempt of [...plan.resends].reverse()) {
    const task = plan.tasks.get(attempt.taskId) as TaskSnapshot
    const early = plan.rules.nativeDependencies
      ? (judgeEarlyOnCluster(plan, plan.definitionOf(task), groups, new Set()) ?? [])
      : []
    const dependsOn = early.flatMap((d) => {
      const key = activeKey(plan.tasks.get(d.taskId), plan.attempts)
      return key === null ? [] : [{ ...d, submissionKey: key }]
    })
    plan.submissions.unshift({
      taskId: attempt.taskId,
      attempt: attempt.attempt,
      submissionKey: attempt.submissionKey,
      resend: true,
      dependsOn,
    })
  }
}
