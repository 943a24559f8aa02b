/**
 * The batch scripts a batch of jobs would be submitted with, without submitting anything: what
 * `rpo compile` shows. Not part of the adapter contract (only targets with batch scripts have
 * them): the Slurm and PBS adapters implement it, and the composition root hands it to the engine.
 */
import type { JobSubmission } from './scheduler-adapter.js'

/** One scheduler job's script, with the submission keys it carries (several for a sweep's array). */
export interface RenderedScript {
  readonly keys: readonly string[]
  readonly script: string
}

export interface ScriptRenderer {
  renderScripts(jobs: readonly JobSubmission[]): readonly RenderedScript[]
}
