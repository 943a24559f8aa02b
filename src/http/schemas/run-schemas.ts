/**
 * Runs, their tasks and attempts, and projects, as the API answers them: each schema mirrors the
 * library type it publishes (mirror.ts), strict, so a field of the type missing here fails `tsc`
 * and a field the server was handed but the schema does not know fails the answer instead of
 * vanishing from it.
 */
import { z } from 'zod'
import type { ResourceUsage } from '../../core/job/job-observation.js'
import type { RunState, TaskState } from '../../core/scheduling/run-snapshot.js'
import { AttemptStateSchema, RunStateSchema, TaskStateSchema } from '../../events/event-schemas.js'
import type {
  ExpectedDuration,
  RunEstimateView,
  StageEstimateView,
  TaskEstimateView,
} from '../../monitor/run-estimate.js'
import type { RunProgress, RunSummary, TaskProgress } from '../../monitor/run-progress.js'
import type { AttemptRecord } from '../../store/run-store.js'
import type { ProjectView } from '../run-views.js'
import { mirrors } from './mirror.js'
import { iso, isoOrNull } from './shared.js'

const ExpectedDurationSchema = mirrors<ExpectedDuration>()(
  z.strictObject({
    seconds: z.number(),
    p90Seconds: z.number(),
    samples: z.number().int(),
    source: z.enum(['history', 'declared', 'limit']),
  }),
)

const timesFields = {
  plannedStart: iso,
  plannedEnd: iso,
  projectedStart: isoOrNull,
  projectedEnd: isoOrNull,
  actualStart: isoOrNull,
  actualEnd: isoOrNull,
}

export const TaskEstimateSchema = mirrors<TaskEstimateView>()(
  z.strictObject({
    ...timesFields,
    expected: ExpectedDurationSchema,
    expectedWaitSeconds: z.number(),
    schedulerExpectedStart: isoOrNull.describe(
      'when the scheduler expects this queued job to start (Slurm: squeue --start); the projection prefers it',
    ),
  }),
).meta({ id: 'TaskEstimate' })

const StageEstimateSchema = mirrors<StageEstimateView>()(
  z.strictObject({
    ...timesFields,
    stage: z.string(),
    instances: z.number().int(),
    finished: z.number().int(),
    expected: ExpectedDurationSchema,
    criticalSeconds: z.number(),
  }),
)

/** A run's expected vs actual (runEstimateView without its per-task map, which the tasks carry). */
export const RunEstimateSchema = mirrors<Omit<RunEstimateView, 'tasks'>>()(
  z.strictObject({
    plannedEnd: iso,
    projectedCompletion: iso,
    actualEnd: isoOrNull,
    remainingCriticalPathSeconds: z.number(),
    criticalPath: z.array(z.string()),
    bottleneck: z.string().nullable(),
    deadline: z.string().nullable(),
    slackSeconds: z.number().nullable().describe('deadline − projected completion; negative: late'),
    atRisk: z.boolean(),
    stages: z.array(StageEstimateSchema),
  }),
).meta({ id: 'RunEstimate' })

const runFields = {
  runId: z.string(),
  pipeline: z.string(),
  project: z.string().nullable(),
  cluster: z.string(),
  state: RunStateSchema,
  createdAt: iso,
  finishedAt: isoOrNull,
  elapsedSeconds: z.number(),
  counts: z.record(z.string(), z.number().int()),
  total: z.number().int(),
  done: z.number().int(),
  expectedRemainingSeconds: z.number(),
  lastTickCommands: z.number().int().nullable(),
  lastTickAt: isoOrNull,
  estimate: RunEstimateSchema.nullable(),
}

// the library types a run's and a task's state as text; they are a RunState and a TaskState
export const RunSummarySchema = mirrors<RunSummary, { state: RunState }>()(z.strictObject(runFields)).meta({
  id: 'RunSummary',
})

export const RunPageSchema = z
  .strictObject({
    runs: z.array(RunSummarySchema),
    nextCursor: z.string().nullable().describe('pass as `cursor` for the next page; null: no more'),
  })
  .meta({ id: 'RunPage' })

