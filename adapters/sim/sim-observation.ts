/**
 * A simulated job as the engine sees any scheduler's job: a JobObservation with the native state
 * in Slurm's words, virtual start and end times, nodes, and usage the way the Slurm adapter reads
 * sacct — elapsed time and AllocTRES of the current (or last) run only, as sacct's newest row for
 * a requeued job shows.
 */
import type { JobObservation } from '../../src/scheduler/scheduler-adapter.js'
import { allocTres, type SimJobView } from './sim-job.js'

export function observeJob(job: SimJobView, nowMs: number): JobObservation {
  const started = job.startedAtMs !== null
  return {
    jobId: job.id,
    state: job.state,
    nativeState: job.nativeState,
    exitCode: job.exitCode,
    signal: job.signal,
    reason: job.reason,
    startedAt: job.startedAtMs === null ? null : new Date(job.startedAtMs),
    endedAt: job.endedAtMs === null ? null : new Date(job.endedAtMs),
    nodes: job.nodes,
    name: job.submissionKey,
    ...(started
      ? {
          usage: {
            elapsedSeconds: ((job.endedAtMs ?? nowMs) - (job.startedAtMs as number)) / 1000,
            allocTres: allocTres(job.allocation),
          },
        }
      : {}),
  }
}
