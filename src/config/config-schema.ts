/**
 * The rpo config file schema: the store, the clusters (local, Slurm, PBS), projects with their
 * importance, deadlines and budgets, and the sync schedule. zod is the single source of truth.
 */

import cron from 'node-cron'
import { z } from 'zod'
import { MAX_BUDGET_AMOUNT } from '../core/budget/budget-limits.js'
import { periodWindow } from '../core/budget/budget-period.js'
import { isRpoError } from '../core/errors.js'
import { deadlineSchema, durationSchema, nameSchema } from '../core/pipeline/schema-fields.js'
import { parseDurationSeconds, parseMemoryMb } from '../core/pipeline/units.js'
import { EVENT_TYPES } from '../events/event-schemas.js'

const name = nameSchema('name')
const memory = z
  .union([z.number().positive(), z.string()])
  .refine((v) => (parseMemoryMb(v) ?? 0) > 0, { error: 'expected a memory size such as 16G' })
// timeouts past an hour are mistakes, and past ~24 days they overflow Node's timers
const duration = durationSchema({ maxSeconds: 3600, example: '30s or 5m' })

export const SshConnectionSchema = z.strictObject({
  host: z.string().min(1),
  port: z.int().positive().max(65535).default(22),
  user: z.string().min(1),
  privateKey: z.string().optional().describe('Path of the private key file; the SSH agent is used when absent'),
  knownHosts: z.string().optional().describe('Path of the known_hosts file @default ~/.ssh/known_hosts'),
  trustOnFirstUse: z.boolean().default(false).describe('Accept and record an unknown host key (never a changed one)'),
  connectTimeout: duration.optional(),
})

/** What a cluster says about one GPU type, over the shipped catalog (src/core/gpu/gpu-catalog.ts). */
const GpuModelFields = {
  memory: memory.optional().describe('Memory per GPU, e.g. 40G; required for a type the catalog does not know'),
  speed: z
    .number()
    .positive()
    .optional()
    .describe("Relative speed (A100 = 1.0); preferred for deadline-critical work @default the catalog's"),
  cost: z
    .number()
    .positive()
    .optional()
    .describe(
      "Relative cost of a GPU-hour (A100 = 1.0); a project's gpuWeights take precedence @default the catalog's",
    ),
  architecture: z.string().min(1).optional().describe('GPU generation, e.g. ampere, hopper'),
  interconnect: z.enum(['nvlink', 'pcie']).optional().describe('How the GPUs of a node are linked'),
}
const GpuModelSchema = z.strictObject(GpuModelFields)
export type GpuModelConfig = z.infer<typeof GpuModelSchema>

const LocalClusterSchema = z.strictObject({
  kind: z.literal('local'),
  cpus: z.int().positive().optional().describe('CPU slots @default the number of CPUs of this machine'),
  memory: memory.optional().describe('Memory to fill @default the total memory of this machine'),
  gpus: z
    .array(z.strictObject({ type: z.string().min(1), count: z.int().positive(), ...GpuModelFields }))
    .default([])
    .describe(
      'GPUs of this machine, by type (memory, speed, cost over the GPU catalog: docs/gpus.md); tasks get CUDA_VISIBLE_DEVICES',
    ),
  killGrace: durationSchema({ maxSeconds: 3600, example: '10s' })
    .default('10s')
    .describe('After a time limit: SIGTERM, then SIGKILL this much later (at most 1h)'),
  pollInterval: durationSchema({ minSeconds: 0.01, maxSeconds: 3600, example: '250ms' })
    .default('250ms')
    .describe('How often a following run checks its tasks (10ms to 1h)'),
})

const BatchClusterFields = {
  ssh: SshConnectionSchema.optional().describe(
    'Where the scheduler commands run; omit when rpo runs on the login node',
  ),
  workDir: z.string().min(1).describe('Directory on the cluster for job scripts, logs and outputs'),
  partition: z.string().optional(),
  account: z.string().optional(),
  qos: z.string().optional(),
  pollInterval: durationSchema({ minSeconds: 0.25, maxSeconds: 3600, example: '15s' })
    .default('15s')
    .describe('Base interval between polls; backs off while nothing changes (250ms to 1h)'),
  maxPollInterval: durationSchema({ minSeconds: 0.25, maxSeconds: 3600, example: '2m' })
    .default('2m')
    .describe('The longest interval the backoff reaches; not shorter than pollInterval (at most 1h)'),
  maxActive: z.int().positive().default(5000).describe('Jobs rpo keeps on the scheduler at once'),
  gpus: z
    .record(z.string().min(1), GpuModelSchema)
    .optional()
    .describe(
      "The cluster's GPU types as its scheduler names them, over the shipped GPU catalog (docs/gpus.md): {a100: {memory: 80G}}",
    ),
}

