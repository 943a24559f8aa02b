/**
 * What a cluster's tick submits: the ready work of every run on the cluster, ordered in one pass
 * (the run's policy rank, then its own critical path and topological order, then run and task id)
 * and admitted in that order against one shared capacity (the local executor), one cap on attempts
 * in flight on the cluster, each step's `maxParallel` within its run, native dependencies that must
 * name an upstream's job, and budget admission. Pure and deterministic.
 */
import { isTerminalJobState, type JobState } from '../job/job-state.js'
import type { ResolvedTask } from '../pipeline/resolved-pipeline.js'
import { fitsCapacity, remainingCapacity, reserve } from './capacity.js'
import { activeKey } from './dependencies.js'
import type { ReadyTask } from './ready-walk.js'
import type { RunPlanning } from './run-planning.js'
import type { Capacity, RunSnapshot, TaskSnapshot } from './run-snapshot.js'
import { type AdmissionVerdict, compareIds, type NativeDependency, submissionKeyFor } from './tick-plan.js'

export interface ClusterLimits {
  /** Total capacity rpo may fill; null when the scheduler queues work itself. */
  readonly capacity: Capacity | null
  /** Attempts in flight on the cluster at once, across runs. */
  readonly maxActive: number
  /** The scheduler enforces `maxParallel` itself. */
  readonly schedulerThrottles?: boolean
  readonly admit?: (run: RunSnapshot, task: TaskSnapshot, definition: ResolvedTask) => AdmissionVerdict
}

/** Admit ready work of all runs in the one cross-run order; each admitted task becomes a submission of its run. */
export function admitAcrossRuns(
  plans: readonly RunPlanning[],
  ready: readonly ReadyTask[],
  limits: ClusterLimits,
): void {
  const inFlight = inFlightOnCluster(plans)
  let free = limits.capacity
    ? remainingCapacity(
        limits.capacity,
        inFlight.flatMap(({ plan, task }) => {
          const definition: ResolvedTask | undefined = plan.definitionOf(task)
          return definition ? [definition.resources] : []
        }),
      )
    : null
  let slots = limits.maxActive - inFlight.length
  if (ready.length === 0 || slots <= 0) return
  // attempts in flight per run and step, for maxParallel: counted only for runs with ready work
  const running = new Map<RunPlanning, Map<string, number>>()
  for (const { plan, task } of inFlight) countOne(running, plan, task.group)
  // keys of attempts planned this tick, for dependents planned after their upstream
  const keys = new Map<RunPlanning, Map<string, string>>()
  for (const { plan, task, deps } of inAdmissionOrder(ready)) {
    if (slots <= 0) break
    const definition = plan.definitionOf(task)
    const limit = definition.maxParallel
    const inGroup = running.get(plan)?.get(task.group) ?? 0
    if (limit !== null && !limits.schedulerThrottles && inGroup >= limit) continue
    const dependsOn: NativeDependency[] = []
    let blocked = false
    for (const dep of deps) {
      const key = keys.get(plan)?.get(dep.taskId) ?? activeKey(plan.tasks.get(dep.taskId), plan.attempts)
      if (key === null) {
        blocked = true
        break
      }
      dependsOn.push({ taskId: dep.taskId, submissionKey: key, condition: dep.condition })
    }
    if (blocked) continue
    if (free && !fitsCapacity(free, definition.resources)) continue
    const verdict = limits.admit?.(plan.snapshot, task, definition) ?? ADMIT
    if (verdict.kind === 'wait') {
      if (task.reason !== verdict.reason) plan.patchTask(task.id, { reason: verdict.reason })
      continue
    }
    if (free) free = reserve(free, definition.resources)
    slots--
    countOne(running, plan, task.group)
    const attempt = task.attempts + 1
    const submissionKey = submissionKeyFor(plan.snapshot.id, task.id, attempt)
    let planned = keys.get(plan)
    if (planned === undefined) {
      planned = new Map()
      keys.set(plan, planned)
    }
    planned.set(task.id, submissionKey)
    const hold = verdict.kind === 'hold' ? verdict.reason : null
    plan.patchTask(task.id, {
      state: 'active',
      attempts: attempt,
      nextAttemptAt: null,
      ...(hold === null ? {} : { reason: hold }),
    })
    plan.submissions.push({
      taskId: task.id,
      attempt,
      submissionKey,
      resend: false,
      dependsOn,
      ...(hold === null ? {} : { hold }),
    })
  }
}

const ADMIT: AdmissionVerdict = { kind: 'admit' }

/**
 * The one cross-run order: the run's rank (higher first), the step's critical path (longer first),
 * its topological position, the run id, the task id. Within a run an upstream's critical path is
 * never shorter than its dependent's, and ties keep topological order, so upstreams submitted this
 * tick come before their dependents; the run's rank is the same for all its work, so that order
 * holds across runs too. The numeric keys are read once per task, not once per comparison.
 */
function inAdmissionOrder(ready: readonly ReadyTask[]): ReadyTask[] {
  const runIds = new Map<RunPlanning, number>()
  for (const { plan } of ready) runIds.set(plan, 0)
  ;[...runIds.keys()]
    .sort((a, b) => compareText(a.snapshot.id, b.snapshot.id))
    .forEach((plan, i) => {
      runIds.set(plan, i)
    })
  const keyed = ready.map((item) => ({
    item,
    rank: item.plan.rank,
    priority: item.plan.priorities.get(item.task.group) ?? 0,
    position: item.plan.topologicalOrder.get(item.task.group) ?? 0,
    run: runIds.get(item.plan) ?? 0,
  }))
  keyed.sort(
    (a, b) =>
      b.rank - a.rank ||
      b.priority - a.priority ||
      a.position - b.position ||
      a.run - b.run ||
      compareText(a.item.task.id, b.item.task.id),
  )
  return keyed.map((k) => k.item)
}

/** compareIds, made total: ids it deems equal are ordered by code units, so the input order never decides. */
function compareText(a: string, b: string): number {
  return compareIds(a, b) || (a < b ? -1 : a > b ? 1 : 0)
}

/** Attempts in flight on this tick's cluster, of every run. */
function inFlightOnCluster(plans: readonly RunPlanning[]): { plan: RunPlanning; task: TaskSnapshot }[] {
  const found: { plan: RunPlanning; task: TaskSnapshot }[] = []
  for (const plan of plans) {
    for (const attempt of plan.attempts.values()) {
      const task = plan.tasks.get(attempt.taskId)
      if (task?.state !== 'active' || !plan.isLocal(task.group)) continue
      if (attempt.state === 'submitting' || !isTerminalJobState(attempt.state as JobState)) found.push({ plan, task })
    }
  }
  return found
}

function countOne(counts: Map<RunPlanning, Map<string, number>>, plan: RunPlanning, group: string): void {
  let byGroup = counts.get(plan)
  if (byGroup === undefined) {
    byGroup = new Map()
    counts.set(plan, byGroup)
  }
  byGroup.set(group, (byGroup.get(group) ?? 0) + 1)
}
