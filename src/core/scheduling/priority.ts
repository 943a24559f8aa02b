/**
 * Task priority within a run: the longest remaining path (by expected duration) from a task to the
 * end of the pipeline, so that the critical path starts first. Pure and deterministic. Budget-,
 * deadline- and fair-share terms across projects come with the budget work.
 */
import type { ResolvedPipeline } from '../pipeline/resolved-pipeline.js'

const DEFAULT_EXPECTED_SECONDS = 60

/** Critical-path length in seconds from each task group (inclusive) to the pipeline's end. */
export function computePriorities(pipeline: ResolvedPipeline): Map<string, number> {
  const downstream = new Map<string, string[]>()
  for (const task of pipeline.tasks) {
    for (const dep of task.after) downstream.set(dep.task, [...(downstream.get(dep.task) ?? []), task.name])
  }
  const length = new Map<string, number>()
  // tasks are topologically ordered, so walk them backwards
  for (let i = pipeline.tasks.length - 1; i >= 0; i--) {
    const task = pipeline.tasks[i]
    if (!task) continue
    const own = task.expectedSeconds ?? DEFAULT_EXPECTED_SECONDS
    const rest = Math.max(0, ...(downstream.get(task.name) ?? []).map((n) => length.get(n) ?? 0))
    length.set(task.name, own + rest)
  }
  return length
}