/** maxPollInterval below pollInterval would make the backoff shrink the interval. */
function checkPollIntervals(
  cluster: { pollInterval: string | number; maxPollInterval: string | number },
  ctx: z.RefinementCtx,
): void {
  const base = parseDurationSeconds(cluster.pollInterval)
  const max = parseDurationSeconds(cluster.maxPollInterval)
  if (base !== null && max !== null && max < base) {
    ctx.addIssue({
      code: 'custom',
      path: ['maxPollInterval'],
      message: `expected a duration not shorter than pollInterval (${cluster.pollInterval})`,
    })
  }
}

const SlurmClusterSchema = z
  .strictObject({ kind: z.literal('slurm'), ...BatchClusterFields })
  .superRefine(checkPollIntervals)
const PbsClusterSchema = z
  .strictObject({
    kind: z.literal('pbs'),
    // every row of adapters/pbs/pbs-flavors.ts, so a flavor rpo can detect can also be named
    // (test/config/load-config.test.ts walks PBS_FLAVOR_NAMES)
    flavor: z
      .enum(['pbspro', 'openpbs', 'torque', 'slurm-torque'])
      .optional()
      .describe(
        'pbspro, openpbs, torque, or slurm-torque (the Slurm Torque wrappers); detected from qstat --version when absent',
      ),
    arrays: z
      .boolean()
      .optional()
      .describe(
        'Submit sweeps as job arrays (-J/-t); set false for a server that refuses them @default true where supported',
      ),
    gpuTypeResource: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_]*$/, { error: 'expected a PBS resource name (letters, digits, _)' })
      .optional()
      .describe(
        "The site's custom resource naming a node's GPU type (select chunks get :<resource>=a100; pbsnodes reports it). PBS has none built in: without it rpo cannot ask for the GPU type placement chose",
      ),
    ...BatchClusterFields,
  })
  .superRefine(checkPollIntervals)

export const ClusterSchema = z.discriminatedUnion('kind', [LocalClusterSchema, SlurmClusterSchema, PbsClusterSchema])
export type ClusterConfig = z.infer<typeof ClusterSchema>
export type LocalClusterConfig = z.infer<typeof LocalClusterSchema>

export const BudgetSchema = z.strictObject({
  resource: z.enum(['gpu-hours', 'cpu-hours', 'memory-gb-hours', 'billing']).describe('What the amount counts'),
  gpuType: z.string().optional().describe('Only this GPU type; all types when absent'),
  amount: z
    .number()
    .nonnegative()
    .max(MAX_BUDGET_AMOUNT, {
      error: `at most ${MAX_BUDGET_AMOUNT} (a larger budget is a typo or a cap switched off)`,
    }),
  period: z
    .union([
      z.literal('month'),
      z.strictObject({ rollingDays: z.int().positive() }),
      z.strictObject({ from: z.string(), until: z.string() }),
    ])
    .superRefine((period, ctx) => {
      // the same rules budgets are computed with: ISO dates, real calendar days, from before until
      if (typeof period !== 'object' || !('from' in period)) return
      try {
        periodWindow(period, 0)
      } catch (error) {
        if (!isRpoError(error)) throw error
        ctx.addIssue({ code: 'custom', message: error.message })
      }
    })
    .default('month')
    .describe('month, { rollingDays: N } (N ≥ 1), or { from, until } as ISO dates with from before until'),
  cap: z.enum(['hard', 'soft']).default('hard'),
  user: z.string().optional().describe('A per-user budget inside the project'),
})

const userName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
  error: "expected a user name made of letters, digits, '.', '_' and '-'",
})
const admins = z.array(userName)

export const ProjectSchema = z.strictObject({
  importance: z.number().positive().default(1),
  deadline: deadlineSchema.optional().describe('ISO 8601 date-time with a time zone, such as 2026-12-15T00:00:00Z'),
  share: z.number().positive().optional().describe('Target fair share of the cluster'),
  budgets: z.array(BudgetSchema).default([]),
  gpuWeights: z.record(z.string(), z.number().positive()).optional().describe('Billing weight per GPU type'),
  admins: admins
    .optional()
    .describe(
      "Users who may change this project's budget and lend from it (rpo budget set|grant|revoke), besides the global admins",
    ),
})

export const StoreSchema = z.strictObject({
  url: z
    .string()
    .min(1)
    .describe(
      'sqlite:<path> (relative to the config file) or postgres://user@host:port/db @default sqlite:.rpo/rpo.sqlite',
    ),
  busyTimeout: duration.default('5s').describe('How long to wait for a locked SQLite store'),
})

