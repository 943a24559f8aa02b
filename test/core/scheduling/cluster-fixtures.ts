/**
 * Several runs planned together by planCluster, tick by tick, on one in-memory world: each run's
 * snapshot, what the scheduler says about a run's attempt, and the plans applied the way the engine
 * applies them (new attempts get a job id as soon as they are planned).
 */
import type { JobState } from '../../../src/core/job/job-state.js'
import { type ClusterPlanOptions, planCluster } from '../../../src/core/scheduling/plan-cluster.js'
import type { AttemptObservation, AttemptSnapshot, RunSnapshot } from '../../../src/core/scheduling/run-snapshot.js'
import type { TickPlan } from '../../../src/core/scheduling/tick-plan.js'
import { asNativeJobId } from '../../../src/scheduler/scheduler-adapter.js'
import { applyPlanToSnapshot, pipelineOf, snapshotOf, T0 } from '../../support/fixtures.js'

export interface WorldRun {
  snapshot: RunSnapshot
  /** The run's cluster (for its tasks without their own). */
  readonly cluster: string
  readonly rank: number
}

/** A run of the pipeline in `yaml`, all tasks pending. */
export function runOf(id: string, yaml: string, cluster = 'hpc', rank = 0): WorldRun {
  return { snapshot: snapshotOf(pipelineOf(yaml), 'running', id), cluster, rank }
}

export class ClusterWorld {
  readonly runs: WorldRun[]
  now = T0

  constructor(runs: WorldRun[]) {
    this.runs = runs
  }

  /** Plan one tick of `cluster` over every run (with the observations given) and apply the plans. */
  tick(
    cluster: string,
    observations: readonly AttemptObservation[] = [],
    options: Partial<Omit<ClusterPlanOptions, 'cluster' | 'now'>> = {},
  ): ReadonlyMap<string, TickPlan> {
    const plans = planCluster(
      this.runs.map((run) => ({
        snapshot: run.snapshot,
        observations: observations.filter((o) => o.submissionKey.startsWith(`rpo.${run.snapshot.id}.`)),
        cluster: run.cluster,
        rank: run.rank,
      })),
      { capacity: null, maxActive: 1000, lostAfterMissedPolls: 3, ...options, cluster, now: this.now },
    )
    for (const run of this.runs) {
      const plan = plans.get(run.snapshot.id)
      if (plan) run.snapshot = applyPlanToSnapshot(run.snapshot, plan, this.now)
    }
    return plans
  }

  run(id: string): WorldRun {
    const run = this.runs.find((r) => r.snapshot.id === id)
    if (!run) throw new Error(`no run ${id}`)
    return run
  }

  attempt(runId: string, taskId: string): AttemptSnapshot {
    const attempt = this.run(runId).snapshot.latestAttempts.find((a) => a.taskId === taskId)
    if (!attempt) throw new Error(`no attempt of ${runId}/${taskId}`)
    return attempt
  }

  taskState(runId: string, taskId: string): string {
    return this.run(runId).snapshot.tasks.find((t) => t.id === taskId)?.state ?? 'absent'
  }

  /** What the scheduler says about the latest attempt of a run's task. */
  observe(runId: string, taskId: string, state: JobState): AttemptObservation {
    const attempt = this.attempt(runId, taskId)
    const ended = state !== 'pending' && state !== 'running'
    return {
      kind: 'observed',
      submissionKey: attempt.submissionKey,
      job: {
        jobId: asNativeJobId(attempt.jobId ?? 'none'),
        state,
        nativeState: state.toUpperCase(),
        exitCode: state === 'succeeded' ? 0 : state === 'failed' ? 1 : null,
        reason: null,
        startedAt: new Date(this.now - 1000),
        endedAt: ended ? new Date(this.now) : null,
      },
      outputs: null,
      outputsError: null,
    }
  }
}

/** Options of a tick of cluster `hpc` at T0 with no limits but those given. */
export function clusterOptions(overrides: Partial<ClusterPlanOptions> = {}): ClusterPlanOptions {
  return { now: T0, capacity: null, maxActive: 1000, lostAfterMissedPolls: 3, cluster: 'hpc', ...overrides }
}

/** `run/task` of every submission of the plans, in the order planned across runs. */
export function submitted(plans: ReadonlyMap<string, TickPlan>): string[] {
  return [...plans].flatMap(([runId, plan]) => plan.submissions.map((s) => `${runId}/${s.taskId}`))
}
