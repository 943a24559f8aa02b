/**
 * The tick planner: snapshot + observations + now → every decision of one tick (attempt and task
 * transitions, fan-out expansion, what to submit in which order, what to cancel, the run's state,
 * events). PURE and deterministic: no I/O, no clock, no randomness; the engine applies the plan.
 */
import { canTransition, isTerminalJobState, type JobState } from '../job/job-state.js'
import { expandForeach, type TaskInstance } from '../pipeline/expand-pipeline.js'
import type { ResolvedPipeline, ResolvedTask } from '../pipeline/resolved-pipeline.js'
import { fitsCapacity, remainingCapacity, reserve } from './capacity.js'
import { concludeAttempt } from './conclude-attempt.js'
import {
  activeKey,
  type EarlyVerdict,
  groupTasks,
  judgeDependencies,
  judgeEarly,
  judgeInFlightDependents,
  orderUpstreamsFirst,
  type Verdict,
} from './dependencies.js'
import { evaluateWhen } from './evaluate-when.js'
import { computePriorities } from './priority.js'
import {
  type AttemptObservation,
  type AttemptSnapshot,
  type Capacity,
  isTerminalTaskState,
  newTaskSnapshot,
  type RunSnapshot,
  type RunState,
  type TaskSnapshot,
  type TaskState,
} from './run-snapshot.js'

export interface PlanOptions {
  readonly now: number
  /** Total capacity rpo may fill; null when the scheduler queues work itself (Slurm, PBS). */
  readonly capacity: Capacity | null
  /** Upper bound on attempts in flight at once. */
  readonly maxActive: number
  /** Polls a job may be missing from the scheduler's answers before it is declared lost. */
  readonly lostAfterMissedPolls: number
  /**
   * The scheduler enforces dependencies itself (Slurm, PBS): a task may be submitted while its
   * upstreams are still queued or running, with a dependency on their jobs. @default false
   */
  readonly nativeDependencies?: boolean
  /**
   * The scheduler enforces a task's `maxParallel` itself (Slurm job arrays with a %k throttle);
   * otherwise the planner keeps at most that many instances in flight. @default false
   */
  readonly schedulerThrottles?: boolean
  /** A dependency on an array instance waits for its whole array (PBS): see SchedulerCapabilities. */
  readonly wholeArrayDependencies?: boolean
  /**
   * Budget admission, asked for each task about to be submitted, in submission order (it may
   * reserve what it admits): `hold` submits the job held on the scheduler, `wait` keeps the task
   * pending (where the scheduler cannot hold). Both carry the reason, shown on the task.
   */
  readonly admit?: (task: TaskSnapshot, definition: ResolvedTask) => AdmissionVerdict
}

export type AdmissionVerdict =
  | { readonly kind: 'admit' }
  | { readonly kind: 'hold'; readonly reason: string }
  | { readonly kind: 'wait'; readonly reason: string }

/** A dependency the scheduler must enforce: on an upstream attempt in flight (or submitted this tick). */
export interface NativeDependency {
  readonly taskId: string
  readonly submissionKey: string
  readonly condition: 'succeeded' | 'finished'
}

export type TaskPatch = Partial<Omit<TaskSnapshot, 'id' | 'group' | 'kind'>>
export type AttemptPatch = Partial<Omit<AttemptSnapshot, 'taskId' | 'attempt' | 'submissionKey'>>

export interface PlannedSubmission {
  readonly taskId: string
  readonly attempt: number
  readonly submissionKey: string
  /** True when this re-sends an attempt that was written but never reached the scheduler. */
  readonly resend: boolean
  /** Upstream jobs still in flight; an upstream submitted this tick comes earlier in the list. */
  readonly dependsOn: readonly NativeDependency[]
  /** Submit held, for this reason (a budget): released by the budget enforcement. */
  readonly hold?: string
}

export type PlannedEvent = {
  readonly type:
    | 'task:started'
    | 'task:succeeded'
    | 'task:failed'
    | 'task:retrying'
    | 'task:resuming'
    | 'task:checkpoint-requested'
    | 'task:checkpoint'
    | 'task:skipped'
    | 'task:upstream-failed'
    | 'task:cancelled'
    | 'task:expanded'
    | 'task:lost'
    | 'run:finished'
    | 'run:resumed'
    | 'run:stopped'
  readonly taskId: string | null
  readonly message: string
  readonly data?: Readonly<Record<string, unknown>>
}

