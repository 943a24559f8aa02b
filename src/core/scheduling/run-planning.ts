/**
 * One run's planning context for a tick: its tasks and latest attempts as planning changes them,
 * its task definitions and which cluster each runs on, the rules the tick is planned under, and the
 * plan being built (patches, events, submissions, cancellations, new tasks). The planner's steps
 * (observe-fold.ts, ready-walk.ts, cluster-admission.ts) read and write through it rather than
 * passing that state around as positional parameters. Tasks and attempts are copied on their first
 * change only (a run with nothing to change copies nothing); read them through `tasks`, `attempts`
 * and `groups()` after a change, never through a reference taken before it. Pure.
 */
import type { TaskInstance } from '../pipeline/expand-pipeline.js'
import type { ResolvedTask } from '../pipeline/resolved-pipeline.js'
import { type PipelineIndex, pipelineIndex } from './pipeline-index.js'
import type { AttemptSnapshot, RunSnapshot, RunState, TaskSnapshot } from './run-snapshot.js'
import type {
  AttemptPatch,
  PlannedCancellation,
  PlannedEvent,
  PlannedSubmission,
  TaskPatch,
  TickPlan,
} from './tick-plan.js'

export type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** What a tick is planned under, the same for every run of it. */
export interface PlanningRules {
  readonly now: number
  /** `now` as an ISO timestamp, formatted once per tick. */
  readonly nowIso: string
  readonly lostAfterMissedPolls: number
  readonly nativeDependencies: boolean
  readonly schedulerThrottles: boolean
  readonly wholeArrayDependencies: boolean
  /** The cluster this tick submits to. */
  readonly cluster: string
}

export class RunPlanning {
  readonly snapshot: RunSnapshot
  readonly rules: PlanningRules
  readonly nowIso: string
  /** The policy rank of the run's ready work: higher goes first across runs. */
  readonly rank: number
  /** The run's tasks by id, as planning changed them so far. */
  readonly tasks: Map<string, TaskSnapshot>
  /** The latest attempt of each task, by task id. */
  readonly attempts: Map<string, AttemptSnapshot>
  readonly taskUpdates = new Map<string, TaskPatch>()
  readonly attemptUpdates = new Map<string, AttemptPatch>()
  readonly events: PlannedEvent[] = []
  readonly submissions: PlannedSubmission[] = []
  readonly cancellations: PlannedCancellation[] = []
  readonly newTasks: TaskInstance[] = []
  /** Attempts written but never seen by the scheduler: sent again under the same key. */
  readonly resends: AttemptSnapshot[] = []
  readonly #index: PipelineIndex
  readonly #clusterOf: (definition: ResolvedTask) => string
  /** Tasks and attempts (by task id) this planning owns: copies made on a first change, or new. */
  #ownTasks: Set<string> | null = null
  #ownAttempts: Set<string> | null = null
  #groups: Map<string, TaskSnapshot[]> | null = null
  /** Each task's place in its group's list, once a task is replaced there (most runs never do). */
  #places: Map<string, number> | null = null

  /**
   * @param clusterOf the cluster a task definition runs on (its own `cluster:`, else the run's)
   */
  constructor(
    snapshot: RunSnapshot,
    rank: number,
    rules: PlanningRules,
    clusterOf: (definition: ResolvedTask) => string,
  ) {
    this.snapshot = snapshot
    this.rank = rank
    this.rules = rules
    this.nowIso = rules.nowIso
    this.tasks = new Map()
    for (const task of snapshot.tasks) this.tasks.set(task.id, task)
    this.attempts = new Map()
    for (const attempt of snapshot.latestAttempts) this.attempts.set(attempt.taskId, attempt)
    this.#index = pipelineIndex(snapshot.pipeline)
    this.#clusterOf = clusterOf
  }

  /** The definition of a task's step (every task belongs to a step of the run's pipeline). */
  definitionOf(task: TaskSnapshot): ResolvedTask {
    return this.#index.definitions.get(task.group) as ResolvedTask
  }

  /** The cluster a step's tasks run on. */
  clusterOfStep(step: string): string {
    const definition = this.#index.definitions.get(step)
    return definition ? this.#clusterOf(definition) : this.rules.cluster
  }

  /** Whether this tick's cluster is where the step's tasks run: only those are submitted or cancelled here. */
  isLocal(step: string): boolean {
    return this.clusterOfStep(step) === this.rules.cluster
  }

