/**
 * Priority scores across projects and their ready tasks, with the terms that made them (what
 * `rpo explain` prints). Pure and deterministic: `now` is a parameter, ties break by time ready,
 * then id.
 *
 * Project score  = importance × (1 + 2·urgency + 0.4·fairShare + 0.4·progressLag)
 *   urgency      ∈ [0, 1]  while the deadline can be met: remaining critical path ÷ seconds left
 *                          (1 when the path just fits); once it cannot (passed, or path > seconds
 *                          left): 0.75 + 0.25 · min(1, lateness ÷ (4 · path)), lateness = path −
 *                          seconds left; 0 without a deadline
 *   fairShare    ∈ [−1, 1] (target − actual) ÷ target, target = share ÷ Σ shares, actual = usage ÷ Σ usage;
 *                          0 without a share or before anyone used anything
 *   progressLag  ∈ [−1, 1] fraction of the time from start to deadline elapsed − fraction of the
 *                          expected work done; 0 without a deadline, a start or expected work, and
 *                          0 once the deadline cannot be met
 * Task score     = project score × (1 + 0.1 · task critical path ÷ longest critical path of its project)
 * Order          = in-budget before over-soft-cap (always), then score descending, then ready
 *                  earliest, then id.
 *
 * Deadline triage (`terms.deadlineUnreachable`; `rpo explain` says "deadline cannot be met any
 * more"): under overload, work already lost used to keep urgency 1 and go ahead of work that could
 * still make it, which then missed too (`rpo simulate` counted more misses than Slurm multifactor).
 * Lost work now drops to urgency 0.75: below work at risk (urgency > 0.75 plus its progress lag,
 * i.e. slack under a third of its path), above work with room to spare and above work without a
 * deadline, which it still owes results to. It climbs back to 1 as it falls further behind, so a
 * stream of new deadline work cannot starve it: ranking it as no-deadline work (urgency 0) cut
 * misses most but made rpo's p95 wait 2–4× longer, worse than Slurm's on every trace (see
 * DEADLINE_TRIAGE).
 *
 * Monotone: the bracket is ≥ 0.2 > 0, so the score rises strictly with importance, and for a
 * fixed importance it rises with fairShare (less used than the target share) and, while the
 * deadline can be met, with urgency (less slack, closer deadline) and progressLag (further behind
 * plan). Where the deadline becomes unreachable (a later `now` or a longer path crossing slack 0)
 * the score drops once, to urgency 0.75 and no progress lag; from there a later `now` raises it
 * again, up to urgency 1. Past the deadline a longer path lowers it (it catches up more slowly).
 * Work that can just make it (2·1) outweighs the other two terms together (0.4 + 0.4 + 0.4 + 0.4).
 */
import { instantOf, parseInstant } from '../budget/budget-period.js'

export const PRIORITY_WEIGHTS = { urgency: 2, fairShare: 0.4, progressLag: 0.4, criticalPath: 0.1 } as const

/**
 * Urgency of work whose deadline cannot be met any more: `floor` once it is lost, rising linearly
 * back to 1 as it falls `catchUpPaths` × its remaining path behind. Chosen on `rpo simulate`
 * (docs/simulate.md): 0 (rank as if no deadline) cut misses most but starved late work (p95 wait
 * up to 4× longer, worse than Slurm multifactor's); 0.75 and 4 kept the wait and utilization wins
 * on both traces. Tuned on two traces with derived deadlines: a starting point, not a law.
 */
export const DEADLINE_TRIAGE = { floor: 0.75, catchUpPaths: 4 } as const

export interface ProjectPriorityInput {
  readonly project: string
  /** > 0; the config's `importance`, default 1. */
  readonly importance: number
  /** ISO; null = no deadline. */
  readonly deadline: string | null
  /** Target fair share (any positive scale: normalised over the projects that have one); null = none. */
  readonly share: number | null
  /** Usage over the fair-share period, one unit for every project (e.g. weighted GPU-hours this month). */
  readonly usage: number
  /** Longest remaining path of the project's unfinished runs at expected durations, in seconds. */
  readonly remainingCriticalPathSeconds: number
  /** Expected seconds of all the project's work under the plan, and of the part already done. */
  readonly expectedWorkSeconds: number
  readonly doneWorkSeconds: number
  /** ISO; when the project's plan started (its first run's submission); null = not started. */
  readonly startedAt: string | null
  /** Some soft cap of the project is exceeded: its work ranks below all in-budget work. */
  readonly overSoft: boolean
}

export interface ScoreTerms {
  readonly importance: number
  readonly urgency: number
  readonly fairShare: number
  readonly progressLag: number
  /** Seconds left to the deadline minus the remaining critical path; null without a deadline. */
  readonly slackSeconds: number | null
  /**
   * The deadline has passed or the remaining critical path no longer fits before it: urgency is
   * the triage value (0.75 rising to 1 as it falls behind) and progress lag 0.
   */
  readonly deadlineUnreachable: boolean
  readonly targetShare: number | null
  readonly actualShare: number | null
}

