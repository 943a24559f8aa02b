/**
 * The figures of one replay: GPU utilization (over the whole replay, and only while eligible GPU
 * work waited — sim-metrics.ts), mean and p95 queue wait, makespan, deadline misses, and GPU-hours
 * per project. Jobs the cluster refused (no node could ever hold them) count in none of the
 * figures and are reported apart; so are jobs that never started (held by a budget).
 */
import { gpuUtilization } from '../../adapters/sim/sim-metrics.js'
import type { PolicyName } from './replay-policies.js'
import type { ReplayOutcome } from './trace-replay.js'

export interface ReplayFigures {
  readonly policy: PolicyName
  readonly jobs: number
  readonly completed: number
  /** Refused by the cluster: larger than any node set it has. */
  readonly rejected: number
  /** Never started (a budget held them to the end). */
  readonly neverStarted: number
  /** Busy GPU-seconds ÷ offered GPU-seconds from the first submission to the last end. */
  readonly gpuUtilization: number | null
  /** The same, counted only while eligible GPU work was waiting. */
  readonly gpuUtilizationWhileWaiting: number | null
  readonly meanWaitSeconds: number | null
  readonly p95WaitSeconds: number | null
  readonly makespanSeconds: number
  /** Jobs that ended after their deadline or never ended (of those not rejected). */
  readonly deadlineMisses: number
  readonly gpuHoursByProject: Readonly<Record<string, number>>
  /** Completed jobs per virtual hour of makespan. */
  readonly jobsPerHour: number
}

export function replayFigures(outcome: ReplayOutcome): ReplayFigures {
  const waits: number[] = []
  const gpuHours: Record<string, number> = {}
  let completed = 0
  let rejected = 0
  let neverStarted = 0
  let misses = 0
  for (const r of outcome.jobs) {
    if (r.rejected !== null) {
      rejected++
      continue
    }
    gpuHours[r.job.project] ??= 0
    if (r.startedMs === null) {
      neverStarted++
      misses++
      continue
    }
    waits.push((r.startedMs - Math.round(r.job.submitSeconds * 1000)) / 1000)
    if (r.endedMs !== null) {
      completed++
      gpuHours[r.job.project] = (gpuHours[r.job.project] ?? 0) + (r.gpus * (r.endedMs - r.startedMs)) / 3_600_000
    }
    if (r.endedMs === null || r.endedMs > Math.round(r.job.deadlineSeconds * 1000)) misses++
  }
  waits.sort((a, b) => a - b)
  const from = outcome.firstSubmitMs
  const to = Math.max(outcome.lastEndMs, from)
  const all = gpuUtilization(outcome.cluster, { fromMs: from, toMs: to })
  const waiting = gpuUtilization(outcome.cluster, { fromMs: from, toMs: to, onlyWhilePending: true })
  const makespanSeconds = (to - from) / 1000
  return {
    policy: outcome.policy,
    jobs: outcome.jobs.length,
    completed,
    rejected,
    neverStarted,
    gpuUtilization: all.ratio,
    gpuUtilizationWhileWaiting: waiting.ratio,
    meanWaitSeconds: waits.length === 0 ? null : waits.reduce((a, b) => a + b, 0) / waits.length,
    p95WaitSeconds: waits.length === 0 ? null : (waits[Math.ceil(0.95 * waits.length) - 1] as number),
    makespanSeconds,
    deadlineMisses: misses,
    gpuHoursByProject: Object.fromEntries(Object.entries(gpuHours).sort(([a], [b]) => (a < b ? -1 : 1))),
    jobsPerHour: makespanSeconds > 0 ? completed / (makespanSeconds / 3600) : 0,
  }
}
