/**
 * Pipeline and snapshot builders for the planner and store tests: a pipeline from YAML text, a
 * run snapshot from its instances, scheduler observations, and a tiny driver that applies one
 * tick's plan the way the engine does (new attempts get a job id as soon as they are planned).
 */

import { type LoadedPipeline, loadPipelineText } from '../../src/config/load-pipeline.js'
import type { JobState } from '../../src/core/job/job-state.js'
import type { TaskInstance } from '../../src/core/pipeline/expand-pipeline.js'
import { type PlanOptions, planTick, type TickPlan } from '../../src/core/scheduling/plan-tick.js'
import type {
  AttemptObservation,
  AttemptSnapshot,
  RunSnapshot,
  RunState,
  TaskSnapshot,
} from '../../src/core/scheduling/run-snapshot.js'
import { newTaskSnapshot } from '../../src/core/scheduling/run-snapshot.js'
import { buildJobSubmission } from '../../src/engine/job-submission.js'
import { asNativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import type { NewRun, PlanWrite, RunRecord } from '../../src/store/run-store.js'

export const T0 = Date.parse('2025-03-01T12:00:00.000Z')

export function pipelineOf(yaml: string, file = 'pipeline.yaml'): LoadedPipeline {
  return loadPipelineText(file, yaml)
}

/** A new run of a loaded pipeline on cluster `local`, created at `now` (ISO), with `overrides`. */
export function newRunOf(loaded: LoadedPipeline, id: string, now: string, overrides: Partial<NewRun> = {}): NewRun {
  return {
    id,
    pipeline: loaded.pipeline,
    instances: loaded.instances,
    cluster: 'local',
    specHash: loaded.specHash,
    sourceFile: loaded.file,
    workDir: loaded.workDir,
    now,
    ...overrides,
  }
}

/** A store plan write that changes nothing, written at T0 + 60 s, with `overrides`. */
export function planWrite(overrides: Partial<PlanWrite> = {}): PlanWrite {
  return {
    taskUpdates: new Map(),
    attemptUpdates: new Map(),
    newTasks: [],
    newAttempts: [],
    events: [],
    runState: 'running',
    now: new Date(T0 + 60_000).toISOString(),
    ...overrides,
  }
}

/** A task's attempt as a plan first writes it: being submitted, under the run's submission key. */
export const submitting = (runId: string, taskId: string, attempt = 1): AttemptSnapshot =>
  attemptOf(taskId, attempt, { submissionKey: `rpo.${runId}.${taskId}.${attempt}`, state: 'submitting', jobId: null })

export function pendingTask(instance: TaskInstance): TaskSnapshot {
  return newTaskSnapshot(instance)
}

export function snapshotOf(loaded: LoadedPipeline, state: RunState = 'running', id = 'run1'): RunSnapshot {
  return { id, state, pipeline: loaded.pipeline, tasks: loaded.instances.map(pendingTask), latestAttempts: [] }
}

export function attemptOf(taskId: string, attempt: number, overrides: Partial<AttemptSnapshot> = {}): AttemptSnapshot {
  const submissionKey = `rpo.run1.${taskId}.${attempt}`
  return {
    taskId,
    attempt,
    submissionKey,
    jobId: `job-${submissionKey}`,
    state: 'pending',
    nativeState: null,
    exitCode: null,
    reason: null,
    submittedAt: new Date(T0).toISOString(),
    startedAt: null,
    endedAt: null,
    missedPolls: 0,
    nodes: [],
    ...overrides,
  }
}

export function defaultOptions(now: number, overrides: Partial<PlanOptions> = {}): PlanOptions {
  return { now, capacity: null, maxActive: 1000, lostAfterMissedPolls: 3, ...overrides }
}

/** Freeze an object graph (Maps and Dates are frozen as objects; their contents stay readable). */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const inner of Object.values(value)) deepFreeze(inner)
  }
  return value
}

export interface ObservedExtra {
  readonly exitCode?: number | null
  readonly outputs?: Record<string, unknown> | null
  readonly outputsError?: string | null
  readonly reason?: string | null
  readonly nodes?: readonly string[]
}

/**
 * Drives the planner tick by tick over an in-memory snapshot, applying each plan as the engine
 * does: task and attempt patches, new foreach tasks, and new attempts that the scheduler accepted.
 */
export class PlanDriver {
  snapshot: RunSnapshot
  now: number
  options: Omit<PlanOptions, 'now'>

