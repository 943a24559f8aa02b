/**
 * One simulated job: its mutable record inside the cluster, the read-only view the cluster hands
 * out, and the progress arithmetic behind checkpoint-resume. Progress is kept in integer
 * milliseconds of work so long scenarios do not drift; views speak seconds.
 */
import type { JobState } from '../../src/core/job/job-state.js'
import type { DependencyCondition, JobSubmission, NativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import type { SimTimerHandle } from './sim-clock.js'
import type { NodeAllocation } from './sim-placement.js'
import type { SimWorkload } from './sim-workload.js'

/** One stay on the nodes, from start to whatever ended it (Slurm prints one sacct row per run). */
export interface SimRun {
  readonly startedAtMs: number
  endedAtMs: number | null
  readonly allocation: readonly NodeAllocation[]
  /** How the run ended (`requeued` when stopped by a requeue); the job itself may be back in the queue. */
  endState: JobState | null
  exitCode: number | null
}

export interface SimDependency {
  readonly jobId: NativeJobId
  readonly condition: DependencyCondition
  /** Once satisfied, always satisfied (Slurm removes it from the job's list). */
  satisfied: boolean
}

export interface SimJob {
  readonly id: NativeJobId
  readonly submission: JobSubmission
  readonly workload: SimWorkload
  readonly submitSeq: number
  readonly submittedAtMs: number
  readonly partition: string | null
  /** Partition and request in one string: jobs of one shape fit or do not fit alike. */
  readonly shape: string
  readonly dependencies: SimDependency[]
  readonly runs: SimRun[]
  state: JobState
  nativeState: string
  reason: string | null
  nice: number
  exitCode: number | null
  signal: string | null
  /** Start of the current (or, once ended, the last) run; null while queued. */
  startedAtMs: number | null
  /** Set when the job reached a terminal state. */
  endedAtMs: number | null
  allocation: readonly NodeAllocation[]
  restarts: number
  /** Not startable before this time (after a requeue with a delay). */
  eligibleAtMs: number
  /** Progress when the current run started (its resume point). */
  runStartProgressMs: number
  /** Progress at the end of the last run. */
  progressMs: number
  /** When the job stopped working in this run to save a checkpoint it was asked for. */
  stoppedAtMs: number | null
  /** Work executed over all runs, including work redone after falling back to a checkpoint. */
  workDoneMs: number
  timers: SimTimerHandle[]
}

/** A job as tests and metrics see it. Times are virtual ms; amounts of work are seconds. */
export interface SimJobView {
  readonly id: NativeJobId
  readonly submissionKey: string
  readonly state: JobState
  readonly nativeState: string
  readonly reason: string | null
  readonly nice: number
  readonly submittedAtMs: number
  readonly startedAtMs: number | null
  readonly endedAtMs: number | null
  readonly exitCode: number | null
  readonly signal: string | null
  readonly nodes: readonly string[]
  readonly allocation: readonly NodeAllocation[]
  readonly runs: readonly Readonly<SimRun>[]
  readonly restarts: number
  /** Where the job's work stands now (live while it runs). */
  readonly progressSeconds: number
  /** The newest checkpoint a restart would resume from. */
  readonly checkpointedSeconds: number
  readonly workDoneSeconds: number
  readonly workload: SimWorkload
}

export function secondsToMs(seconds: number): number {
  return Math.round(seconds * 1000)
}

/** Progress of a running job at `nowMs` (it does no work while saving a requested checkpoint). */
export function liveProgressMs(job: SimJob, nowMs: number): number {
  if (job.state !== 'running' || job.startedAtMs === null) return job.progressMs
  const workedUntil = Math.min(nowMs, job.stoppedAtMs ?? nowMs)
  return Math.min(job.runStartProgressMs + (workedUntil - job.startedAtMs), secondsToMs(job.workload.durationSeconds))
}

/**
 * The newest periodic checkpoint this run has written by the time progress is `progressMs`: saves
 * fall on multiples of the interval (aligned, so a resumed run saves where an uninterrupted one
 * would), and only those past the run's resume point were written by this run. Null: none yet.
 */
export function periodicCheckpointMs(job: SimJob, progressMs: number): number | null {
  const every = job.workload.checkpointEverySeconds
  if (every === null) return null
  const everyMs = secondsToMs(every)
  const aligned = Math.floor(progressMs / everyMs) * everyMs
  return aligned > job.runStartProgressMs ? aligned : null
}

/** Allocated trackable resources in sacct's AllocTRES vocabulary (memory in MB). */
export function allocTres(allocation: readonly NodeAllocation[]): Record<string, number> {
  const tres: Record<string, number> = {
    cpu: sum(allocation.map((a) => a.cpus)),
    mem: sum(allocation.map((a) => a.memoryMb)),
    node: allocation.length,
  }
  const gpus = sum(allocation.map((a) => a.gpus))
  if (gpus > 0) {
    tres['gres/gpu'] = gpus
    for (const a of allocation) {
      if (a.gpuType !== null && a.gpus > 0)
        tres[`gres/gpu:${a.gpuType}`] = (tres[`gres/gpu:${a.gpuType}`] ?? 0) + a.gpus
    }
  }
  return tres
}

export function viewJob(job: SimJob, nowMs: number, checkpointedMs: number): SimJobView {
  return {
    id: job.id,
    submissionKey: job.submission.submissionKey,
    state: job.state,
    nativeState: job.nativeState,
    reason: job.reason,
    nice: job.nice,
    submittedAtMs: job.submittedAtMs,
    startedAtMs: job.startedAtMs,
    endedAtMs: job.endedAtMs,
    exitCode: job.exitCode,
    signal: job.signal,
    nodes: job.startedAtMs === null ? [] : job.allocation.map((a) => a.node),
    allocation: job.allocation,
    runs: job.runs.map((run) => ({ ...run })),
    restarts: job.restarts,
    progressSeconds: liveProgressMs(job, nowMs) / 1000,
    checkpointedSeconds: checkpointedMs / 1000,
    workDoneSeconds:
      (job.workDoneMs +
        (job.state === 'running' && job.startedAtMs !== null
          ? Math.min(nowMs, job.stoppedAtMs ?? nowMs) - job.startedAtMs
          : 0)) /
      1000,
    workload: job.workload,
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((total, v) => total + v, 0)
}