  /** isLocal, given the step's definition. */
  runsHere(definition: ResolvedTask): boolean {
    return this.#clusterOf(definition) === this.rules.cluster
  }

  /** Critical-path length of each step (the run's own priority order). */
  get priorities(): ReadonlyMap<string, number> {
    return this.#index.priorities
  }

  /** Each step's position in the pipeline's topological order. */
  get topologicalOrder(): ReadonlyMap<string, number> {
    return this.#index.topologicalOrder
  }

  /** The run's tasks by step, in creation order; kept current as tasks change or are added. */
  groups(): Map<string, TaskSnapshot[]> {
    if (this.#groups === null) {
      const groups = new Map<string, TaskSnapshot[]>()
      for (const task of this.tasks.values()) {
        const list = groups.get(task.group)
        if (list) list.push(task)
        else groups.set(task.group, [task])
      }
      this.#groups = groups
    }
    return this.#groups
  }

  /** Put a task's copy where the original was in its group's list. */
  #replaceInGroup(task: TaskSnapshot): void {
    if (this.#groups === null) return
    if (this.#places === null) {
      const places = new Map<string, number>()
      for (const list of this.#groups.values()) {
        for (let i = 0; i < list.length; i++) places.set((list[i] as TaskSnapshot).id, i)
      }
      this.#places = places
    }
    const place = this.#places.get(task.id)
    const list = this.#groups.get(task.group)
    if (place !== undefined && list) list[place] = task
  }

  /** A task made by planning (a fan-out's instance): owned from the start. */
  addTask(task: TaskSnapshot): void {
    this.tasks.set(task.id, task)
    this.#ownTasks ??= new Set()
    this.#ownTasks.add(task.id)
    if (this.#groups === null) return
    const list = this.#groups.get(task.group)
    this.#places?.set(task.id, list ? list.length : 0)
    if (list) list.push(task)
    else this.#groups.set(task.group, [task])
  }

  patchTask(id: string, patch: TaskPatch): void {
    let task = this.tasks.get(id) as TaskSnapshot
    this.#ownTasks ??= new Set()
    if (!this.#ownTasks.has(id)) {
      task = { ...task }
      this.#ownTasks.add(id)
      this.tasks.set(id, task)
      this.#replaceInGroup(task)
    }
    Object.assign(task, patch)
    const before = this.taskUpdates.get(id)
    this.taskUpdates.set(id, before ? { ...before, ...patch } : patch)
  }

  /**
   * Change the task's latest attempt; returns it as changed (earlier references to it are stale).
   * A patch that says what the attempt already holds (a poll of a job whose state, reason and
   * times are as they were) changes nothing: no copy and no update, so a round in which no job
   * moved writes no attempt and reports no change.
   */
  patchAttempt(attempt: AttemptSnapshot, patch: AttemptPatch): AttemptSnapshot {
    let current = this.attempts.get(attempt.taskId) ?? attempt
    if (holdsAlready(current, patch)) return current
    this.#ownAttempts ??= new Set()
    if (!this.#ownAttempts.has(attempt.taskId)) {
      current = { ...current }
      this.#ownAttempts.add(attempt.taskId)
      this.attempts.set(attempt.taskId, current)
    }
    Object.assign(current, patch)
    const before = this.attemptUpdates.get(current.submissionKey)
    this.attemptUpdates.set(current.submissionKey, before ? { ...before, ...patch } : patch)
    return current
  }

  event(event: PlannedEvent): void {
    this.events.push(event)
  }

  toPlan(runState: RunState): TickPlan {
    return {
      cancellations: this.cancellations,
      attemptUpdates: this.attemptUpdates,
      taskUpdates: this.taskUpdates,
      newTasks: this.newTasks,
      submissions: this.submissions,
      runState,
      events: this.events,
    }
  }
}

/** Whether every field of the patch already has that value on the attempt (node lists compared by their names). */
function holdsAlready(attempt: AttemptSnapshot, patch: AttemptPatch): boolean {
  for (const key in patch) {
    const held = attempt[key as keyof AttemptSnapshot]
    const given = patch[key as keyof AttemptPatch]
    if (held === given) continue
    if (!Array.isArray(held) || !Array.isArray(given) || !sameList(held, given)) return false
  }
  return true
}

function sameList(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i])
}
