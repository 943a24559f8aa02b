/**
 * Past attempts and each stage's rows (`rpo history`), efficiency (`rpo history --efficiency
 * --json`) and pages of the event log: each schema mirrors the library type it publishes
 * (mirror.ts), strict. Events are RpoEventSchema, the event log's own.
 */
import { z } from 'zod'
import type { AskedResources } from '../../core/estimate/efficiency.js'
import type { StageHistoryRow } from '../../core/estimate/stage-history.js'
import { AttemptStateSchema, RpoEventSchema } from '../../events/event-schemas.js'
import type { HistoryEfficiency } from '../../monitor/history-efficiency.js'
import type { AttemptHistory } from '../../store/history-queries.js'
import { mirrors } from './mirror.js'
import { ResourceUsageSchema } from './run-schemas.js'
import { iso, isoOrNull } from './shared.js'

const AskedResourcesSchema = mirrors<AskedResources>()(
  z.strictObject({
    cpus: z.number(),
    memoryMb: z.number(),
    timeLimitSeconds: z.number(),
    gpus: z.number(),
    nodes: z.number(),
  }),
).describe('what its task asked for in the run’s pipeline, per node')

export const AttemptHistorySchema = mirrors<AttemptHistory>()(
  z.strictObject({
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
    durationSeconds: z.number().nullable().describe('started → ended'),
    queueWaitSeconds: z.number().nullable().describe('submitted → started'),
    eligibleWaitSeconds: z
      .number()
      .nullable()
      .describe('from when it could start (submitted, or its upstreams’ end) to its start'),
    submissionKey: z.string(),
    jobId: z.string().nullable(),
    usage: ResourceUsageSchema.nullable(),
    asked: AskedResourcesSchema.nullable(),
    taskAttempts: z.number().int().describe('the task’s attempts so far (all of them, not only those in the window)'),
    taskResumes: z.number().int(),
  }),
).meta({ id: 'AttemptHistory' })

const SampleSummarySchema = z
  .strictObject({ medianSeconds: z.number(), p90Seconds: z.number(), samples: z.number().int() })
  .nullable()

/** One stage's row of `rpo history` (src/core/estimate/stage-history.ts). */
export const StageHistorySchema = mirrors<StageHistoryRow>()(
  z.strictObject({
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
  }),
).meta({ id: 'StageHistory' })

export const HistorySchema = mirrors<{
  readonly attempts: readonly AttemptHistory[]
  readonly stages: readonly StageHistoryRow[]
}>()(
  z.strictObject({
    attempts: z.array(AttemptHistorySchema).describe('newest first'),
    stages: z
      .array(StageHistorySchema)
      .describe('per pipeline and stage, over every attempt that ended in the window (not only this page)'),
  }),
).meta({ id: 'History' })

const EfficiencySummarySchema = z
  .strictObject({
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
export const EfficiencySchema = mirrors<HistoryEfficiency>()(
  z.strictObject({
    filter: z
      .strictObject({
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
      .strictObject({ asked: z.number().int(), filled: z.number().int(), problems: z.array(z.string()) })
      .describe('always none asked here: the API reports stored figures only and never polls a cluster'),
    total: EfficiencySummarySchema,
    stages: z.array(
      z
        .strictObject({
          pipeline: z.string(),
          stage: z.string(),
          efficiency: EfficiencySummarySchema,
          rightSizing: z
            .strictObject({
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
        z.strictObject({
          runId: z.string(),
          taskId: z.string(),
          attempt: z.number().int(),
          idleCpuHours: z.number(),
          idleGpuHours: z.number(),
          text: z.string(),
        }),
      )
      .describe('the most wasteful attempts, largest idle GPU- then CPU-hours first'),
  }),
).meta({ id: 'Efficiency' })

export const EventPageSchema = z
  .strictObject({
    events: z.array(RpoEventSchema),
    nextAfterId: z
      .number()
      .int()
      .describe('pass as `afterId` for the next page (the last id listed, or the one given)'),
  })
  .meta({ id: 'EventPage' })