/** `task.failed` is not a type of its own: it selects `task.state` events to `failed` (after the retries). */
export const WEBHOOK_EVENT_SELECTORS = [...EVENT_TYPES, 'task.failed'] as const
/** What a webhook receives when it names no types: the notifications worth waking someone for. */
export const DEFAULT_WEBHOOK_TYPES = [
  'deadline.at-risk',
  'budget.threshold',
  'bottleneck.changed',
  'task.failed',
  'checkpoint.skipped',
  'node.failed',
  'webhook.failed',
] as const

export const WebhookSchema = z
  .strictObject({
    name: nameSchema('webhook name').describe('Names the hook in its cursor, its failures and logs'),
    url: z
      .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
      .describe('Where events are POSTed as JSON'),
    types: z
      .array(z.enum(WEBHOOK_EVENT_SELECTORS))
      .min(1)
      .optional()
      .describe(
        `Event types to send (task.failed: a task failed after its retries) @default ${DEFAULT_WEBHOOK_TYPES.join(', ')}`,
      ),
    projects: z.array(name).min(1).optional().describe('Only events of these projects @default every project'),
    secretEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' })
      .optional()
      .describe('The environment variable holding the HMAC secret (X-Rpo-Signature: sha256=…)'),
    secret: z
      .string()
      .min(16)
      .optional()
      .describe('The HMAC secret itself; prefer secretEnv, which keeps it out of the file'),
    timeout: durationSchema({ minSeconds: 0.01, maxSeconds: 300, example: '10s' })
      .default('10s')
      .describe('How long one delivery may take (10ms to 5m)'),
    retries: z
      .strictObject({
        max: z.int().nonnegative().max(20).default(5).describe('Attempts after the first'),
        backoff: durationSchema({ minSeconds: 0.01, maxSeconds: 3600, example: '1s' })
          .default('1s')
          .describe('Wait before the first retry; doubled before each next one (10ms to 1h)'),
      })
      .default({ max: 5, backoff: '1s' }),
  })
  .superRefine((hook, ctx) => {
    if (hook.secret !== undefined && hook.secretEnv !== undefined)
      ctx.addIssue({ code: 'custom', path: ['secret'], message: 'give secret or secretEnv, not both' })
  })
export type WebhookConfig = z.infer<typeof WebhookSchema>

export const ConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  store: StoreSchema.default({ url: 'sqlite:.rpo/rpo.sqlite', busyTimeout: '5s' }),
  stateDir: z.string().default('.rpo').describe('Where local job logs and outputs go (relative to the config file)'),
  defaultCluster: z.string().default('local'),
  clusters: z
    .record(name, ClusterSchema)
    .default({ local: { kind: 'local', gpus: [], killGrace: '10s', pollInterval: '250ms' } }),
  projects: z.record(name, ProjectSchema).default({}),
  admins: admins
    .optional()
    .describe(
      "Users who may change any project's budget. When no admins are configured anywhere, anyone may; once any are, only they may",
    ),
  enforcement: z
    .strictObject({
      runningAtHardCap: z
        .enum(['finish', 'cancel'])
        .default('finish')
        .describe(
          'A running job that reaches a hard cap and cannot checkpoint: let it finish (the cap is crossed by what it still uses) or cancel it',
        ),
      softCapWait: duration
        .optional()
        .describe(
          'How long in-budget work waits for GPUs before running work of a project over its soft cap is checkpointed and requeued to give them back @default 5m',
        ),
    })
    .default({ runningAtHardCap: 'finish' })
    .describe('What rpo does at a budget cap (jobs that can checkpoint are always checkpointed and held)'),
  sync: z
    .strictObject({
      schedule: z
        .string()
        .refine((s) => cron.validate(s), { error: 'expected a cron expression such as "*/1 * * * *"' })
        .default('* * * * *')
        .describe('node-cron schedule for rpo daemon (seconds field optional)'),
      accountingCatchUp: duration
        .default('5m')
        .describe(
          'How often rpo daemon asks accounting for the CPU time and memory high-water of Slurm and PBS jobs that ended in the last 6 hours without them, so efficiency reports read them from the store',
        ),
    })
    .default({ schedule: '* * * * *', accountingCatchUp: '5m' }),
  webhooks: z
    .array(WebhookSchema)
    .default([])
    .superRefine((hooks, ctx) => {
      const seen = new Set<string>()
      hooks.forEach((hook, index) => {
        if (seen.has(hook.name))
          ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `a second webhook named "${hook.name}"` })
        seen.add(hook.name)
      })
    })
    .describe('Where rpo daemon POSTs events (signed with HMAC-SHA256 when a secret is given)'),
})
export type ConfigFile = z.infer<typeof ConfigSchema>
