/**
 * Expected vs actual for one run: when each task, stage and the run is expected to start and end,
 * the critical path of what remains and the stage that contributes most to it. Pure: the snapshot,
 * the history indexes and `now` in, numbers out (times in ms since the epoch, durations in seconds).
 *
 * Each stage (a task with its sweep/fan-out instances) has one expected duration d (duration-model)
 * and one expected queue wait w (queue-wait-model). Stages are walked in topological order; for an
 * instance of stage s, with U(s) = the latest projected end of its upstream stages' instances:
 *   finished (succeeded, failed, skipped, …)  end = its actual end (no projection)
 *   running (its attempt started at t0)       end = max(now, t0 + d)        (= now + max(0, d − elapsed))
 *   queued (submitted at ts, not started)     start = max(now, S) where the scheduler expects to start
 *                                             it at S (Slurm: squeue --start), else max(now, ts + w);
 *                                             end = start + d
 *   waiting (pending, retry wait)             ready = max(now, U(s), next attempt time);
 *                                             start = ready + w, end = start + d
 * With `maxParallel` k, waiting instances take the earliest of k lanes (lanes start at the ends of
 * the instances in flight): start = max(ready + w, lane free). Otherwise capacity is not modelled:
 * the projection is a critical path, not a schedule, and a cluster too full for the sweep shows up
 * only through the queue waits history measured.
 * A fan-out whose list is not known yet counts as one instance.
 *
 *   projected completion P = max(now, latest projected end)          (the run's end once it ended)
 *   remaining critical path = P − now
 *   planned (baseline)       = the same walk from the run's creation with nothing done yet
 * Critical path: from the stage that ends last, step to its upstream stage that ends last, while
 * that one ends after now. A stage's contribution = its end − max(now, its binding upstream's end);
 * the contributions add up to the remaining critical path. Bottleneck = the stage with the largest
 * contribution (ties: the one earlier on the path). Monotone: longer durations or waits never make
 * any projected end earlier.
 */
import type { ResolvedTask } from '../pipeline/resolved-pipeline.js'
import type { AttemptSnapshot, RunSnapshot, TaskSnapshot, TaskState } from '../scheduling/run-snapshot.js'
import { type DurationEstimate, type DurationHistory, estimateTaskDuration } from './duration-model.js'
import { estimateQueueWait, type QueueWaitEstimate, type QueueWaitHistory, queueKeyOf } from './queue-wait-model.js'

export interface RunProjectionInput {
  readonly snapshot: RunSnapshot
  /** The run's own cluster (a task without `cluster:` runs there). */
  readonly cluster: string
  /** ms since the epoch. */
  readonly createdAt: number
  /** ms; null while the run has not ended. */
  readonly finishedAt: number | null
  readonly durations: DurationHistory
  readonly waits: QueueWaitHistory
  readonly now: number
}

export interface Span {
  readonly start: number | null
  readonly end: number | null
}

export interface PlannedSpan {
  readonly start: number
  readonly end: number
}

export interface TaskProjection {
  readonly id: string
  readonly stage: string
  readonly state: TaskState
  readonly finished: boolean
  readonly expected: DurationEstimate
  readonly wait: QueueWaitEstimate
  /**
   * ms; when the scheduler itself expects this queued job to start, preferred to `wait` for its
   * projected start; null when it gave no estimate or the task is not queued.
   */
  readonly schedulerStart: number | null
  /** Baseline: as expected from the run's start. */
  readonly planned: PlannedSpan
  /** Actual where known, projected otherwise; both set for every unfinished task. */
  readonly projected: Span
  readonly actual: Span
}

export interface StageProjection {
  readonly stage: string
  readonly instances: number
  readonly finished: number
  readonly expected: DurationEstimate
  readonly wait: QueueWaitEstimate
  readonly planned: PlannedSpan
  readonly projected: Span
  /** Start of the first instance; end once every instance finished. */
  readonly actual: Span
  /** Seconds of the remaining critical path this stage is responsible for (0 off the path). */
  readonly criticalSeconds: number
}

