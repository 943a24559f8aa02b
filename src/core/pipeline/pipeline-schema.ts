/**
 * The pipeline file schema (zod is the single source of truth; types come from z.infer and the
 * JSON Schema that `rpo schema` prints is generated from it). Values stay as written here; units are
 * resolved by `resolvePipeline`.
 */
import { z } from 'zod'
import { parseDurationSeconds, parseMemoryMb } from './units.js'

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/
const name = (what: string) =>
  z.string().regex(NAME_PATTERN, {
    error: `expected a ${what} made of letters, digits, '_' and '-' (starting with a letter or digit)`,
  })

const duration = z
  .union([z.number().nonnegative(), z.string()])
  .refine((v) => parseDurationSeconds(v) !== null, { error: 'expected a duration such as 90s, 15m, 2h30m or 01:30:00' })
  .describe('A duration: seconds as a number, or a string such as 90s, 15m, 2h30m, 1d, 01:30:00')

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
  time: duration.optional().describe('Time limit; the task is stopped when it runs longer @default 1h'),
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
    signal: z
      .string()
      .regex(/^(SIG)?[A-Z0-9]{1,8}$/)
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
    env: z.record(z.string(), scalar).optional(),
    cluster: z.string().optional(),
    metadata: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Free metadata: experiment parameters, dataset name/version/hash'),
  })
  .superRefine((task, ctx) => {
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
  })
export type TaskSpec = z.infer<typeof TaskSchema>

export const PipelineSchema = z.strictObject({
  $schema: z.string().optional(),
  name: name('pipeline name'),
  description: z.string().optional(),
  project: name('project name').optional().describe('The project charged for this pipeline'),
  cluster: z.string().optional().describe('Target cluster from the config @default the config default'),
  importance: z.number().positive().optional(),
  deadline: z.string().optional().describe('ISO 8601 date-time by which the pipeline should be done'),
  defaults: z
    .strictObject({
      resources: ResourcesSchema.optional(),
      retries: RetrySchema.optional(),
      env: z.record(z.string(), scalar).optional(),
    })
    .optional(),
  env: z.record(z.string(), scalar).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  tasks: z
    .record(name('task name'), TaskSchema)
    .refine((tasks) => Object.keys(tasks).length > 0, { error: 'expected at least one task' }),
})
export type PipelineSpec = z.infer<typeof PipelineSchema>
