/**
 * The HTTP API's response bodies as zod schemas: what the OpenAPI document (openapi.ts) publishes
 * as JSON Schema, and what the tests parse every response with, so the document cannot drift from
 * what the server sends. Shapes are the library's own (RunProgress, RunEstimateView, the budget
 * report, AttemptHistory, RpoEvent); events reuse RpoEventSchema from src/events.
 */
import { z } from 'zod'
import { AttemptStateSchema, RpoEventSchema, RunStateSchema, TaskStateSchema } from '../events/event-schemas.js'

const iso = z.string().describe('ISO 8601 time, UTC')
const isoOrNull = iso.nullable()

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().describe('stable: branch on it, never on the message'),
      message: z.string(),
    }),
  })
  .meta({ id: 'Error' })

const ExpectedDurationSchema = z.object({
  seconds: z.number(),
  p90Seconds: z.number(),
  samples: z.number().int(),
  source: z.enum(['history', 'declared', 'limit']),
})

const timesFields = {
  plannedStart: iso,
  plannedEnd: iso,
  projectedStart: isoOrNull,
  projectedEnd: isoOrNull,
  actualStart: isoOrNull,
  actualEnd: isoOrNull,
}

export const TaskEstimateSchema = z
  .object({ ...timesFields, expected: ExpectedDurationSchema, expectedWaitSeconds: z.number() })
  .meta({ id: 'TaskEstimate' })

const StageEstimateSchema = z.object({
  ...timesFields,
  stage: z.string(),
  instances: z.number().int(),
  finished: z.number().int(),
  expected: ExpectedDurationSchema,
  criticalSeconds: z.number(),
})

/** A run's expected vs actual (runEstimateView without its per-task map, which the tasks carry). */
export const RunEstimateSchema = z
  .object({
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
  })
  .meta({ id: 'RunEstimate' })

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

export const RunSummarySchema = z.object(runFields).meta({ id: 'RunSummary' })

export const RunPageSchema = z
  .object({
    runs: z.array(RunSummarySchema),
    nextCursor: z.string().nullable().describe('pass as `cursor` for the next page; null: no more'),
  })
  .meta({ id: 'RunPage' })

const TaskSchema = z.object({
  id: z.string(),
  group: z.string(),
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
})

const AttemptSchema = z.object({
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
  nodes: z.array(z.string()),
  heldReason: z.string().nullable().optional(),
  usage: z
    .object({
      elapsedSeconds: z.number().optional(),
      cpuSeconds: z.number().optional(),
      maxRssMb: z.number().optional(),
      allocTres: z.record(z.string(), z.number()).optional(),
    })
    .nullable(),
})

export const RunDetailSchema = z
  .object({ ...runFields, tasks: z.array(TaskSchema), attempts: z.array(AttemptSchema) })
  .meta({ id: 'RunDetail' })

export const ProjectSchema = z
  .object({
    project: z.string(),
    deadline: z.string().nullable(),
    projectedCompletion: isoOrNull.describe('the latest projected completion of its unfinished runs (else its newest)'),
    slackSeconds: z.number().nullable(),
    atRisk: z.boolean(),
    bottleneck: z.object({ runId: z.string(), stage: z.string() }).nullable(),
    runs: z.object({
      total: z.number().int().describe('runs of the project in the store'),
      unfinished: z.number().int(),
      projected: z.array(z.string()).describe('the runs the projection is made of'),
    }),
    tasks: z.object({ total: z.number().int(), done: z.number().int() }).describe('of the projected runs'),
  })
  .meta({ id: 'Project' })

export const ProjectListSchema = z.object({ projects: z.array(ProjectSchema) }).meta({ id: 'ProjectList' })

const TresHoursSchema = z.object({
  gpu: z.record(z.string(), z.number()),
  cpu: z.number(),
  memoryGb: z.number(),
  billing: z.number(),
})