/** What ranking needs of a run (no per-task rows, no baseline): `projectRunSummary`. */
export interface RunProjectionSummary {
  readonly now: number
  readonly finished: boolean
  /** The projected completion (the actual end once the run ended). */
  readonly projectedEnd: number
  readonly actualEnd: number | null
  readonly remainingCriticalPathSeconds: number
  /** Stages on the remaining critical path, first to last. */
  readonly criticalPath: readonly string[]
  readonly bottleneck: string | null
  /** Expected seconds of every task instance, and of those that succeeded or were skipped. */
  readonly expectedWorkSeconds: number
  readonly doneWorkSeconds: number
}

export interface RunProjection extends RunProjectionSummary {
  readonly plannedEnd: number
  readonly tasks: readonly TaskProjection[]
  readonly stages: readonly StageProjection[]
}

const FINISHED: ReadonlySet<TaskState> = new Set<TaskState>([
  'succeeded',
  'failed',
  'cancelled',
  'skipped',
  'upstream_failed',
])

type Phase =
  | { kind: 'finished'; start: number | null; end: number | null }
  | { kind: 'running'; start: number }
  | { kind: 'queued'; submitted: number; schedulerStart: number | null }
  | { kind: 'waiting'; notBefore: number | null }

interface StagePlan {
  readonly definition: ResolvedTask
  readonly expected: DurationEstimate
  readonly wait: QueueWaitEstimate
  readonly tasks: TaskSnapshot[]
}

/** The projection without per-task rows or the baseline: what the priority policy reads every round. */
export function projectRunSummary(input: RunProjectionInput): RunProjectionSummary {
  return projectCurrent(input).summary
}

function projectCurrent(input: RunProjectionInput) {
  const { snapshot, now } = input
  const stages = stagePlans(input)
  const attempts = new Map(snapshot.latestAttempts.map((a) => [a.taskId, a]))
  const phases = new Map<string, Phase>()
  let expectedWork = 0
  let doneWork = 0
  for (const stage of stages) {
    for (const task of stage.tasks) {
      phases.set(task.id, phaseOf(task, attempts.get(task.id)))
      expectedWork += stage.expected.seconds
      if (task.state === 'succeeded' || task.state === 'skipped') doneWork += stage.expected.seconds
    }
  }
  const current = walk(stages, (t) => phases.get(t.id) as Phase, now)
  const finished = input.finishedAt !== null
  const latest = maxOf([...current.stageEnds.values()])
  const projectedEnd = finished ? (input.finishedAt as number) : Math.max(now, latest ?? now)
  const path = finished
    ? { stages: [], contribution: new Map<string, number>() }
    : criticalPath(stages, current.stageEnds, now)
  const summary: RunProjectionSummary = {
    now,
    finished,
    projectedEnd,
    actualEnd: finished ? (input.finishedAt as number) : null,
    remainingCriticalPathSeconds: finished ? 0 : (projectedEnd - now) / 1000,
    criticalPath: path.stages,
    bottleneck: bottleneckOf(path.stages, path.contribution),
    expectedWorkSeconds: expectedWork,
    doneWorkSeconds: doneWork,
  }
  return { stages, phases, current, path, summary }
}

