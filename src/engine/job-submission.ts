/**
 * What one task attempt asks of the scheduler: its command, folders, environment (the RPO_* names
 * documented in README.md), resources, and — for sweep instances — its place in a job array.
 * Dependencies are filled in by the engine at submission time.
 */
import path from 'node:path'
import { paramEnvName } from '../core/pipeline/param-env-name.js'
import type { ResolvedCheckpoint, ResolvedTask } from '../core/pipeline/resolved-pipeline.js'
import { attemptResources, type TaskSnapshot } from '../core/scheduling/run-snapshot.js'
import { asSubmissionKey, type JobSubmission } from '../scheduler/scheduler-adapter.js'
import { needsLauncher } from '../script/launch/launch-plan.js'
import type { RunRecord } from '../store/run-store.js'

export interface JobLayout {
  /** Attempt folders on the target: `<jobsRoot>/<submission key>`. */
  readonly jobsRoot: string
  /** Task output folders on the target: `<runsRoot>/<run id>/<task id>`. */
  readonly runsRoot: string
  /** Where commands run on the target; the pipeline file's folder when absent. */
  readonly jobWorkDir?: string | undefined
}

export interface AttemptToSubmit {
  readonly run: RunRecord
  readonly task: TaskSnapshot
  readonly definition: ResolvedTask
  readonly attempt: number
  readonly submissionKey: string
}

/** A task's artifact folder on the target (`RPO_OUTPUT_DIR`), shared by its attempts. */
export function taskOutputDir(layout: JobLayout, runId: string, taskId: string): string {
  return path.posix.join(layout.runsRoot, runId, taskId)
}

/** A task's checkpoint folder on the target (`RPO_CHECKPOINT_DIR`): `checkpoint.dir` within its artifact folder. */
export function checkpointDir(
  layout: JobLayout,
  runId: string,
  taskId: string,
  checkpoint: ResolvedCheckpoint,
): string {
  return path.posix.resolve(taskOutputDir(layout, runId, taskId), checkpoint.dir)
}

export function buildJobSubmission(
  layout: JobLayout,
  { run, task, definition, attempt, submissionKey }: AttemptToSubmit,
): JobSubmission {
  const jobDir = path.posix.join(layout.jobsRoot, submissionKey)
  const env: Record<string, string> = {
    ...definition.env,
    RPO_RUN_ID: run.id,
    RPO_PIPELINE: run.pipelineName,
    RPO_TASK_ID: task.id,
    RPO_TASK_NAME: task.group,
    RPO_ATTEMPT: String(attempt),
    RPO_RUN_DIR: path.posix.join(layout.runsRoot, run.id),
    RPO_OUTPUT_DIR: taskOutputDir(layout, run.id, task.id),
    RPO_OUTPUTS: path.posix.join(jobDir, 'outputs.json'),
    RPO_PARAMS: JSON.stringify(task.params),
  }
  for (const [name, value] of Object.entries(task.params)) {
    env[paramEnvName(name)] = String(value)
  }
  if (task.item !== null && task.item !== undefined) {
    env.RPO_ITEM = typeof task.item === 'string' ? task.item : JSON.stringify(task.item)
  }
  const checkpoint = definition.checkpoint
  if (checkpoint) {
    // docs/checkpointing.md, protocol 1: one folder per (run, task), the same for every attempt
    env.RPO_CHECKPOINT_PROTOCOL = '1'
    env.RPO_CHECKPOINT_DIR = checkpointDir(layout, run.id, task.id, checkpoint)
    env.RPO_CHECKPOINT_KEEP = String(checkpoint.keep)
    env.RPO_CHECKPOINT_EVERY = checkpoint.every
    env.RPO_CHECKPOINT_SIGNAL = checkpoint.signal
    env.RPO_CHECKPOINT_LEAD_SECONDS = String(checkpoint.leadSeconds)
    env.RPO_RESUME = task.resumes > 0 || task.failures > 0 ? '1' : '0'
  }
  const overrides = task.overrides
  const resources = attemptResources(definition, overrides)
  const instance = task.id.slice(task.group.length + 1)
  return {
    submissionKey: asSubmissionKey(submissionKey),
    runId: run.id,
    taskId: task.id,
    attempt,
    command: task.command,
    workDir: layout.jobWorkDir ?? run.workDir,
    jobDir,
    env,
    resources,
    dependsOn: [],
    project: run.project,
    // a sweep instance (`train.3`) may go out inside its sweep's job array — unless it needs a
    // launcher or an environment, which the array scripts do not render (one job per instance)
    ...(definition.matrix &&
    /^\d+$/.test(instance) &&
    !needsLauncher(definition.framework, resources.nodes) &&
    definition.environment === null
      ? {
          array: {
            key: asSubmissionKey(`rpo.${run.id}.${task.group}.array.${attempt}`),
            index: Number(instance),
            throttle: definition.maxParallel,
          },
        }
      : {}),
    ...(checkpoint
      ? {
          checkpoint: {
            signal: checkpoint.signal,
            leadSeconds: checkpoint.leadSeconds,
            maxRestarts: Math.max(0, checkpoint.maxResumes - task.resumes),
          },
        }
      : {}),
    ...(overrides?.excludeNodes?.length ? { excludeNodes: overrides.excludeNodes } : {}),
    ...(definition.resources.partition ? { partition: definition.resources.partition } : {}),
    ...(definition.resources.qos ? { qos: definition.resources.qos } : {}),
    ...(definition.framework ? { framework: definition.framework } : {}),
    ...(definition.environment ? { environment: definition.environment } : {}),
  }
}