export interface ProjectScore {
  readonly project: string
  readonly score: number
  readonly terms: ScoreTerms
  readonly overSoft: boolean
  /** 0 = first. */
  readonly rank: number
}

export interface TaskPriorityInput {
  /** Unique among the inputs (a job id or a task id): the last tie-break. */
  readonly id: string
  readonly project: string
  /** The task's own remaining critical path (itself and what waits on it), in seconds. */
  readonly criticalPathSeconds: number
  /** ISO; earlier breaks ties first. */
  readonly readySince: string | null
  /** Overrides the project's tier (a per-user soft cap); default: the project's. */
  readonly overSoft?: boolean
}

export interface TaskScore {
  readonly id: string
  readonly project: string
  readonly score: number
  readonly projectScore: number
  /** Task critical path ÷ the longest of its project, ∈ [0, 1]. */
  readonly pathFraction: number
  readonly overSoft: boolean
  readonly rank: number
}

export function scoreProjects(inputs: readonly ProjectPriorityInput[], now: number): ProjectScore[] {
  // by name, so the totals (and so the scores) do not depend on the order projects came in
  const projects = [...inputs].sort((a, b) => (a.project < b.project ? -1 : a.project > b.project ? 1 : 0))
  const totalShare = projects.reduce((sum, p) => sum + (p.share !== null && p.share > 0 ? p.share : 0), 0)
  const totalUsage = projects.reduce((sum, p) => sum + Math.max(0, p.usage), 0)
  const scored = projects.map((p) => {
    const terms = scoreTerms(p, now, totalShare, totalUsage)
    const bracket =
      1 +
      PRIORITY_WEIGHTS.urgency * terms.urgency +
      PRIORITY_WEIGHTS.fairShare * terms.fairShare +
      PRIORITY_WEIGHTS.progressLag * terms.progressLag
    return { project: p.project, score: terms.importance * bracket, terms, overSoft: p.overSoft }
  })
  scored.sort((a, b) => compareProjects(a, b))
  return scored.map((s, rank) => ({ ...s, rank }))
}

/** Tasks ranked across projects. A task of a project missing from `projects` scores as importance 1, no terms. */
export function scoreTasks(tasks: readonly TaskPriorityInput[], projects: readonly ProjectScore[]): TaskScore[] {
  const ranking = rankTasks(tasks, projects, TASK_INPUT_VIEW)
  return Array.from(ranking.order, (i, rank) => {
    const t = tasks[i] as TaskPriorityInput
    return {
      id: t.id,
      project: t.project,
      score: ranking.score[i] as number,
      projectScore: ranking.projectScore[i] as number,
      pathFraction: ranking.pathFraction[i] as number,
      overSoft: ranking.overSoft[i] === 1,
      rank,
    }
  })
}

/** How rankTasks reads a task of any shape, so callers with their own records need not copy them. */
export interface TaskView<T> {
  id(task: T): string
  project(task: T): string
  criticalPathSeconds(task: T): number
  readySince(task: T): string | null
  /** The task's own tier; undefined = its project's. */
  overSoft(task: T, index: number): boolean | undefined
}

/** scoreTasks as flat arrays indexed by the input position; `order` lists input positions by rank. */
export interface TaskRanking {
  readonly order: Int32Array
  readonly rank: Int32Array
  readonly score: Float64Array
  readonly projectScore: Float64Array
  readonly pathFraction: Float64Array
  /** 1 = over a soft cap. */
  readonly overSoft: Uint8Array
  /** When each task became ready (ms since the epoch); +∞ when it does not say. */
  readonly ready: Float64Array
}

const TASK_INPUT_VIEW: TaskView<TaskPriorityInput> = {
  id: (t) => t.id,
  project: (t) => t.project,
  criticalPathSeconds: (t) => t.criticalPathSeconds,
  readySince: (t) => t.readySince,
  overSoft: (t) => t.overSoft,
}