  constructor(yamlOrSnapshot: string | RunSnapshot, options: Partial<Omit<PlanOptions, 'now'>> = {}) {
    this.snapshot = typeof yamlOrSnapshot === 'string' ? snapshotOf(pipelineOf(yamlOrSnapshot)) : yamlOrSnapshot
    this.now = T0
    this.options = { capacity: null, maxActive: 1000, lostAfterMissedPolls: 3, ...options }
  }

  /** Plan one tick at `this.now` and apply it. */
  tick(observations: readonly AttemptObservation[] = []): TickPlan {
    const plan = planTick(this.snapshot, observations, { ...this.options, now: this.now })
    this.snapshot = applyPlanToSnapshot(this.snapshot, plan, this.now)
    return plan
  }

  advance(seconds: number): this {
    this.now += seconds * 1000
    return this
  }

  task(id: string): TaskSnapshot {
    const task = this.snapshot.tasks.find((t) => t.id === id)
    if (!task) throw new Error(`no task ${id} in the snapshot`)
    return task
  }

  attempt(taskId: string): AttemptSnapshot {
    const attempt = this.snapshot.latestAttempts.find((a) => a.taskId === taskId)
    if (!attempt) throw new Error(`no attempt of ${taskId} in the snapshot`)
    return attempt
  }

  /** What the scheduler says about the latest attempt of a task. */
  observe(taskId: string, state: JobState, extra: ObservedExtra = {}): AttemptObservation {
    const attempt = this.attempt(taskId)
    const ended = ['succeeded', 'failed', 'cancelled', 'timeout', 'out_of_memory', 'node_fail', 'preempted'].includes(
      state,
    )
    return {
      kind: 'observed',
      submissionKey: attempt.submissionKey,
      job: {
        jobId: asNativeJobId(attempt.jobId ?? 'none'),
        state,
        nativeState: state.toUpperCase(),
        exitCode: extra.exitCode ?? (state === 'succeeded' ? 0 : state === 'failed' ? 1 : null),
        reason: extra.reason ?? null,
        startedAt: new Date(this.now - 1000),
        endedAt: ended ? new Date(this.now) : null,
        ...(extra.nodes ? { nodes: extra.nodes } : {}),
      },
      outputs: extra.outputs ?? null,
      outputsError: extra.outputsError ?? null,
    }
  }

  missing(taskId: string): AttemptObservation {
    return { kind: 'missing', submissionKey: this.attempt(taskId).submissionKey }
  }
}

export function applyPlanToSnapshot(snapshot: RunSnapshot, plan: TickPlan, now: number): RunSnapshot {
  const tasks = [...snapshot.tasks, ...plan.newTasks.map(pendingTask)].map((task) => {
    const patch = plan.taskUpdates.get(task.id)
    return patch ? { ...task, ...patch } : task
  })
  const latest = new Map(snapshot.latestAttempts.map((a) => [a.taskId, a]))
  for (const [taskId, attempt] of latest) {
    const patch = plan.attemptUpdates.get(attempt.submissionKey)
    if (patch) latest.set(taskId, { ...attempt, ...patch })
  }
  for (const submission of plan.submissions) {
    const existing = latest.get(submission.taskId)
    latest.set(submission.taskId, {
      ...(existing?.submissionKey === submission.submissionKey ? existing : {}),
      taskId: submission.taskId,
      attempt: submission.attempt,
      submissionKey: submission.submissionKey,
      jobId: `job-${submission.submissionKey}`,
      state: 'pending',
      nativeState: null,
      exitCode: null,
      reason: null,
      submittedAt: new Date(now).toISOString(),
      startedAt: null,
      endedAt: null,
      missedPolls: 0,
      nodes: [],
    })
  }
  return { ...snapshot, state: plan.runState, tasks, latestAttempts: [...latest.values()] }
}

export function submittedIds(plan: TickPlan): string[] {
  return plan.submissions.map((s) => s.taskId)
}

/**
 * The job submission of a task's next attempt (or, with `ahead` 0, of its latest), as the engine
 * builds it for run `run1` of project vision, under submission key `k.<attempt>`.
 */
export function submissionOf(run: PlanDriver, taskId: string, ahead = 1) {
  const task = run.task(taskId)
  const definition = run.snapshot.pipeline.tasks.find((t) => t.name === task.group)
  if (!definition) throw new Error(`no definition for ${taskId}`)
  const record = { id: 'run1', pipelineName: 'demo', workDir: '/w', project: 'vision' } as unknown as RunRecord
  const attempt = task.attempts + ahead
  return buildJobSubmission(
    { jobsRoot: '/jobs', runsRoot: '/runs' },
    { run: record, task, definition, attempt, submissionKey: `k.${attempt}` },
  )
}