export function projectRun(input: RunProjectionInput): RunProjection {
  const { stages, phases, current, path, summary } = projectCurrent(input)
  const baseline = walk(stages, () => WAITING, input.createdAt)
  const plannedEnd = maxOf([...baseline.stageEnds.values()]) ?? input.createdAt
  const tasks: TaskProjection[] = []
  const stageRows: StageProjection[] = []
  for (const stage of stages) {
    const actualStarts: number[] = []
    const actualEnds: number[] = []
    let finishedCount = 0
    for (const task of stage.tasks) {
      const phase = phases.get(task.id) as Phase
      const actual = actualSpan(task, phase)
      const done = phase.kind === 'finished'
      if (done) finishedCount++
      if (actual.start !== null) actualStarts.push(actual.start)
      if (actual.end !== null) actualEnds.push(actual.end)
      tasks.push({
        id: task.id,
        stage: stage.definition.name,
        state: task.state,
        finished: done,
        expected: stage.expected,
        wait: stage.wait,
        schedulerStart: phase.kind === 'queued' ? phase.schedulerStart : null,
        planned: baseline.spans.get(task.id) as PlannedSpan,
        projected: current.spans.get(task.id) as Span,
        actual,
      })
    }
    const name = stage.definition.name
    stageRows.push({
      stage: name,
      instances: stage.tasks.length,
      finished: finishedCount,
      expected: stage.expected,
      wait: stage.wait,
      planned: {
        start: minOf(stage.tasks.map((t) => baseline.spans.get(t.id)?.start ?? null)) ?? input.createdAt,
        end: baseline.stageEnds.get(name) ?? input.createdAt,
      },
      projected: {
        start: minOf(stage.tasks.map((t) => current.spans.get(t.id)?.start ?? null)),
        end: current.stageEnds.get(name) ?? null,
      },
      actual: {
        start: minOf(actualStarts),
        end: finishedCount === stage.tasks.length && stage.tasks.length > 0 ? maxOf(actualEnds) : null,
      },
      criticalSeconds: path.contribution.get(name) ?? 0,
    })
  }
  return { ...summary, plannedEnd, tasks, stages: stageRows }
}

const WAITING: Phase = { kind: 'waiting', notBefore: null }

/** Every stage with its estimates and its live instances, in the pipeline's topological order. */
function stagePlans(input: RunProjectionInput): StagePlan[] {
  const pipeline = input.snapshot.pipeline
  const byGroup = new Map<string, TaskSnapshot[]>()
  for (const task of input.snapshot.tasks) {
    // an expanded fan-out template stands for nothing: its instances are there
    if (task.state === 'expanded') continue
    const list = byGroup.get(task.group)
    if (list) list.push(task)
    else byGroup.set(task.group, [task])
  }
  return pipeline.tasks.map((definition) => ({
    definition,
    expected: estimateTaskDuration(input.durations, pipeline.name, definition),
    wait: estimateQueueWait(input.waits, queueKeyOf(definition, input.cluster)),
    tasks: byGroup.get(definition.name) ?? [],
  }))
}

function phaseOf(task: TaskSnapshot, attempt: AttemptSnapshot | undefined): Phase {
  if (FINISHED.has(task.state)) {
    const end = timeOf(task.endedAt) ?? timeOf(attempt?.endedAt ?? null)
    return { kind: 'finished', start: timeOf(task.startedAt) ?? timeOf(attempt?.startedAt ?? null), end }
  }
  if (task.state === 'active' && attempt) {
    const started = timeOf(attempt.startedAt)
    if (started !== null) return { kind: 'running', start: started }
    const submitted = timeOf(attempt.submittedAt)
    if (submitted !== null)
      return { kind: 'queued', submitted, schedulerStart: timeOf(attempt.expectedStartAt ?? null) }
  }
  return { kind: 'waiting', notBefore: task.state === 'retry_wait' ? timeOf(task.nextAttemptAt) : null }
}

function actualSpan(task: TaskSnapshot, phase: Phase): Span {
  if (phase.kind === 'finished') return { start: phase.start, end: phase.end }
  const start = timeOf(task.startedAt) ?? (phase.kind === 'running' ? phase.start : null)
  return { start, end: null }
}

interface Walk {
  readonly spans: Map<string, Span & PlannedSpan>
  /** The latest end of each stage's instances; absent when none has a time. */
  readonly stageEnds: Map<string, number>
}

