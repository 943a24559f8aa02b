/**
 * What a scheduler said about one job, in the core's words: its id, its state in the one job-state
 * vocabulary (job-state.ts) beside the scheduler's own, exit, times, nodes and resource usage. Every
 * adapter maps its answers into this; the planner and the budget read only this. Pure types.
 */
import type { JobState } from './job-state.js'

/** A scheduler's own job id (`1234`, `1234_7`, `1234[7].srv`, a local submission key). */
export type NativeJobId = string & { readonly __brand: 'NativeJobId' }
export function asNativeJobId(id: string): NativeJobId {
  return id as NativeJobId
}

export interface ResourceUsage {
  readonly elapsedSeconds?: number
  readonly cpuSeconds?: number
  readonly maxRssMb?: number
  /** Allocated trackable resources, e.g. `{ cpu: 4, mem: 16000, 'gres/gpu': 2, 'gres/gpu:a100': 2 }`. */
  readonly allocTres?: Readonly<Record<string, number>>
  /**
   * GPU utilisation in percent, summed over the job's GPUs (Slurm TRESUsageInTot `gres/gpuutil`, its
   * busiest step); absent where the scheduler does not report it, which means unknown, not idle.
   */
  readonly gpuUtilPercent?: number
}

export interface JobObservation {
  readonly jobId: NativeJobId
  readonly state: JobState
  /** The scheduler's own words for the state, e.g. `CANCELLED by 0`, `F`, `exited`. */
  readonly nativeState: string
  readonly exitCode: number | null
  readonly signal?: string | null
  readonly reason?: string | null
  readonly startedAt: Date | null
  readonly endedAt: Date | null
  readonly nodes?: readonly string[]
  readonly usage?: ResourceUsage
  /** The job name as the scheduler reports it (carries the submission key). */
  readonly name?: string
  /**
   * For a job still waiting to start, when the scheduler itself expects to start it (Slurm:
   * `squeue --start`'s StartTime); absent where the scheduler has no estimate or gives none.
   */
  readonly expectedStartAt?: Date
}
