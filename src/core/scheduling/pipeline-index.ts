/**
 * What the planner needs from a pipeline that does not change from tick to tick: each step's
 * definition by name, its critical-path priority and its topological position. Computed once per
 * pipeline object and kept (weakly) for every run and tick that shares that object. Pure: the index
 * is a function of the pipeline alone, so caching it changes no plan.
 */
import type { ResolvedPipeline, ResolvedTask } from '../pipeline/resolved-pipeline.js'
import { computePriorities } from './priority.js'

export interface PipelineIndex {
  readonly definitions: ReadonlyMap<string, ResolvedTask>
  /** Critical-path length of each step (the run's own priority order). */
  readonly priorities: ReadonlyMap<string, number>
  /** Each step's position in the pipeline's topological order. */
  readonly topologicalOrder: ReadonlyMap<string, number>
}

// the pipeline of a snapshot is never changed once resolved (snapshots may even be frozen)
const indexes = new WeakMap<ResolvedPipeline, PipelineIndex>()

export function pipelineIndex(pipeline: ResolvedPipeline): PipelineIndex {
  let index = indexes.get(pipeline)
  if (index === undefined) {
    const definitions = new Map<string, ResolvedTask>()
    const topologicalOrder = new Map<string, number>()
    pipeline.tasks.forEach((task, i) => {
      definitions.set(task.name, task)
      topologicalOrder.set(task.name, i)
    })
    index = { definitions, priorities: computePriorities(pipeline), topologicalOrder }
    indexes.set(pipeline, index)
  }
  return index
}
