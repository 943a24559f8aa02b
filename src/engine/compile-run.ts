/**
 * The dry run behind `rpo compile`: every task of a pipeline as the scheduler would get it, grouped
 * the way the adapter would submit it (a sweep as one job array on Slurm), with the batch scripts.
 * Nothing is recorded or submitted.
 */
import type { LoadedPipeline } from '../config/load-pipeline.js'
import type { ResolvedTask } from '../core/pipeline/resolved-pipeline.js'
import { newTaskSnapshot } from '../core/scheduling/run-snapshot.js'
import type { JobSubmission, SchedulerAdapter } from '../scheduler/scheduler-adapter.js'
import type { ScriptRenderer } from '../scheduler/script-renderer.js'
import type { RunRecord } from '../store/run-store.js'
import type { JobToPlace } from './gpu-placement-step.js'
import { buildJobSubmission, type JobLayout } from './job-submission.js'

/** One scheduler job of a dry run. */
export interface CompiledJob {
  readonly taskIds: readonly string[]
  readonly after: readonly string[]
  /** The batch script, or null where the target runs commands directly (local executor). */
  readonly script: string | null
  readonly command: string
  /** A foreach task: its instances exist only once its upstream wrote the list. */
  readonly fanOut: boolean
}

export interface CompileContext {
  readonly adapter: SchedulerAdapter
  /** The target's batch scripts; absent where commands run directly (local executor). */
  readonly renderer?: ScriptRenderer
  readonly clusterName: string
  readonly layout: JobLayout
  readonly now: number
  /** GPU placement as the submission would do it (gpu-placement-step.ts); absent: jobs as written. */
  readonly place?: (entry: JobToPlace) => JobSubmission
}

export function compilePipeline(context: CompileContext, loaded: LoadedPipeline): CompiledJob[] {
  const now = new Date(context.now).toISOString()
  const run: RunRecord = {
    id: `${loaded.pipeline.name}-DRYRUN`,
    pipelineName: loaded.pipeline.name,
    project: loaded.pipeline.project,
    user: null,
    cluster: context.clusterName,
    specHash: loaded.specHash,
    pipeline: loaded.pipeline,
    sourceFile: loaded.file,
    workDir: loaded.workDir,
    state: 'running',
    createdAt: now,
    updatedAt: now,
    finishedAt: null,
    lastTickAt: null,
    lastTickCommands: null,
  }
  const definitions = new Map(loaded.pipeline.tasks.map((t) => [t.name, t]))
  const jobs = loaded.instances.map((instance) => {
    const definition = definitions.get(instance.group) as ResolvedTask
    const task = newTaskSnapshot(instance)
    const built = buildJobSubmission(context.layout, {
      run,
      task,
      definition,
      attempt: 1,
      submissionKey: `rpo.${run.id}.${instance.id}.1`,
    })
    const job = context.place ? context.place({ run, definition, job: built }) : built
    const after = definition.after.map((d) => (d.condition === 'succeeded' ? d.task : `${d.task} (${d.condition})`))
    return { instance, job, after }
  })
  const byKey = new Map(jobs.map((j) => [j.job.submissionKey as string, j]))
  const scripted = jobs.filter((j) => j.instance.kind !== 'foreach-template').map((j) => j.job)
  const rendered =
    context.renderer?.renderScripts(scripted) ?? scripted.map((job) => ({ keys: [job.submissionKey], script: null }))
  const compiled: CompiledJob[] = rendered.map((unit) => {
    const members = unit.keys.map((k) => byKey.get(k) as (typeof jobs)[number])
    const first = members[0] as (typeof jobs)[number]
    return {
      taskIds: members.map((m) => m.instance.id),
      after: first.after,
      script: unit.script,
      command: first.job.command,
      fanOut: false,
    }
  })
  for (const j of jobs) {
    if (j.instance.kind === 'foreach-template') {
      compiled.push({ taskIds: [j.instance.id], after: j.after, script: null, command: j.job.command, fanOut: true })
    }
  }
  return compiled
}
