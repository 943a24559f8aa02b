/**
 * What the planner needs from a pipeline that does not change from tick to tick: each step's
 * definition by name, its critical-path priority and its topological position. Each part is
 * computed the first time a run asks for it (a run with nothing ready never needs the priorities)
 * and kept, weakly, for every run and tick that shares the pipeline object. Pure: the index is a
 * function of the pipeline alone, so caching it changes no plan.
 */
import type { ResolvedPipeline, ResolvedTask } from '../pipeline/resolved-pipeline.js'
import { computePriorities } from './priority.js'

export class PipelineIndex {
  readonly #pipeline: ResolvedPipeline
  #definitions: Map<string, ResolvedTask> | null = null
  #priorities: Map<string, number> | null = null
  #order: Map<string, number> | null = null

  constructor(pipeline: ResolvedPipeline) {
    this.#pipeline = pipeline
  }

  get definitions(): ReadonlyMap<string, ResolvedTask> {
    if (this.#definitions === null) {
      this.#definitions = new Map()
      for (const task of this.#pipeline.tasks) this.#definitions.set(task.name, task)
    }
    return this.#definitions
  }

  /** Critical-path length of each step (the run's own priority order). */
  get priorities(): ReadonlyMap<string, number> {
    this.#priorities ??= computePriorities(this.#pipeline)
    return this.#priorities
  }

  /** Each step's position in the pipeline's topological order. */
  get topologicalOrder(): ReadonlyMap<string, number> {
    if (this.#order === null) {
      this.#order = new Map()
      for (let i = 0; i < this.#pipeline.tasks.length; i++) this.#order.set(this.#pipeline.tasks[i]?.name ?? '', i)
    }
    return this.#order
  }
}

// the pipeline of a snapshot is never changed once resolved (snapshots may even be frozen)
const indexes = new WeakMap<ResolvedPipeline, PipelineIndex>()

export function pipelineIndex(pipeline: ResolvedPipeline): PipelineIndex {
  let index = indexes.get(pipeline)
  if (index === undefined) {
    index = new PipelineIndex(pipeline)
    indexes.set(pipeline, index)
  }
  return index
}
