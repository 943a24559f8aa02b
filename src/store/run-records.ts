/**
 * A run as the store hands it out (RunRecord) and as it is created (NewRun): the types that both the
 * repository (run-store.ts) and its row mapping (run-rows.ts) speak, in their own module so that
 * neither imports the other for them.
 */
import type { TaskInstance } from '../core/pipeline/expand-pipeline.js'
import type { ResolvedPipeline } from '../core/pipeline/resolved-pipeline.js'
import type { RunState } from '../core/scheduling/run-snapshot.js'

export interface RunRecord {
  readonly id: string
  readonly pipelineName: string
  readonly project: string | null
  readonly cluster: string
  readonly specHash: string
  readonly pipeline: ResolvedPipeline
  readonly sourceFile: string
  readonly workDir: string
  readonly state: RunState
  readonly createdAt: string
  readonly updatedAt: string
  readonly finishedAt: string | null
  readonly lastTickAt: string | null
  /** Scheduler commands the last tick ran. */
  readonly lastTickCommands: number | null
  /** Who started the run; per-user budgets charge its jobs to this user. */
  readonly user: string | null
}

export interface NewRun {
  readonly id: string
  readonly pipeline: ResolvedPipeline
  readonly instances: readonly TaskInstance[]
  readonly cluster: string
  readonly specHash: string
  readonly sourceFile: string
  readonly workDir: string
  readonly now: string
  readonly user?: string | null
}
