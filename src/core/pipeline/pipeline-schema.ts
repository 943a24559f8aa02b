/**
 * The pipeline file schema (zod is the single source of truth; types come from z.infer and the
 * JSON Schema that `rpo schema` prints is generated from it). Values stay as written here; units are
 * resolved by `resolvePipeline`.
 */
import { z } from 'zod'
import { paramEnvName } from './param-env-name.js'
import { placeholderProblems } from './placeholders.js'
import {
  deadlineSchema,
  durationSchema,
  envNameSchema,
  MAX_NAME_LENGTH,
  nameSchema,
  signalSchema,
} from './schema-fields.js'
import { parseDurationSeconds, parseMemoryMb } from './units.js'
import { FrameworkSchema, ModelSpecSchema, SoftwareEnvironmentSchema } from './workload-fields.js'

const name = nameSchema

const duration = durationSchema().describe(
  'A duration: seconds as a number, or a string such as 90s, 15m, 2h30m, 1d, 01:30:00; at most 365 days',
)
const timeLimit = durationSchema({ positive: true }).describe(
  'A time limit: seconds as a number, or a string such as 90s, 15m, 2h30m, 1d, 01:30:00; more than zero, at most 365 days',
)
const envVars = z
  .record(envNameSchema, z.union([z.string(), z.number(), z.boolean()]))
  .describe('Environment variables; names match [A-Za-z_][A-Za-z0-9_]*')

/** Instances one sweep may make, and a whole pipeline: counted before anything is built. */
export const MAX_INSTANCES_PER_TASK = 10_000
export const MAX_INSTANCES_PER_PIPELINE = 100_000

const memory = z
  .union([z.number().positive(), z.string()])
  .refine((v) => parseMemoryMb(v) !== null && (parseMemoryMb(v) as number) > 0, {
    error: 'expected a memory size such as 512M, 16G or 1.5T',
  })
  .describe('Memory: megabytes as a number, or a string such as 512M, 16G, 1.5T')

const positiveInt = z.int({ error: 'expected a positive integer' }).positive({ error: 'expected a positive integer' })

export const GpuSpecSchema = z.strictObject({
  count: positiveInt.describe('GPUs per node'),
  type: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .optional()
    .describe('An acceptable GPU type, or a list of them (any of which will do)'),
  minMemory: memory.optional().describe('Minimum memory per GPU'),
})

export const ResourcesSchema = z.strictObject({
  cpus: positiveInt.optional().describe('CPU cores per task @default 1'),
  memory: memory.optional().describe('Memory per node @default 1G'),
  time: timeLimit
    .optional()
    .describe('Time limit (more than zero, at most 365 days); the task is stopped when it runs longer @default 1h'),
  gpus: z.union([positiveInt, GpuSpecSchema]).optional().describe('GPUs: a count, or {count, type, minMemory}'),
  nodes: positiveInt.optional().describe('Nodes for multi-node tasks @default 1'),
  partition: z.string().min(1).optional(),
  qos: z.string().min(1).optional(),
})
export type ResourcesSpec = z.infer<typeof ResourcesSchema>

export const DependencyConditionSchema = z.enum(['succeeded', 'finished', 'failed'])

export const DependencySchema = z.union([
  z.string().min(1),
  z.strictObject({
    task: z.string().min(1),
    condition: DependencyConditionSchema.default('succeeded').describe(
      'succeeded: run after success (default); finished: after any end; failed: only if it failed',
    ),
  }),
])

const scalar = z.union([z.string(), z.number(), z.boolean()])

export const WhenSchema = z.union([
  z.strictObject({
    task: z.string().min(1),
    status: z.enum(['succeeded', 'failed', 'skipped']),
  }),
  z.strictObject({
    task: z.string().min(1),
    output: z.string().min(1).describe('A key of the JSON object the upstream task wrote to $RPO_OUTPUTS'),
    op: z.enum(['==', '!=', '<', '<=', '>', '>=', 'in', 'truthy']).default('truthy'),
    value: z.union([scalar, z.array(scalar)]).optional(),
  }),
])
export type WhenSpec = z.infer<typeof WhenSchema>