export const TaskSchema = mirrors<TaskProgress, { state: TaskState }>()(
  z.strictObject({
    id: z.string(),
    group: z.string().describe('the task’s name in the pipeline file (its stage; sweep instances share it)'),
    state: TaskStateSchema,
    jobState: z.string().nullable(),
    attempt: z.number().int(),
    jobId: z.string().nullable(),
    params: z.record(z.string(), z.unknown()),
    elapsedSeconds: z.number().nullable(),
    expectedSeconds: z.number().nullable(),
    reason: z.string().nullable(),
    resumes: z.number().int(),
    outputs: z.record(z.string(), z.unknown()).nullable(),
    estimate: TaskEstimateSchema.nullable(),
  }),
).meta({ id: 'Task' })

export const ResourceUsageSchema = mirrors<ResourceUsage>()(
  z.strictObject({
    elapsedSeconds: z.number().optional(),
    cpuSeconds: z.number().optional(),
    maxRssMb: z.number().optional(),
    allocTres: z
      .record(z.string(), z.number())
      .optional()
      .describe("allocated trackable resources, e.g. { cpu: 4, mem: 16000, 'gres/gpu': 2 }"),
    gpuUtilPercent: z
      .number()
      .optional()
      .describe('GPU utilisation in percent, summed over the job’s GPUs; absent: unknown, not idle'),
  }),
).meta({ id: 'ResourceUsage' })

export const AttemptSchema = mirrors<AttemptRecord>()(
  z.strictObject({
    runId: z.string(),
    taskId: z.string(),
    attempt: z.number().int(),
    submissionKey: z.string(),
    jobId: z.string().nullable(),
    state: AttemptStateSchema,
    nativeState: z.string().nullable(),
    exitCode: z.number().int().nullable(),
    reason: z.string().nullable(),
    submittedAt: iso,
    startedAt: isoOrNull,
    endedAt: isoOrNull,
    missedPolls: z.number().int().describe('consecutive polls that did not report the job'),
    nodes: z.array(z.string()),
    heldReason: z.string().nullable().optional().describe('why rpo holds the job for a budget'),
    nice: z.number().int().nullable().optional().describe('the nice value rpo last set on the pending job'),
    expectedStartAt: isoOrNull.optional().describe('when the scheduler expects the pending job to start'),
    usage: ResourceUsageSchema.nullable().describe('what the scheduler’s accounting said it used'),
  }),
).meta({ id: 'Attempt' })

export const RunDetailSchema = mirrors<
  RunProgress & { readonly attempts: readonly AttemptRecord[] },
  { state: RunState; tasks: readonly z.output<typeof TaskSchema>[] }
>()(z.strictObject({ ...runFields, tasks: z.array(TaskSchema), attempts: z.array(AttemptSchema) })).meta({
  id: 'RunDetail',
})

export const TaskPageSchema = z
  .strictObject({
    runId: z.string(),
    tasks: z.array(TaskSchema).describe('in the run’s order (as GET /v1/runs/{runId} lists them)'),
    next: z.string().nullable().describe('the last task id listed: pass as `after` for the next page; null: no more'),
  })
  .meta({ id: 'TaskPage' })

export const AttemptPageSchema = z
  .strictObject({
    runId: z.string(),
    attempts: z.array(AttemptSchema).describe('by task id, then attempt number'),
    next: z
      .string()
      .nullable()
      .describe('`<taskId>:<attempt>` of the last attempt listed: pass as `after` for the next page; null: no more'),
  })
  .meta({ id: 'AttemptPage' })

export const ProjectSchema = mirrors<ProjectView>()(
  z.strictObject({
    project: z.string(),
    deadline: z.string().nullable(),
    projectedCompletion: isoOrNull.describe('the latest projected completion of its unfinished runs (else its newest)'),
    slackSeconds: z.number().nullable(),
    atRisk: z.boolean(),
    bottleneck: z.strictObject({ runId: z.string(), stage: z.string() }).nullable(),
    runs: z.strictObject({
      total: z.number().int().describe('runs of the project in the store'),
      unfinished: z.number().int(),
      projected: z.array(z.string()).describe('the runs the projection is made of'),
    }),
    tasks: z.strictObject({ total: z.number().int(), done: z.number().int() }).describe('of the projected runs'),
  }),
).meta({ id: 'Project' })

export const ProjectListSchema = z.strictObject({ projects: z.array(ProjectSchema) }).meta({ id: 'ProjectList' })