function walk(stages: readonly StagePlan[], phaseOfTask: (task: TaskSnapshot) => Phase, now: number): Walk {
  const spans = new Map<string, Span & PlannedSpan>()
  const stageEnds = new Map<string, number>()
  for (const stage of stages) {
    const d = stage.expected.seconds * 1000
    const w = stage.wait.seconds * 1000
    const upstream = maxOf(stage.definition.after.map((dep) => stageEnds.get(dep.task) ?? null))
    const ready = Math.max(now, upstream ?? now)
    const ends: number[] = []
    const inFlight: number[] = []
    const waiting: TaskSnapshot[] = []
    for (const task of stage.tasks) {
      const phase = phaseOfTask(task)
      if (phase.kind === 'finished') {
        // no time recorded (skipped before it ran): it constrains nothing
        if (phase.end !== null) {
          spans.set(task.id, { start: phase.start ?? phase.end, end: phase.end })
          ends.push(phase.end)
        }
        continue
      }
      if (phase.kind === 'waiting') {
        waiting.push(task)
        continue
      }
      // the scheduler's own forecast knows the queue ahead of the job; history only knows the past
      const start = phase.kind === 'running' ? phase.start : Math.max(now, phase.schedulerStart ?? phase.submitted + w)
      const end = phase.kind === 'running' ? Math.max(now, start + d) : start + d
      spans.set(task.id, { start, end })
      ends.push(end)
      inFlight.push(end)
    }
    const lanes = stage.definition.maxParallel === null ? null : laneTimes(inFlight, stage.definition.maxParallel)
    for (const task of waiting) {
      const phase = phaseOfTask(task) as Extract<Phase, { kind: 'waiting' }>
      let start = Math.max(ready, phase.notBefore ?? ready) + w
      if (lanes) {
        const lane = earliestLane(lanes)
        start = Math.max(start, lanes[lane] as number)
        lanes[lane] = start + d
      }
      spans.set(task.id, { start, end: start + d })
      ends.push(start + d)
    }
    const end = maxOf(ends)
    if (end !== null) stageEnds.set(stage.definition.name, end)
  }
  return { spans, stageEnds }
}

function laneTimes(inFlight: readonly number[], maxParallel: number): number[] {
  const lanes = [...inFlight]
  while (lanes.length < maxParallel) lanes.push(Number.NEGATIVE_INFINITY)
  return lanes
}

function earliestLane(lanes: readonly number[]): number {
  let best = 0
  for (let i = 1; i < lanes.length; i++) if ((lanes[i] as number) < (lanes[best] as number)) best = i
  return best
}

function criticalPath(
  stages: readonly StagePlan[],
  ends: ReadonlyMap<string, number>,
  now: number,
): { stages: string[]; contribution: Map<string, number> } {
  const contribution = new Map<string, number>()
  const byName = new Map(stages.map((s) => [s.definition.name, s]))
  let last: string | null = null
  for (const stage of stages) {
    const end = ends.get(stage.definition.name)
    if (end !== undefined && end > now && (last === null || end > (ends.get(last) as number)))
      last = stage.definition.name
  }
  const path: string[] = []
  while (last !== null) {
    path.push(last)
    let binding: string | null = null
    for (const dep of byName.get(last)?.definition.after ?? []) {
      const end = ends.get(dep.task)
      if (end !== undefined && end > now && (binding === null || end > (ends.get(binding) as number)))
        binding = dep.task
    }
    const from = binding === null ? now : (ends.get(binding) as number)
    contribution.set(last, ((ends.get(last) as number) - from) / 1000)
    last = binding
  }
  return { stages: path.reverse(), contribution }
}

function bottleneckOf(path: readonly string[], contribution: ReadonlyMap<string, number>): string | null {
  let best: string | null = null
  for (const stage of path) {
    if (best === null || (contribution.get(stage) ?? 0) > (contribution.get(best) ?? 0)) best = stage
  }
  return best
}

function timeOf(iso: string | null): number | null {
  if (iso === null) return null
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? null : ms
}

function maxOf(values: readonly (number | null)[]): number | null {
  let max: number | null = null
  for (const v of values) if (v !== null && (max === null || v > max)) max = v
  return max
}

function minOf(values: readonly (number | null)[]): number | null {
  let min: number | null = null
  for (const v of values) if (v !== null && (min === null || v < min)) min = v
  return min
}
