/**
 * The three orders a replay compares, each given as the nice values of the queued jobs (the knob
 * the simulated Slurm orders its queue by, as rpo drives a real Slurm):
 * - `rpo`: rpo's own policy code — scoreProjects (deadline urgency, fair share, importance) and
 *   niceForRank (src/core/policy) — with every queued trace job ranked as a run of its project
 *   that carries its own deadline (docs/simulate.md says how the terms are fed);
 * - `backfill`: Slurm's priority/multifactor with age and fair-share factors (PriorityWeightAge
 *   1000, PriorityWeightFairshare 10000, PriorityMaxAge 7 days, classic fair-share 2^(−U/S));
 * - `fifo`: no ranking at all: submission order.
 * Pure: the queued jobs and the usage so far in, a nice value per job out.
 */
import { niceForRank } from '../core/policy/nice-levels.js'
import { type ProjectPriorityInput, scoreProjects } from '../core/policy/priority-score.js'
import type { DeadlinedJob } from './trace-deadlines.js'

export const POLICIES = ['rpo', 'fifo', 'backfill'] as const
export type PolicyName = (typeof POLICIES)[number]

/** Slurm's multifactor settings of the baseline (a common site configuration). */
export const MULTIFACTOR = { weightAge: 1000, weightFairShare: 10_000, maxAgeSeconds: 7 * 86_400 } as const

export interface RankingContext {
  /** Virtual ms since the trace's start. */
  readonly nowMs: number
  /** The epoch the trace's time 0 stands for (policy code reads ISO instants). */
  readonly epochMs: number
  /** GPU-seconds each project used so far (ended and running work). */
  readonly usage: ReadonlyMap<string, number>
  /** Fair-share targets (any scale); a project not named has 1. */
  readonly shares: ReadonlyMap<string, number>
  /** Policy importance (rpo only); a project not named has 1. */
  readonly importance: ReadonlyMap<string, number>
}

export interface QueuedJob {
  readonly job: DeadlinedJob
  /** Whole virtual ms it was queued at. */
  readonly submittedMs: number
}

/** nice per queued job (same order as `queued`); null for fifo, which keeps submission order. */
export function niceValues(policy: PolicyName, queued: readonly QueuedJob[], context: RankingContext): number[] | null {
  if (policy === 'fifo') return null
  return policy === 'rpo' ? rpoNice(queued, context) : multifactorNice(queued, context)
}

const deadlineIso = new WeakMap<DeadlinedJob, string>()

const startedIso = new WeakMap<DeadlinedJob, string>()

function startIso(job: DeadlinedJob, submittedMs: number, epochMs: number): string {
  let iso = startedIso.get(job)
  if (iso === undefined) {
    iso = new Date(epochMs + submittedMs).toISOString()
    startedIso.set(job, iso)
  }
  return iso
}

function rpoNice(queued: readonly QueuedJob[], context: RankingContext): number[] {
  // per project: how many of its jobs wait, so that its share and usage split evenly over them
  // and each job's fair-share term equals its project's (target − actual) ÷ target
  const waiting = new Map<string, number>()
  for (const { job } of queued) waiting.set(job.project, (waiting.get(job.project) ?? 0) + 1)
  const keyOf = (i: number) => String(i).padStart(9, '0')
  const inputs: ProjectPriorityInput[] = queued.map(({ job, submittedMs }, i) => {
    const count = waiting.get(job.project) as number
    let deadline = deadlineIso.get(job)
    if (deadline === undefined) {
      deadline = new Date(context.epochMs + Math.round(job.deadlineSeconds * 1000)).toISOString()
      deadlineIso.set(job, deadline)
    }
    return {
      project: keyOf(i),
      importance: context.importance.get(job.project) ?? 1,
      deadline,
      share: (context.shares.get(job.project) ?? 1) / count,
      usage: (context.usage.get(job.project) ?? 0) / count,
      remainingCriticalPathSeconds: job.durationSeconds,
      // its plan began at submission and none of its work is done: the progress-lag term grows as
      // its time from submission to deadline runs out, as it does for a run that has not started
      expectedWorkSeconds: job.durationSeconds,
      doneWorkSeconds: 0,
      startedAt: startIso(job, submittedMs, context.epochMs),
      overSoft: false,
    }
  })
  const scored = scoreProjects(inputs, context.epochMs + context.nowMs)
  const nice = new Array<number>(queued.length).fill(0)
  // equal scores share the rank of the first of them, as planNice does
  let shared = 0
  scored.forEach((s, position) => {
    if (position > 0 && s.score !== (scored[position - 1] as { score: number }).score) shared = position
    nice[Number(s.project)] = niceForRank(shared, scored.length, false)
  })
  return nice
}

function multifactorNice(queued: readonly QueuedJob[], context: RankingContext): number[] {
  const projects = new Set(queued.map(({ job }) => job.project))
  for (const project of context.usage.keys()) projects.add(project)
  let totalShare = 0
  let totalUsage = 0
  for (const project of projects) {
    totalShare += context.shares.get(project) ?? 1
    totalUsage += context.usage.get(project) ?? 0
  }
  return queued.map(({ job, submittedMs }) => {
    const share = (context.shares.get(job.project) ?? 1) / totalShare
    const usage = totalUsage > 0 ? (context.usage.get(job.project) ?? 0) / totalUsage : 0
    const fairShare = 2 ** (-usage / share)
    const age = Math.min(1, (context.nowMs - submittedMs) / 1000 / MULTIFACTOR.maxAgeSeconds)
    const priority = MULTIFACTOR.weightAge * age + MULTIFACTOR.weightFairShare * fairShare
    // Slurm runs the highest priority first; the queue runs the lowest nice first
    return Math.round(MULTIFACTOR.weightAge + MULTIFACTOR.weightFairShare - priority)
  })
}