export interface TickPlan {
  /** Attempts to cancel on the scheduler: their upstream failed, or is being retried. */
  readonly cancellations: readonly {
    readonly taskId: string
    readonly submissionKey: string
    readonly jobId: string | null
  }[]
  readonly attemptUpdates: ReadonlyMap<string, AttemptPatch>
  readonly taskUpdates: ReadonlyMap<string, TaskPatch>
  readonly newTasks: readonly TaskInstance[]
  readonly submissions: readonly PlannedSubmission[]
  readonly runState: RunState
  readonly events: readonly PlannedEvent[]
}

export function submissionKeyFor(runId: string, taskId: string, attempt: number): string {
  return `rpo.${runId}.${taskId}.${attempt}`
}

export function planTick(
  snapshot: RunSnapshot,
  observations: readonly AttemptObservation[],
  options: PlanOptions,
): TickPlan {
  const nowIso = new Date(options.now).toISOString()
  const tasks = new Map(snapshot.tasks.map((t) => [t.id, { ...t }] as [string, Mutable<TaskSnapshot>]))
  const attempts = new Map(
    snapshot.latestAttempts.map((a) => [a.taskId, { ...a }] as [string, Mutable<AttemptSnapshot>]),
  )
  const taskUpdates = new Map<string, TaskPatch>()
  const attemptUpdates = new Map<string, AttemptPatch>()
  const events: PlannedEvent[] = []
  const submissions: PlannedSubmission[] = []
  const cancellations: { taskId: string; submissionKey: string; jobId: string | null }[] = []
  const newTasks: TaskInstance[] = []
  const definitions = new Map(snapshot.pipeline.tasks.map((t) => [t.name, t]))

  const patchTask = (id: string, patch: TaskPatch) => {
    Object.assign(tasks.get(id) as object, patch)
    taskUpdates.set(id, { ...taskUpdates.get(id), ...patch })
  }
  const patchAttempt = (attempt: Mutable<AttemptSnapshot>, patch: AttemptPatch) => {
    Object.assign(attempt, patch)
    attemptUpdates.set(attempt.submissionKey, { ...attemptUpdates.get(attempt.submissionKey), ...patch })
  }

  // observe: fold what the scheduler said into attempts
  const byKey = new Map([...attempts.values()].map((a) => [a.submissionKey, a]))
  const resends: Mutable<AttemptSnapshot>[] = []
  for (const observation of observations) {
    const attempt = byKey.get(observation.submissionKey)
    if (!attempt) continue
    applyObservation(attempt, observation, options, nowIso, patchAttempt, events, tasks, patchTask, resends)
  }

  // decide the outcome of attempts that ended
  const cancelled: [Mutable<TaskSnapshot>, AttemptSnapshot][] = []
  for (const attempt of attempts.values()) {
    const task = tasks.get(attempt.taskId)
    // a lost job (unknown after lostAfterMissedPolls polls) has ended as far as rpo can tell: the retry policy decides
    const lost = attempt.state === 'unknown' && attempt.missedPolls >= options.lostAfterMissedPolls
    if (task?.state !== 'active' || !(isTerminalJobState(attempt.state as JobState) || lost)) continue
    if (attempt.state === 'cancelled') {
      cancelled.push([task, attempt])
      continue
    }
    concludeAttempt(task, attempt, definitions.get(task.group) as ResolvedTask, options.now, nowIso, patchTask, events)
  }
  // the scheduler cancels a queued dependent whose upstream failed (kill-on-invalid-dep): that is
  // the upstream's failure showing, not a user's cancel — judged after every upstream was concluded
  if (cancelled.length > 0) {
    const groups = groupTasks(tasks)
    for (const [task, attempt] of cancelled) {
      const verdict = judgeDependencies((definitions.get(task.group) as ResolvedTask).after, groups)
      if (verdict.kind === 'upstream-failed') {
        patchTask(task.id, { state: 'upstream_failed', reason: verdict.reason, endedAt: nowIso })
        events.push({ type: 'task:upstream-failed', taskId: task.id, message: verdict.reason })
      } else if (verdict.kind === 'wait') {
        // an upstream has not ended as far as rpo knows, so this job cannot have run (afterok): squeue
        // showed the scheduler's cancel before accounting gave the upstream's ending (an exit 85 to
        // resume, a failure to retry). The dependent waits for its upstream again
        patchTask(task.id, {
          state: 'pending',
          reason: 'its queued job was cancelled by the scheduler as an upstream ended; it waits for the upstream again',
        })
      } else {
        concludeAttempt(
          task,
          attempt,
          definitions.get(task.group) as ResolvedTask,
          options.now,
          nowIso,
          patchTask,
          events,
        )
      }
    }
  }

  if (snapshot.state === 'running') {
    // walk pending work in topological order
    const groups = groupTasks(tasks)
    const ready: ReadyTask[] = []
    const tentative = new Set<string>()
    for (const definition of snapshot.pipeline.tasks) {
      // every instance of a step has the same upstream steps: judge them once per step
      let verdict: Verdict | null = null
      let early: EarlyVerdict | null = null
      for (const task of groups.get(definition.name) ?? []) {
        if (task.state === 'active' && options.nativeDependencies) {
          const doomed = judgeInFlightDependents(definition, task, groups, attempts)
          if (doomed) {
            const attempt = attempts.get(task.id) as AttemptSnapshot
            cancellations.push({ taskId: task.id, submissionKey: attempt.submissionKey, jobId: attempt.jobId })
            patchAttempt(attempt as Mutable<AttemptSnapshot>, {
              state: 'cancelled',
              reason: doomed.reason,
              endedAt: nowIso,
            })
            if (doomed.kind === 'upstream-failed') {
              patchTask(task.id, { state: 'upstream_failed', reason: doomed.reason, endedAt: nowIso })
              events.push({
                type: 'task:upstream-failed',
                taskId: task.id,
                message: `${doomed.reason}; its queued job is cancelled`,
              })
            } else {
              patchTask(task.id, { state: 'pending', reason: doomed.reason })
            }
          }
          continue
        }
        if (task.state === 'retry_wait') {
          if (task.nextAttemptAt === null || Date.parse(task.nextAttemptAt) > options.now) continue
          verdict ??= judgeDependencies(definition.after, groups)
          if (verdict.kind === 'ready') ready.push({ task, deps: [] })
          else if (options.nativeDependencies && task.kind === 'task' && definition.when.length === 0) {
            early ??= judgeEarly(definition.after, groups, attempts, tentative, options.wholeArrayDependencies)
            if (early) ready.push({ task, deps: early })
          }
          continue
        }
        if (task.state !== 'pending') continue
        verdict ??= judgeDependencies(definition.after, groups)
        if (verdict.kind === 'wait') {
          // native dependencies: submit now, the scheduler starts it when its upstreams end
          if (options.nativeDependencies && task.kind === 'task' && definition.when.length === 0) {
            early ??= judgeEarly(definition.after, groups, attempts, tentative, options.wholeArrayDependencies)
            if (early) {
              ready.push({ task, deps: early })
              tentative.add(task.id)
            }
          }
          continue
        }
        if (verdict.kind === 'skip' || verdict.kind === 'upstream-failed') {
          const state: TaskState = verdict.kind === 'skip' ? 'skipped' : 'upstream_failed'
          patchTask(task.id, { state, reason: verdict.reason, endedAt: nowIso })
          events.push({
            type: verdict.kind === 'skip' ? 'task:skipped' : 'task:upstream-failed',
            taskId: task.id,
            message: verdict.reason,
          })
          continue
        }
        const failedCondition = definition.when.map((w) => evaluateWhen(w, groups)).find((r) => !r.holds)
        if (failedCondition) {
          patchTask(task.id, { state: 'skipped', reason: failedCondition.reason, endedAt: nowIso })
          events.push({ type: 'task:skipped', taskId: task.id, message: failedCondition.reason })
          continue
        }
        if (task.kind === 'foreach-template') {
          expandTemplate(task, definition, tasks, nowIso, patchTask, events, newTasks, groups)
          continue
        }
        ready.push({ task, deps: [] })
        tentative.add(task.id)
      }
    }
    scheduleReady(ready, snapshot, tasks, attempts, definitions, options, patchTask, submissions)
    // a resend goes first, with dependencies on whatever of its upstreams is still in flight
    for (const attempt of resends.reverse()) {
      const task = tasks.get(attempt.taskId) as TaskSnapshot
      const definition = definitions.get(task.group) as ResolvedTask
      const early = options.nativeDependencies
        ? (judgeEarly(definition.after, groups, attempts, new Set(), options.wholeArrayDependencies) ?? [])
        : []
      const dependsOn = early.flatMap((d) => {
        const key = activeKey(tasks.get(d.taskId), attempts)
        return key === null ? [] : [{ ...d, submissionKey: key }]
      })
      submissions.unshift({
        taskId: attempt.taskId,
        attempt: attempt.attempt,
        submissionKey: attempt.submissionKey,
        resend: true,
        dependsOn,
      })
    }
  }

  orderUpstreamsFirst(submissions)
  const runState = decideRunState(snapshot.state, tasks)
  if (runState !== snapshot.state && (runState === 'succeeded' || runState === 'failed')) {
    events.push({ type: 'run:finished', taskId: null, message: `run ${runState}`, data: { state: runState } })
  }
  return { cancellations, attemptUpdates, taskUpdates, newTasks, submissions, runState, events }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

function applyObservation(
  attempt: Mutable<AttemptSnapshot>,
  observation: AttemptObservation,
  options: PlanOptions,
  nowIso: string,
  patchAttempt: (a: Mutable<AttemptSnapshot>, p: AttemptPatch) => void,
  events: PlannedEvent[],
  tasks: Map<string, Mutable<TaskSnapshot>>,
  patchTask: (id: string, patch: TaskPatch) => void,
  resends: Mutable<AttemptSnapshot>[],
): void {
  if (observation.kind === 'found') {
    if (attempt.state === 'submitting')
      patchAttempt(attempt, { jobId: observation.jobId, state: 'pending', missedPolls: 0 })
    return
  }
  if (observation.kind === 'never-submitted') {
    if (attempt.state === 'submitting') resends.push(attempt)
    return
  }
  if (observation.kind === 'missing') {
    if (attempt.state === 'submitting' || isTerminalJobState(attempt.state as JobState)) return
    const missedPolls = attempt.missedPolls + 1
    if (missedPolls < options.lostAfterMissedPolls) {
      patchAttempt(attempt, { missedPolls })
      return
    }
    // missing is never success: the job is lost and the retry policy decides what happens next
    const reason = `lost: the scheduler stopped reporting job ${attempt.jobId} (${missedPolls} polls)`
    patchAttempt(attempt, { missedPolls, state: 'unknown', reason, endedAt: nowIso })
    events.push({ type: 'task:lost', taskId: attempt.taskId, message: reason })
    return
  }
  const job = observation.job
  if (!canTransition(attempt.state === 'submitting' ? 'pending' : (attempt.state as JobState), job.state)) return
  const patch: Mutable<AttemptPatch> = {
    state: job.state,
    nativeState: job.nativeState,
    missedPolls: 0,
    exitCode: job.exitCode,
    reason: job.reason ?? attempt.reason,
    startedAt: job.startedAt ? job.startedAt.toISOString() : attempt.startedAt,
    endedAt: job.endedAt ? job.endedAt.toISOString() : isTerminalJobState(job.state) ? nowIso : null,
  }
  if (job.nodes && job.nodes.length > 0 && job.nodes.join() !== attempt.nodes.join()) patch.nodes = job.nodes
  const task = tasks.get(attempt.taskId)
  if (task && attempt.startedAt === null && patch.startedAt) {
    events.push({ type: 'task:started', taskId: attempt.taskId, message: `attempt ${attempt.attempt} started` })
    if (task.startedAt === null) patchTask(task.id, { startedAt: patch.startedAt })
  }
  if (job.state === 'succeeded' && task) {
    if (observation.outputsError) {
      patch.state = 'failed'
      patch.reason = observation.outputsError
    } else {
      patchTask(task.id, { outputs: observation.outputs ?? null })
    }
  }
  patchAttempt(attempt, patch)
}

function expandTemplate(
  template: Mutable<TaskSnapshot>,
  definition: ResolvedTask,
  tasks: Map<string, Mutable<TaskSnapshot>>,
  nowIso: string,
  patchTask: (id: string, patch: TaskPatch) => void,
  events: PlannedEvent[],
  newTasks: TaskInstance[],
  groups: Map<string, TaskSnapshot[]>,
): void {
  const source = definition.foreach as { task: string; output: string }
  const upstream = tasks.get(source.task) ?? (groups.get(source.task) ?? [])[0]
  const list = upstream?.outputs?.[source.output]
  if (!Array.isArray(list)) {
    const reason = `foreach: ${source.task} did not write a list under "${source.output}" in its outputs (got ${list === undefined ? 'nothing' : typeof list})`
    patchTask(template.id, { state: 'failed', reason, endedAt: nowIso })
    events.push({ type: 'task:failed', taskId: template.id, message: reason })
    return
  }
  let instances: TaskInstance[]
  try {
    instances = expandForeach(definition, list)
  } catch (error) {
    const reason = `foreach: ${error instanceof Error ? error.message : String(error)}`
    patchTask(template.id, { state: 'failed', reason, endedAt: nowIso })
    events.push({ type: 'task:failed', taskId: template.id, message: reason })
    return
  }
  patchTask(template.id, { state: 'expanded', reason: `fanned out into ${instances.length} tasks`, endedAt: nowIso })
  events.push({
    type: 'task:expanded',
    taskId: template.id,
    message: `fanned out into ${instances.length} tasks`,
    data: { count: instances.length },
  })
  const members = groups.get(definition.name) ?? []
  for (const instance of instances) {
    const task: Mutable<TaskSnapshot> = newTaskSnapshot(instance)
    tasks.set(task.id, task)
    members.push(task)
    newTasks.push(instance)
  }
  groups.set(definition.name, members)
}

interface ReadyTask {
  readonly task: Mutable<TaskSnapshot>
  /** Upstream tasks still in flight (native dependencies); empty when every upstream is done. */
  readonly deps: readonly { readonly taskId: string; readonly condition: 'succeeded' | 'finished' }[]
}

function scheduleReady(
  ready: ReadyTask[],
  snapshot: RunSnapshot,
  tasks: ReadonlyMap<string, TaskSnapshot>,
  attempts: ReadonlyMap<string, AttemptSnapshot>,
  definitions: ReadonlyMap<string, ResolvedTask>,
  options: PlanOptions,
  patchTask: (id: string, patch: TaskPatch) => void,
  submissions: PlannedSubmission[],
): void {
  const inFlight = [...attempts.values()].filter(
    (a) =>
      tasks.get(a.taskId)?.state === 'active' && (a.state === 'submitting' || !isTerminalJobState(a.state as JobState)),
  )
  let free = options.capacity
    ? remainingCapacity(
        options.capacity,
        inFlight
          .map((a) => definitions.get(tasks.get(a.taskId)?.group ?? '')?.resources)
          .filter((r) => r !== undefined),
      )
    : null
  let slots = options.maxActive - inFlight.length
  const priority = computePriorities(snapshot.pipeline)
  const order = new Map(snapshot.pipeline.tasks.map((t, i) => [t.name, i]))
  // an upstream's critical path is never shorter than its dependent's, and ties keep topological
  // order: upstreams submitted in this tick come before their dependents
  const ordered = [...ready].sort(
    (a, b) =>
      (priority.get(b.task.group) ?? 0) - (priority.get(a.task.group) ?? 0) ||
      (order.get(a.task.group) ?? 0) - (order.get(b.task.group) ?? 0) ||
      compareIds(a.task.id, b.task.id),
  )
  const keys = new Map<string, string>()
  const inFlightByGroup = new Map<string, number>()
  for (const a of inFlight) {
    const group = tasks.get(a.taskId)?.group ?? ''
    inFlightByGroup.set(group, (inFlightByGroup.get(group) ?? 0) + 1)
  }
  for (const { task, deps } of ordered) {
    if (slots <= 0) break
    const limit = (definitions.get(task.group) as ResolvedTask).maxParallel
    if (limit !== null && !options.schedulerThrottles && (inFlightByGroup.get(task.group) ?? 0) >= limit) continue
    const dependsOn: NativeDependency[] = []
    let blocked = false
    for (const dep of deps) {
      const key = keys.get(dep.taskId) ?? activeKey(tasks.get(dep.taskId), attempts)
      if (key === null) {
        blocked = true
        break
      }
      dependsOn.push({ taskId: dep.taskId, submissionKey: key, condition: dep.condition })
    }
    if (blocked) continue
    const definition = definitions.get(task.group) as ResolvedTask
    const resources = definition.resources
    if (free && !fitsCapacity(free, resources)) continue
    const verdict = options.admit?.(task, definition) ?? { kind: 'admit' }
    if (verdict.kind === 'wait') {
      if (task.reason !== verdict.reason) patchTask(task.id, { reason: verdict.reason })
      continue
    }
    if (free) free = reserve(free, resources)
    slots--
    inFlightByGroup.set(task.group, (inFlightByGroup.get(task.group) ?? 0) + 1)
    const attempt = task.attempts + 1
    const submissionKey = submissionKeyFor(snapshot.id, task.id, attempt)
    keys.set(task.id, submissionKey)
    patchTask(task.id, {
      state: 'active',
      attempts: attempt,
      nextAttemptAt: null,
      ...(verdict.kind === 'hold' ? { reason: verdict.reason } : {}),
    })
    submissions.push({
      taskId: task.id,
      attempt,
      submissionKey,
      resend: false,
      dependsOn,
      ...(verdict.kind === 'hold' ? { hold: verdict.reason } : {}),
    })
  }
}

/** `train.2` before `train.10`. */
export function compareIds(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true })
}

function decideRunState(current: RunState, tasks: ReadonlyMap<string, TaskSnapshot>): RunState {
  if (current !== 'running') return current
  const all = [...tasks.values()]
  if (!all.every((t) => isTerminalTaskState(t.state))) return 'running'
  const bad = all.some((t) => t.state === 'failed' || t.state === 'upstream_failed' || t.state === 'cancelled')
  return bad ? 'failed' : 'succeeded'
}

export type { ResolvedPipeline }
