/**
 * One run's planning context for a tick: its tasks and latest attempts as planning changes them,
 * its task definitions and which cluster each runs on, the rules the tick is planned under, and the
 * plan being built (patches, events, submissions, cancellations, new tasks). The planner's steps
 * (observe-fold.ts, ready-walk.ts, cluster-admission.ts) read and write through it rather than
 * passing that state around as positional parameters. Pure.
 */
import type { TaskInstance } from '../pipeline/expand-pipeline.js'
import type { ResolvedTask } from '../pipeline/resolved-pipeline.js'
import { computePriorities } from './priority.js'
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
  readonly tasks: Map<string, Mutable<TaskSnapshot>>
  /** The latest attempt of each task, by task id. */
  readonly attempts: Map<string, Mutable<AttemptSnapshot>>
  readonly taskUpdates = new Map<string, TaskPatch>()
  readonly attemptUpdates = new Map<string, AttemptPatch>()
  readonly events: PlannedEvent[] = []
  readonly submissions: PlannedSubmission[] = []
  readonly cancellations: PlannedCancellation[] = []
  readonly newTasks: TaskInstance[] = []
  /** Attempts written but never seen by the scheduler: sent again under the same key. */
  readonly resends: Mutable<AttemptSnapshot>[] = []
  readonly #definitions: ReadonlyMap<string, ResolvedTask>
  readonly #clusters: ReadonlyMap<string, string>
  #priorities: ReadonlyMap<string, number> | null = null
  #order: ReadonlyMap<string, number> | null = null

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
    this.nowIso = new Date(rules.now).toISOString()
    this.tasks = new Map(snapshot.tasks.map((t) => [t.id, { ...t }]))
    this.attempts = new Map(snapshot.latestAttempts.map((a) => [a.taskId, { ...a }]))
    this.#definitions = new Map(snapshot.pipeline.tasks.map((t) => [t.name, t]))
    this.#clusters = new Map(snapshot.pipeline.tasks.map((t) => [t.name, clusterOf(t)]))
  }

  /** The definition of a task's step (every task belongs to a step of the run's pipeline). */
  definitionOf(task: TaskSnapshot): ResolvedTask {
    return this.#definitions.get(task.group) as ResolvedTask
  }

  /** The cluster a step's tasks run on. */
  clusterOfStep(step: string): string {
    return this.#clusters.get(step) ?? this.rules.cluster
  }

  /** Whether this tick's cluster is where the step's tasks run: only those are submitted or cancelled here. */
  isLocal(step: string): boolean {
    return this.clusterOfStep(step) === this.rules.cluster
  }

  /** Critical-path length of each step (the run's own priority order). */
  get priorities(): ReadonlyMap<string, number> {
    this.#priorities ??= computePriorities(this.snapshot.pipeline)
    return this.#priorities
  }

  /** Each step's position in the pipeline's topological order. */
  get topologicalOrder(): ReadonlyMap<string, number> {
    this.#order ??= new Map(this.snapshot.pipeline.tasks.map((t, i) => [t.name, i]))
    return this.#order
  }

  patchTask(id: string, patch: TaskPatch): void {
    Object.assign(this.tasks.get(id) as object, patch)
    this.taskUpdates.set(id, { ...this.taskUpdates.get(id), ...patch })
  }

  patchAttempt(attempt: Mutable<AttemptSnapshot>, patch: AttemptPatch): void {
    Object.assign(attempt, patch)
    this.attemptUpdates.set(attempt.submissionKey, { ...this.attemptUpdates.get(attempt.submissionKey), ...patch })
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