export const MatrixSchema = z
  .object({
    include: z.array(z.record(z.string(), scalar)).optional().describe('Extra combinations to add'),
    exclude: z.array(z.record(z.string(), scalar)).optional().describe('Combinations to leave out (partial match)'),
  })
  .catchall(z.array(scalar).min(1, { error: 'expected a non-empty list of values' }))
  .describe('Sweep parameters: each key lists values; the cartesian product becomes one task instance each')

export const ForeachSchema = z.strictObject({
  task: z.string().min(1).describe('The upstream task that writes the list'),
  output: z.string().min(1).describe('The key in its $RPO_OUTPUTS JSON whose value is the list'),
})

export const RetrySchema = z.union([
  z.int().nonnegative(),
  z.strictObject({
    max: z.int().nonnegative().describe('Retries after the first attempt'),
    backoff: duration.optional().describe('Delay before the first retry @default 5s'),
    factor: z.number().min(1).optional().describe('Backoff multiplier per retry @default 2'),
    maxBackoff: duration.optional().describe('@default 10m'),
    on: z
      .array(z.enum(['failed', 'timeout', 'out_of_memory', 'node_fail', 'preempted', 'lost']))
      .optional()
      .describe('Which endings are retried @default all of them'),
    oomMemoryFactor: z
      .number()
      .min(1)
      .optional()
      .describe('After an out-of-memory ending, the next attempt asks for this much more memory @default 1.5'),
    oomMaxMemory: memory
      .optional()
      .describe('Memory escalation stops here; an attempt that ran out of memory at this size is not retried'),
    timeFactor: z
      .number()
      .min(1)
      .optional()
      .describe(
        'After a time-limit ending without a checkpoint, the next attempt asks for this much more time (1: the same time) @default 1.5',
      ),
    maxTime: timeLimit
      .optional()
      .describe('Time escalation stops here; an attempt that hit its time limit at this length is not retried'),
  }),
])

const CHECKPOINT_EVERY = /^(never|(\d+(steps|s|m|h))(,\d+(steps|s|m|h))*)$/

export const CheckpointSchema = z
  .strictObject({
    dir: z
      .string()
      .min(1)
      .optional()
      .describe("Checkpoint folder, relative to the task's output folder (or absolute) @default checkpoints"),
    every: z
      .union([z.int().positive(), z.string().regex(CHECKPOINT_EVERY)])
      .optional()
      .describe('Periodic saves: seconds, or "500steps", "10m", "500steps,30m", "never" @default 10m'),
    keep: positiveInt.optional().describe('How many checkpoints to keep @default 3'),
    leadTime: duration
      .optional()
      .describe('Signal the job this long before its time limit (Slurm may send it up to 60 s earlier) @default 5m'),
    signal: signalSchema
      .optional()
      .describe('The signal that asks the job to checkpoint and exit 85 @default USR2 (NCCL owns USR1)'),
    maxResumes: z
      .int()
      .nonnegative()
      .optional()
      .describe('Resumes allowed after checkpoints, time limits, node failures and preemptions @default 20'),
  })
  .describe('Opt in to checkpoint-resume (docs/checkpointing.md)')

