/**
 * Dependency rules, as Slurm applies them with `--kill-on-invalid-dep=yes`: `succeeded` is afterok,
 * `finished` afterany, `failed` afternotok. A satisfied dependency stays satisfied (Slurm drops it
 * from the job's list); one that can never be satisfied dooms the job, which is then cancelled with
 * reason `DependencyNeverSatisfied`. Pure.
 */
import { isTerminalJobState, type JobState } from '../../src/core/job/job-state.js'
import type { DependencyCondition, NativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import type { SimDependency } from './sim-job.js'

export type DependencyVerdict = 'satisfied' | 'waiting' | 'never'

/** One dependency against its upstream's current state (undefined: the scheduler does not know it). */
export function judgeDependency(condition: DependencyCondition, upstream: JobState | undefined): DependencyVerdict {
  if (upstream === undefined) return 'never'
  if (!isTerminalJobState(upstream)) return 'waiting'
  if (condition === 'finished') return 'satisfied'
  const succeeded = upstream === 'succeeded'
  return (condition === 'succeeded') === succeeded ? 'satisfied' : 'never'
}

/** All of a job's dependencies: never if any is never, satisfied when all are. */
export function combineVerdicts(verdicts: readonly DependencyVerdict[]): DependencyVerdict {
  if (verdicts.includes('never')) return 'never'
  return verdicts.every((v) => v === 'satisfied') ? 'satisfied' : 'waiting'
}

/** A job's dependencies against their upstreams' states now, marking the ones met for good. */
export function judgeDependencies(
  dependencies: readonly SimDependency[],
  stateOf: (jobId: NativeJobId) => JobState | undefined,
): DependencyVerdict {
  return combineVerdicts(
    dependencies.map((dep): DependencyVerdict => {
      if (dep.satisfied) return 'satisfied'
      const verdict = judgeDependency(dep.condition, stateOf(dep.jobId))
      if (verdict === 'satisfied') dep.satisfied = true
      return verdict
    }),
  )
}
