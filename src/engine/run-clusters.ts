/**
 * Which cluster each task of a run runs on: its own `cluster:` when it names one, else the run's.
 * A run whose tasks name several clusters is ticked by each of them, for its own tasks only.
 */
import type { ResolvedTask } from '../core/pipeline/resolved-pipeline.js'
import type { AttemptSnapshot, RunSnapshot } from '../core/scheduling/run-snapshot.js'
import type { RunRecord } from '../store/run-store.js'

export function taskCluster(run: Pick<RunRecord, 'cluster'>, definition: ResolvedTask): string {
  return definition.cluster ?? run.cluster
}

/** Every cluster the run has tasks on, its own first. */
export function clustersOf(run: Pick<RunRecord, 'cluster' | 'pipeline'>): string[] {
  const names = new Set([run.cluster])
  for (const task of run.pipeline.tasks) names.add(taskCluster(run, task))
  return [...names]
}

/** The attempts whose task runs on `cluster`. */
export function attemptsOn(
  cluster: string,
  run: Pick<RunRecord, 'cluster' | 'pipeline'>,
  snapshot: RunSnapshot,
  attempts: readonly AttemptSnapshot[],
): AttemptSnapshot[] {
  if (clustersOf(run).length === 1) return run.cluster === cluster ? [...attempts] : []
  const definitions = new Map(run.pipeline.tasks.map((t) => [t.name, t]))
  const groups = new Map(snapshot.tasks.map((t) => [t.id, t.group]))
  return attempts.filter((a) => {
    const definition = definitions.get(groups.get(a.taskId) ?? '')
    return definition !== undefined && taskCluster(run, definition) === cluster
  })
}