/** The ranking behind scoreTasks, without one object per task: it runs over every job of every tick. */
export function rankTasks<T>(tasks: readonly T[], projects: readonly ProjectScore[], view: TaskView<T>): TaskRanking {
  const byProject = new Map(projects.map((p) => [p.project, p]))
  const longest = new Map<string, number>()
  for (const t of tasks) {
    const project = view.project(t)
    longest.set(project, Math.max(longest.get(project) ?? 0, view.criticalPathSeconds(t)))
  }
  const count = tasks.length
  const score = new Float64Array(count)
  const projectScore = new Float64Array(count)
  const pathFraction = new Float64Array(count)
  const ready = new Float64Array(count)
  const overSoft = new Uint8Array(count)
  for (let i = 0; i < count; i++) {
    const t = tasks[i] as T
    const project = byProject.get(view.project(t))
    const max = longest.get(view.project(t)) ?? 0
    const fraction = max > 0 ? Math.max(0, view.criticalPathSeconds(t)) / max : 0
    const readySince = view.readySince(t)
    pathFraction[i] = fraction
    projectScore[i] = project?.score ?? 1
    score[i] = (project?.score ?? 1) * (1 + PRIORITY_WEIGHTS.criticalPath * fraction)
    ready[i] = readySince === null ? Number.POSITIVE_INFINITY : instantOf(readySince)
    if (Number.isNaN(ready[i])) parseInstant(`task ${view.id(t)} readySince`, readySince as string)
    overSoft[i] = (view.overSoft(t, i) ?? project?.overSoft ?? false) ? 1 : 0
  }
  // ids are read only to break a tie of score and time ready, which most rankings never see
  let ids: (string | undefined)[] | null = null
  const before = (a: number, b: number): boolean => {
    if (overSoft[a] !== overSoft[b]) return (overSoft[a] as number) < (overSoft[b] as number)
    if (score[a] !== score[b]) return (score[a] as number) > (score[b] as number)
    if (ready[a] !== ready[b]) return (ready[a] as number) < (ready[b] as number)
    ids ??= new Array<string | undefined>(count)
    ids[a] ??= view.id(tasks[a] as T)
    ids[b] ??= view.id(tasks[b] as T)
    return (ids[a] as string) < (ids[b] as string)
  }
  const order = mergeSortedOrder(count, before)
  const rank = new Int32Array(count)
  for (let r = 0; r < count; r++) rank[order[r] as number] = r
  return { order, rank, score, projectScore, pathFraction, overSoft, ready }
}

/**
 * Positions 0..count−1 sorted by `before` (a strict order), stably, bottom-up: the comparison is a
 * plain call the optimiser can inline, not a callback from the builtin sort, which was a tenth of
 * a 10,000-job decision.
 */
function mergeSortedOrder(count: number, before: (a: number, b: number) => boolean): Int32Array {
  let from = new Int32Array(count)
  let to = new Int32Array(count)
  for (let i = 0; i < count; i++) from[i] = i
  for (let width = 1; width < count; width *= 2) {
    for (let low = 0; low < count; low += 2 * width) {
      const mid = Math.min(low + width, count)
      const high = Math.min(low + 2 * width, count)
      let a = low
      let b = mid
      let out = low
      while (a < mid && b < high) {
        if (before(from[b] as number, from[a] as number)) to[out++] = from[b++] as number
        else to[out++] = from[a++] as number
      }
      while (a < mid) to[out++] = from[a++] as number
      while (b < high) to[out++] = from[b++] as number
    }
    ;[from, to] = [to, from]
  }
  return from
}

function compareProjects(
  a: { readonly overSoft: boolean; readonly score: number; readonly project: string },
  b: { readonly overSoft: boolean; readonly score: number; readonly project: string },
): number {
  if (a.overSoft !== b.overSoft) return a.overSoft ? 1 : -1
  if (a.score !== b.score) return b.score - a.score
  return a.project < b.project ? -1 : a.project > b.project ? 1 : 0
}

function scoreTerms(p: ProjectPriorityInput, now: number, totalShare: number, totalUsage: number): ScoreTerms {
  const deadline =
    p.deadline === null ? Number.NaN : parseInstant(`project ${p.project} deadline`, p.deadline, 'config-invalid')
  const hasDeadline = p.deadline !== null
  const secondsLeft = (deadline - now) / 1000
  const path = Math.max(0, p.remainingCriticalPathSeconds)
  // a path that exactly fits can still make it; one longer than the time left cannot
  const deadlineUnreachable = hasDeadline && (secondsLeft <= 0 || path > secondsLeft)
  const urgency = !hasDeadline
    ? 0
    : deadlineUnreachable
      ? unreachableUrgency(path - secondsLeft, path)
      : path / secondsLeft

  const hasShare = p.share !== null && p.share > 0 && totalShare > 0
  const targetShare = hasShare ? (p.share as number) / totalShare : null
  const actualShare = totalUsage > 0 ? Math.max(0, p.usage) / totalUsage : null
  const fairShare =
    targetShare !== null && actualShare !== null ? clamp((targetShare - actualShare) / targetShare, -1, 1) : 0

  const start = p.startedAt === null ? Number.NaN : parseInstant(`project ${p.project} startedAt`, p.startedAt)
  const planned =
    hasDeadline && !deadlineUnreachable && !Number.isNaN(start) && deadline > start && p.expectedWorkSeconds > 0
  const progressLag = planned
    ? clamp((now - start) / (deadline - start), 0, 1) - clamp(p.doneWorkSeconds / p.expectedWorkSeconds, 0, 1)
    : 0

  return {
    importance: p.importance,
    urgency,
    fairShare,
    progressLag,
    slackSeconds: hasDeadline ? secondsLeft - path : null,
    deadlineUnreachable,
    targetShare,
    actualShare,
  }
}

/**
 * Urgency of work that will be `lateSeconds` late at best: DEADLINE_TRIAGE.floor just after it
 * became unreachable, back to 1 once it is late by DEADLINE_TRIAGE.catchUpPaths × its path.
 */
function unreachableUrgency(lateSeconds: number, path: number): number {
  const { floor, catchUpPaths } = DEADLINE_TRIAGE
  return floor + (1 - floor) * Math.min(1, lateSeconds / Math.max(1, catchUpPaths * path))
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value))
}