const BudgetLineSchema = z.object({
  rule: z.string(),
  project: z.string(),
  user: z.string().nullable(),
  resource: z.string(),
  gpuType: z.string().nullable(),
  cap: z.string(),
  window: z.string(),
  amount: z.number(),
  lent: z.number(),
  borrowed: z.number(),
  budget: z.number(),
  used: z.number(),
  usedRaw: TresHoursSchema,
  committed: z.number(),
  remaining: z.number(),
  burnPerDay: z.number(),
  projectedExhaustion: isoOrNull,
  state: z.string(),
  grants: z.array(
    z.object({
      grantId: z.string(),
      lender: z.string(),
      borrower: z.string(),
      amount: z.number(),
      used: z.number(),
      unused: z.number(),
      expiresAt: iso,
      approvedBy: z.string(),
    }),
  ),
})

/** The same report as `rpo budget report --json`. */
export const BudgetReportSchema = z
  .object({
    at: iso,
    budgets: z.array(BudgetLineSchema),
    problems: z.array(
      z.object({ project: z.string(), kind: z.enum(['budget', 'deadline']), source: z.string(), message: z.string() }),
    ),
    changes: z.array(
      z.object({
        at: iso,
        kind: z.enum(['set', 'grant', 'revoke', 'expiry']),
        project: z.string(),
        to: z.string().nullable(),
        what: z.string(),
        approvedBy: z.string(),
        note: z.string(),
      }),
    ),
    breakdown: z
      .array(
        z.object({
          project: z.string(),
          key: z.string(),
          gpuHours: z.number(),
          cpuHours: z.number(),
          memoryGbHours: z.number(),
        }),
      )
      .nullable(),
  })
  .meta({ id: 'BudgetReport' })

export const AttemptHistorySchema = z
  .object({
    runId: z.string(),
    pipeline: z.string(),
    project: z.string().nullable(),
    user: z.string().nullable(),
    cluster: z.string(),
    taskId: z.string(),
    stage: z.string(),
    attempt: z.number().int(),
    state: AttemptStateSchema,
    exitCode: z.number().int().nullable(),
    submittedAt: iso,
    startedAt: isoOrNull,
    endedAt: isoOrNull,
    durationSeconds: z.number().nullable(),
    queueWaitSeconds: z.number().nullable(),
  })
  .meta({ id: 'AttemptHistory' })

const SampleSummarySchema = z
  .object({ medianSeconds: z.number(), p90Seconds: z.number(), samples: z.number().int() })
  .nullable()

/** One stage's row of `rpo history` (src/core/estimate/stage-history.ts). */
export const StageHistorySchema = z
  .object({
    pipeline: z.string(),
    stage: z.string(),
    tasks: z.number().int(),
    attempts: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int().describe('failed, timed out, out of memory, node failure, preempted or lost'),
    cancelled: z.number().int(),
    retries: z.number().int().describe("new attempts after a failure (the tasks' whole count)"),
    resumes: z.number().int().describe("new attempts after a checkpoint (the tasks' whole count)"),
    failureRate: z.number(),
    retryRate: z.number(),
    resumeRate: z.number(),
    duration: SampleSummarySchema.describe("successful attempts' started → ended"),
    queueWait: SampleSummarySchema.describe('from when an attempt could start to its start'),
    gpuHours: z.number(),
  })
  .meta({ id: 'StageHistory' })

export const HistorySchema = z
  .object({
    attempts: z.array(AttemptHistorySchema).describe('newest first'),
    stages: z
      .array(StageHistorySchema)
      .describe('per pipeline and stage, over every attempt that ended in the window (not only this page)'),
  })
  .meta({ id: 'History' })