export const TaskSchema = z
  .strictObject({
    description: z.string().optional(),
    command: z
      .string()
      .min(1)
      .optional()
      .describe('Shell command, run with bash; {{params.x}} and {{item}} are substituted, quoted'),
    script: z.string().min(1).optional().describe('Path of a script to run, relative to the pipeline file'),
    resources: ResourcesSchema.optional(),
    after: z.array(DependencySchema).optional().describe('Upstream tasks'),
    when: z.array(WhenSchema).optional().describe('All must hold for the task to run; otherwise it is skipped'),
    matrix: MatrixSchema.optional(),
    foreach: ForeachSchema.optional(),
    retries: RetrySchema.optional(),
    checkpoint: CheckpointSchema.optional(),
    expected: duration.optional().describe('Expected duration, for progress and deadlines'),
    maxParallel: positiveInt
      .optional()
      .describe('At most this many instances of a sweep or fan-out at once (on Slurm: the job array throttle %k)'),
    env: envVars.optional(),
    framework: FrameworkSchema.optional(),
    model: ModelSpecSchema.optional(),
    environment: SoftwareEnvironmentSchema.optional(),
    cluster: name('cluster name')
      .optional()
      .describe(
        "Cluster from the config this task runs on; an edge to a task on another cluster is waited on by rpo @default the pipeline's cluster",
      ),
    metadata: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Free metadata: experiment parameters, dataset name/version/hash'),
  })
  .superRefine((task, ctx) => {
    const matrix = isObject(task.matrix) ? task.matrix : undefined
    if (typeof task.command === 'string') {
      const scope = { params: matrix ? matrixParamNames(matrix) : null, item: task.foreach !== undefined }
      for (const message of placeholderProblems(task.command, scope)) {
        ctx.addIssue({ code: 'custom', message, path: ['command'] })
      }
    }
    if (matrix) checkMatrix(matrix, ctx)
    if ((task.command === undefined) === (task.script === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of "command" or "script"', path: [] })
    }
    if (task.matrix && task.foreach) {
      ctx.addIssue({
        code: 'custom',
        message: '"matrix" and "foreach" cannot be combined on one task',
        path: ['foreach'],
      })
    }
    const maxTimeProblem = maxTimeBelowTimeLimit(task)
    if (maxTimeProblem) ctx.addIssue({ code: 'custom', message: maxTimeProblem, path: ['retries', 'maxTime'] })
  })
export type TaskSpec = z.infer<typeof TaskSchema>

// a ceiling below the first attempt's limit would stop every time-limit retry: a slip, not a wish
function maxTimeBelowTimeLimit(task: { retries?: unknown; resources?: unknown }): string | null {
  if (!isObject(task.retries) || !isObject(task.resources)) return null
  const { maxTime } = task.retries as { maxTime?: unknown }
  const { time } = task.resources as { time?: unknown }
  if (
    (typeof maxTime !== 'string' && typeof maxTime !== 'number') ||
    (typeof time !== 'string' && typeof time !== 'number')
  )
    return null
  const ceiling = parseDurationSeconds(maxTime)
  const limit = parseDurationSeconds(time)
  if (ceiling === null || limit === null || ceiling >= limit) return null
  return `retries.maxTime (${maxTime}) is below resources.time (${time}): no time-limit ending could be retried`
}
type MatrixSpec = z.infer<typeof MatrixSchema>

/** A matrix's params: its axes and the keys its includes add, in first-seen order. */
export function matrixParamNames(matrix: MatrixSpec): string[] {
  const names = new Set<string>()
  for (const key of Object.keys(matrix)) if (key !== 'include' && key !== 'exclude') names.add(key)
  const include = Array.isArray(matrix.include) ? matrix.include : []
  for (const extra of include) if (isObject(extra)) for (const key of Object.keys(extra)) names.add(key)
  return [...names]
}

/** An upper bound on a matrix's instances (excludes not subtracted), computed without building them. */
function matrixSize(matrix: MatrixSpec): { bound: number; formula: string } {
  const axes = Object.entries(matrix).filter(([key]) => key !== 'include' && key !== 'exclude') as [string, unknown[]][]
  let product = axes.length === 0 ? 0 : 1
  for (const [, values] of axes) product *= Array.isArray(values) ? values.length : 1
  const includes = Array.isArray(matrix.include) ? matrix.include.length : 0
  const sizes = axes.map(([, values]) => (Array.isArray(values) ? values.length : 1))
  const formula = [sizes.length > 1 ? sizes.join(' × ') : '', includes > 0 ? `${includes} include(s)` : '']
    .filter((part) => part !== '')
    .join(' + ')
  return { bound: product + includes, formula }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function describeCount(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : n.toExponential(2)
}

/** Excludes and includes are matched against every combination: bounded so that stays quick. */
const MAX_MATRIX_FILTERS = 1_000

function checkMatrix(matrix: MatrixSpec, ctx: z.RefinementCtx): void {
  const { bound, formula } = matrixSize(matrix)
  if (bound > MAX_INSTANCES_PER_TASK) {
    ctx.addIssue({
      code: 'custom',
      path: ['matrix'],
      message: `would make ${describeCount(bound)} task instances${formula ? ` (${formula})` : ''}; rpo allows at most ${MAX_INSTANCES_PER_TASK} per task: sweep fewer values, or split the task`,
    })
  }
  for (const list of ['include', 'exclude'] as const) {
    if (Array.isArray(matrix[list]) && (matrix[list]?.length ?? 0) > MAX_MATRIX_FILTERS) {
      ctx.addIssue({
        code: 'custom',
        path: ['matrix', list],
        message: `expected at most ${MAX_MATRIX_FILTERS} entries, got ${matrix[list]?.length}`,
      })
    }
  }
  // each param is also exported as RPO_PARAM_<NAME>: two keys with one name would lose a value
  const byEnv = new Map<string, string>()
  for (const key of matrixParamNames(matrix)) {
    const env = paramEnvName(key)
    const other = byEnv.get(env)
    if (other === undefined) byEnv.set(env, key)
    else {
      ctx.addIssue({
        code: 'custom',
        path: ['matrix'],
        message: `keys "${other}" and "${key}" would both be exported as ${env}; rename one`,
      })
    }
  }
}

export const PipelineSchema = z.strictObject({
  $schema: z.string().optional(),
  name: name('pipeline name'),
  description: z.string().optional(),
  project: name('project name').optional().describe('The project charged for this pipeline'),
  cluster: z.string().optional().describe('Target cluster from the config @default the config default'),
  importance: z.number().positive().optional(),
  deadline: deadlineSchema
    .optional()
    .describe('ISO 8601 date-time with a time zone (2026-12-31T18:00:00Z) by which the pipeline should be done'),
  defaults: z
    .strictObject({
      resources: ResourcesSchema.optional(),
      retries: RetrySchema.optional(),
      env: envVars.optional(),
      framework: FrameworkSchema.optional(),
      environment: SoftwareEnvironmentSchema.optional(),
    })
    .optional(),
  env: envVars.optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  tasks: z
    .record(name('task name'), TaskSchema)
    .refine((tasks) => Object.keys(tasks).length > 0, { error: 'expected at least one task' })
    .superRefine((tasks, ctx) => {
      let total = 0
      // refinements also run over values that failed their own checks: look before reading
      let oversizedTask = false
      for (const task of Object.values(tasks) as unknown[]) {
        const size = isObject(task) && isObject(task.matrix) ? matrixSize(task.matrix as MatrixSpec).bound : 1
        oversizedTask ||= size > MAX_INSTANCES_PER_TASK
        total += size
      }
      // a task over its own cap is reported on the task; the total would only repeat it
      if (total > MAX_INSTANCES_PER_PIPELINE && !oversizedTask) {
        ctx.addIssue({
          code: 'custom',
          message: `the tasks and their sweeps would make ${describeCount(total)} task instances; rpo allows at most ${MAX_INSTANCES_PER_PIPELINE} per pipeline: split it into several pipelines`,
        })
      }
    })
    .describe(`Task names: letters, digits, '_' and '-', at most ${MAX_NAME_LENGTH} characters`),
})
export type PipelineSpec = z.infer<typeof PipelineSchema>
