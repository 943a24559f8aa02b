/**
 * Measures of a finished (or running) scenario, for tests and experiments: GPU utilization over an
 * interval — optionally only while eligible GPU work was waiting, the measure of "did capacity idle
 * while work queued" — and each job's wait, start and end. Pure functions of the cluster's timeline
 * and job views.
 */
import { RpoError } from '../../src/core/errors.js'
import type { JobState } from '../../src/core/job/job-state.js'
import type { SimJobView } from './sim-job.js'
import type { SimSample } from './sim-timeline.js'

export interface GpuUtilizationOptions {
  readonly fromMs: number
  readonly toMs: number
  /** Only GPUs of this type (and pending demand that accepts it). */
  readonly gpuType?: string
  /** Count only the time during which an eligible job wanting such GPUs was pending. */
  readonly onlyWhilePending?: boolean
}

export interface GpuUtilization {
  readonly busyGpuSeconds: number
  /** GPU-seconds offered by nodes that were up (down nodes offer nothing). */
  readonly totalGpuSeconds: number
  /** busy / total; null when nothing was offered in the window. */
  readonly ratio: number | null
}

/** Busy GPU-seconds over offered GPU-seconds in [fromMs, toMs). */
export function gpuUtilization(
  source: { samples(): readonly SimSample[] },
  options: GpuUtilizationOptions,
): GpuUtilization {
  if (!(options.toMs >= options.fromMs)) {
    throw new RpoError(
      'usage',
      `gpuUtilization: the window ends (${options.toMs}) before it starts (${options.fromMs})`,
    )
  }
  const samples = source.samples()
  const pick = (counts: Readonly<Record<string, number>>) =>
    options.gpuType === undefined ? Object.values(counts).reduce((a, b) => a + b, 0) : (counts[options.gpuType] ?? 0)
  let busyMs = 0
  let totalMs = 0
  samples.forEach((sample, index) => {
    const from = Math.max(sample.atMs, options.fromMs)
    const to = Math.min(samples[index + 1]?.atMs ?? options.toMs, options.toMs)
    if (to <= from) return
    if (options.onlyWhilePending && pick(sample.pendingGpuDemand) === 0) return
    busyMs += pick(sample.gpusBusy) * (to - from)
    totalMs += pick(sample.gpusUp) * (to - from)
  })
  return {
    busyGpuSeconds: busyMs / 1000,
    totalGpuSeconds: totalMs / 1000,
    ratio: totalMs === 0 ? null : busyMs / totalMs,
  }
}

export interface JobTimes {
  readonly jobId: string
  readonly submissionKey: string
  readonly state: JobState
  readonly submittedAtMs: number
  /** Start of the first run; null if it never ran. */
  readonly firstStartedAtMs: number | null
  /** End of the last run (or of the job, when cancelled in the queue); null while in flight. */
  readonly endedAtMs: number | null
  /** Queue wait before the first start, in seconds. */
  readonly waitSeconds: number | null
  /** Time on nodes over all runs, in seconds (each run from its start to its end, or to now). */
  readonly runSeconds: number
  readonly restarts: number
}

/** Per job: when it was submitted, first started, ended, and how long it ran in all. */
export function jobTimes(source: { jobs(): readonly SimJobView[]; now(): number }): JobTimes[] {
  const now = source.now()
  return source.jobs().map((job) => {
    const first = job.runs[0]?.startedAtMs ?? null
    return {
      jobId: job.id,
      submissionKey: job.submissionKey,
      state: job.state,
      submittedAtMs: job.submittedAtMs,
      firstStartedAtMs: first,
      endedAtMs: job.endedAtMs,
      waitSeconds: first === null ? null : (first - job.submittedAtMs) / 1000,
      runSeconds: job.runs.reduce((total, run) => total + ((run.endedAtMs ?? now) - run.startedAtMs), 0) / 1000,
      restarts: job.restarts,
    }
  })
}