const EfficiencySummarySchema = z
  .object({
    attempts: z.number().int(),
    cpuMeasured: z.number().int().describe('attempts with a CPU-time figure: the CPU figures are over these'),
    allocatedCpuHours: z.number(),
    usedCpuHours: z.number(),
    cpuEfficiency: z.number().nullable().describe('used / allocated CPU-hours; null when nothing was measured'),
    idleCpuHours: z.number(),
    memoryMeasured: z.number().int(),
    maxRssMb: z.number().nullable().describe('the memory high-water (MaxRSS), MB'),
    askedMemoryMb: z.number().nullable().describe('what the attempt with the high-water asked for, MB per node'),
    peakMemoryFraction: z.number().nullable().describe('the highest MaxRSS / asked over the measured attempts'),
    gpuHours: z.number().describe('allocated'),
    gpuHoursMeasured: z.number().describe('GPU-hours whose use the scheduler reported'),
    usedGpuHours: z.number().nullable(),
    idleGpuHours: z.number().nullable(),
    gpuHoursUnknown: z.number().describe('allocated with no use reported: unknown, not idle'),
  })
  .meta({ id: 'EfficiencySummary' })

/** `rpo history --efficiency --json` (src/monitor/history-efficiency.ts). */
export const EfficiencySchema = z
  .object({
    filter: z
      .object({
        since: iso.optional(),
        until: iso.optional(),
        project: z.string().optional(),
        runId: z.string().optional(),
        pipeline: z.union([z.string(), z.array(z.string())]).optional(),
        stage: z.string().optional(),
        user: z.string().optional(),
        cluster: z.string().optional(),
        limit: z.number().int().optional(),
      })
      .describe('the window and filters the report is over (the project is the token’s when it has one)'),
    accounting: z
      .object({ asked: z.number().int(), filled: z.number().int(), problems: z.array(z.string()) })
      .describe('always none asked here: the API reports stored figures only and never polls a cluster'),
    total: EfficiencySummarySchema,
    stages: z.array(
      z
        .object({
          pipeline: z.string(),
          stage: z.string(),
          efficiency: EfficiencySummarySchema,
          rightSizing: z
            .object({
              memoryMb: z
                .number()
                .nullable()
                .describe('suggested memory per node, MB; null without a measured success'),
              memorySamples: z.number().int(),
              askedMemoryMb: z.number().nullable(),
              timeLimitSeconds: z.number().nullable(),
              timeSamples: z.number().int(),
              askedTimeLimitSeconds: z.number().nullable(),
            })
            .describe('what to ask for next time, from the successful attempts'),
        })
        .meta({ id: 'StageEfficiency' }),
    ),
    waste: z
      .array(
        z.object({
          runId: z.string(),
          taskId: z.string(),
          attempt: z.number().int(),
          idleCpuHours: z.number(),
          idleGpuHours: z.number(),
          text: z.string(),
        }),
      )
      .describe('the most wasteful attempts, largest idle GPU- then CPU-hours first'),
  })
  .meta({ id: 'Efficiency' })

export const EventPageSchema = z
  .object({
    events: z.array(RpoEventSchema),
    nextAfterId: z
      .number()
      .int()
      .describe('pass as `afterId` for the next page (the last id listed, or the one given)'),
  })
  .meta({ id: 'EventPage' })

const approval = { approvedBy: z.string(), approvedAs: z.string().describe('why the maker was allowed') }

export const BudgetSettingResultSchema = z
  .object({
    project: z.string(),
    user: z.string().nullable(),
    resource: z.string(),
    gpuType: z.string().nullable(),
    amount: z.number(),
    period: z.union([
      z.literal('month'),
      z.object({ rollingDays: z.number().int() }),
      z.object({ from: z.string(), until: z.string() }),
    ]),
    cap: z.enum(['hard', 'soft']),
    actor: z.string(),
    at: iso,
    note: z.string(),
    ...approval,
  })
  .meta({ id: 'BudgetSettingResult' })

export const LedgerEntryResultSchema = z
  .object({
    key: z.string(),
    at: iso,
    kind: z.string(),
    from: z.string(),
    to: z.string(),
    hours: TresHoursSchema,
    ruleScope: z.object({ resource: z.string(), gpuType: z.string().nullable() }).optional(),
    grantId: z.string().optional(),
    expiresAt: iso.optional(),
    actor: z.string(),
    note: z.string(),
    ...approval,
  })
  .meta({ id: 'LedgerEntryResult' })
