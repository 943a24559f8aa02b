/**
 * Task priority within a run: the longest remaining path (by expected duration) from a task to the
 * end of the pipeline, so that the critical path starts first. Pure and deterministic. Budget-,
 * deadline- and fair-share terms across projects come with the budget work.
 */
import type { ResolvedPipeline } from '../pipeline/resolved-pipeline.js'

const DEFAULT_EXPECTED_SECONDS = 60

/** Critical-path length in seconds from each task group (inclusive) to the pipeline's end. */
export function computePriorities(pipeline: ResolvedPipeline): Map<string, number> {
  const length = new Map<string, number>()
  // the longest path after each task, raised as its dependents are reached
  const after = new Map<string, number>()
  // tasks are topologically ordered: walking them backwards reaches every dependent before its upstreams
  for (let i = pipeline.tasks.length - 1; i >= 0; i--) {
    const task = pipeline.tasks[i]
    if (!task) continue
    const total = (task.expectedSeconds ?? DEFAULT_EXPECTED_SECONDS) + (after.get(task.name) ?? 0)
    length.set(task.name, total)
    for (const dep of task.after) {
      if (total > (after.get(dep.task) ?? 0)) after.set(dep.task, total)
    }
  }
  return length
}
