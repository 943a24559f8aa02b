/**
 * The cluster tick's decision: every run on one cluster planned together. Each run is advanced on
 * its own (observations folded in, endings concluded, skips, upstream failures, fan-outs, queued
 * dependents cancelled, its state), then the ready work of all runs is admitted in one cross-run
 * order against the cluster's shared limits and budgets (cluster-admission.ts). A task runs on its
 * own `cluster:` or else its run's; only this cluster's tasks are submitted or cancelled here.
 * PURE and deterministic: the same runs and options give the same plans.
 */
import { RpoError } from '../errors.js'
import type { ResolvedTask } from '../pipeline/resolved-pipeline.js'
import { admitAcrossRuns } from './cluster-admission.js'
import { orderUpstreamsFirst } from './dependencies.js'
import { concludeEndings, foldObservations } from './observe-fold.js'
import { queueResends, type ReadyTask, walkPending } from './ready-walk.js'
import { RunPlanning } from './run-planning.js'
import {
  type AttemptObservation,
  isTerminalTaskState,
  type RunSnapshot,
  type RunState,
  type TaskSnapshot,
} from './run-snapshot.js'
import type { AdmissionVerdict, PlanOptions, TickPlan } from './tick-plan.js'

export interface RunPlanInput {
  readonly snapshot: RunSnapshot
  readonly observations: readonly AttemptObservation[]
  /** The cluster that this run's tasks without their own `cluster:` run on. */
  readonly cluster: string
  /** Policy rank of this run's ready work (importance, deadline slack, fair share, progress): higher goes first. @default 0 */
  readonly rank?: number
}

export interface ClusterPlanOptions extends Omit<PlanOptions, 'admit'> {
  /** The cluster this tick submits to: ready tasks of other clusters are left for their own cluster's tick. */
  readonly cluster: string
  /** Budget admission, asked per task in the one cross-run admission order (it may reserve what it admits). */
  readonly admit?: (run: RunSnapshot, task: TaskSnapshot, definition: ResolvedTask) => AdmissionVerdict
}

/**
 * One plan per run (by run id). Ready work of all runs goes in the order: run `rank` (higher
 * first), the run's critical path and topological order, run id, task id; `capacity`, `maxActive`
 * and `admit` are shared by all runs, `maxParallel` counts within a run.
 */
export function planCluster(runs: readonly RunPlanInput[], options: ClusterPlanOptions): ReadonlyMap<string, TickPlan> {
  return planRuns(runs, options, (definition, run) => definition.cluster ?? run.cluster)
}

/**
 * planCluster with the rule for where a task runs given; planTick puts every task of its one run
 * on the tick's cluster.
 */
export function planRuns(
  runs: readonly RunPlanInput[],
  options: ClusterPlanOptions,
  clusterOf: (definition: ResolvedTask, run: RunPlanInput) => string,
): ReadonlyMap<string, TickPlan> {
  const seen = new Set<string>()
  for (const run of runs) {
    if (seen.has(run.snapshot.id)) {
      throw new RpoError('internal', `run ${run.snapshot.id} was given twice to one cluster tick's planner`)
    }
    seen.add(run.snapshot.id)
  }
  const rules = {
    now: options.now,
    nowIso: new Date(options.now).toISOString(),
    lostAfterMissedPolls: options.lostAfterMissedPolls,
    nativeDependencies: options.nativeDependencies ?? false,
    schedulerThrottles: options.schedulerThrottles ?? false,
    wholeArrayDependencies: options.wholeArrayDependencies ?? false,
    cluster: options.cluster,
  }
  const plans: RunPlanning[] = []
  const ready: ReadyTask[] = []
  for (const run of runs) {
    const rank = run.rank ?? 0
    // NaN would make the cross-run order inconsistent
    const plan = new RunPlanning(run.snapshot, Number.isNaN(rank) ? 0 : rank, rules, (d) => clusterOf(d, run))
    foldObservations(plan, run.observations)
    concludeEndings(plan)
    if (run.snapshot.state === 'running') for (const item of walkPending(plan)) ready.push(item)
    plans.push(plan)
  }
  admitAcrossRuns(plans, ready, {
    capacity: options.capacity,
    maxActive: options.maxActive,
    schedulerThrottles: rules.schedulerThrottles,
    ...(options.admit ? { admit: options.admit } : {}),
  })
  const result = new Map<string, TickPlan>()
  for (const plan of plans) {
    if (plan.snapshot.state === 'running') queueResends(plan)
    orderUpstreamsFirst(plan.submissions)
    const runState = decideRunState(plan.snapshot.state, plan.tasks)
    if (runState !== plan.snapshot.state && (runState === 'succeeded' || runState === 'failed')) {
      plan.event({ type: 'run:finished', taskId: null, message: `run ${runState}`, data: { state: runState } })
    }
    result.set(plan.snapshot.id, plan.toPlan(runState))
  }
  return result
}

/**
 * The clusters on which a run has unfinished tasks (its own for tasks without a `cluster:`), sorted:
 * the ticks that must include the run, since a cluster's tick decides only its own tasks.
 */
export function clustersWithWork(snapshot: RunSnapshot, cluster: string): string[] {
  const byStep = new Map(snapshot.pipeline.tasks.map((t) => [t.name, t.cluster ?? cluster]))
  const clusters = new Set<string>()
  for (const task of snapshot.tasks) {
    if (!isTerminalTaskState(task.state)) clusters.add(byStep.get(task.group) ?? cluster)
  }
  return [...clusters].sort()
}

function decideRunState(current: RunState, tasks: ReadonlyMap<string, TaskSnapshot>): RunState {
  if (current !== 'running') return current
  let bad = false
  for (const t of tasks.values()) {
    if (!isTerminalTaskState(t.state)) return 'running'
    if (t.state === 'failed' || t.state === 'upstream_failed' || t.state === 'cancelled') bad = true
  }
  return bad ? 'failed' : 'succeeded'
}
