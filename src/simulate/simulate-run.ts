/**
 * `rpo simulate` as a library call: read a trace (streamed, limited), give its jobs deadlines,
 * build the simulated cluster, replay the trace under each asked policy and return every policy's
 * figures with what was replayed (the subset, the cluster, the budgets). The command line
 * (src/cli/simulate-commands.ts) and the benchmark (bench/simulate-bench.ts) both call this.
 */
import type { SimNodeSpec } from '../../adapters/sim/sim-placement.js'
import { RpoError } from '../core/errors.js'
import { ALIBABA_FORMAT } from './alibaba-trace.js'
import { type ReplayFigures, replayFigures } from './replay-metrics.js'
import type { PolicyName } from './replay-policies.js'
import { DEFAULT_DEADLINE_FACTORS, type DeadlinedJob, withDeadlines } from './trace-deadlines.js'
import { type LoadedTrace, readTrace, sniffTraceFormat, type TraceFormat } from './trace-reader.js'
import { replayTrace } from './trace-replay.js'

/** Cluster sizes that make each trace's default subset contend for GPUs (docs/simulate.md). */
export const DEFAULT_NODES: Readonly<Record<TraceFormat, number>> = { [ALIBABA_FORMAT]: 4, 'philly-pcs': 32 }
/** Jobs replayed when neither --limit nor --window says (null: all of the default window). */
export const DEFAULT_LIMITS: Readonly<Record<TraceFormat, number | null>> = {
  [ALIBABA_FORMAT]: null,
  'philly-pcs': 2000,
}
/**
 * Alibaba's pod list is sparse for its first 115 days (a few long-lived services) and dense after:
 * without --window or --limit, its replay is that dense span, every pod of it.
 */
export const ALIBABA_DEFAULT_WINDOW = { fromSeconds: 115 * 86_400, toSeconds: Number.POSITIVE_INFINITY } as const
export const DEFAULT_NODE = { gpus: 8, cpus: 128, memoryMb: 1_048_576, gpuType: 'gpu' } as const

export interface SimulateRequest {
  readonly trace: string
  readonly policies: readonly PolicyName[]
  /** @default DEFAULT_NODES of the trace's format */
  readonly nodes?: number
  readonly gpusPerNode?: number
  readonly cpusPerNode?: number
  readonly memoryMbPerNode?: number
  /** null: every job of the file (or window). @default DEFAULT_LIMITS of the format (with its default window) */
  readonly limit?: number | null
  readonly window?: { readonly fromSeconds: number; readonly toSeconds: number }
  readonly skipBadRows?: boolean
  readonly seed?: number
  readonly deadlineFactors?: { readonly min: number; readonly max: number }
  /** GPU-hour caps per project. */
  readonly budgets?: ReadonlyMap<string, number>
  /** Caps as a fraction of the project's GPU-hour demand in the replayed jobs. */
  readonly budgetScales?: ReadonlyMap<string, number>
  readonly shares?: ReadonlyMap<string, number>
  readonly importance?: ReadonlyMap<string, number>
  readonly onProgress?: (message: string) => void
}

export interface SimulateResult {
  readonly trace: {
    readonly file: string
    readonly format: TraceFormat
    readonly rowsRead: number
    readonly jobs: number
    readonly unscheduled: number
    readonly outsideWindow: number
    readonly badRows: number
    readonly badRowMessages: readonly string[]
    readonly truncated: boolean
    /** Submit times of the first and last replayed job, seconds of trace time. */
    readonly fromSeconds: number
    readonly toSeconds: number
    readonly limit: number | null
    readonly window: { readonly fromSeconds: number; readonly toSeconds: number } | null
  }
  readonly cluster: {
    readonly nodes: number
    readonly gpusPerNode: number
    readonly cpusPerNode: number
    readonly memoryMbPerNode: number
  }
  readonly deadlines: { readonly seed: number; readonly minFactor: number; readonly maxFactor: number }
  /** The GPU-hour caps applied, scales resolved. */
  readonly budgets: Readonly<Record<string, number>>
  /** GPU-hours each project's replayed jobs ask for. */
  readonly demandGpuHours: Readonly<Record<string, number>>
  readonly policies: readonly ReplayFigures[]
}

export async function simulateTrace(request: SimulateRequest): Promise<SimulateResult> {
  const progress = request.onProgress ?? (() => {})
  const format = await sniffTraceFormat(request.trace)
  const defaults = request.limit === undefined && request.window === undefined && format !== null
  const limit = request.limit !== undefined ? request.limit : defaults ? DEFAULT_LIMITS[format] : null
  const window = request.window ?? (defaults && format === ALIBABA_FORMAT ? ALIBABA_DEFAULT_WINDOW : undefined)
  const trace: LoadedTrace = await readTrace(request.trace, {
    ...(limit === null ? {} : { limit }),
    ...(window ? { window } : {}),
    skipBadRows: request.skipBadRows ?? false,
    onRows: (rows) => progress(`read ${rows} rows of ${request.trace}`),
  })
  if (trace.jobs.length === 0) {
    throw new RpoError('usage', `no jobs to replay in ${request.trace} (${trace.rowsRead} rows read; check --window)`)
  }
  const seed = request.seed ?? 1
  const factors = request.deadlineFactors ?? DEFAULT_DEADLINE_FACTORS
  const jobs: DeadlinedJob[] = withDeadlines(trace.jobs, { seed, minFactor: factors.min, maxFactor: factors.max })
  const demand: Record<string, number> = {}
  for (const job of jobs) demand[job.project] = (demand[job.project] ?? 0) + (job.gpus * job.durationSeconds) / 3600
  const budgets = new Map(request.budgets ?? [])
  for (const [project, scale] of request.budgetScales ?? []) {
    if (!(project in demand)) {
      throw new RpoError(
        'usage',
        `--budget-scale ${project}: no replayed job is of project ${project}; projects: ${Object.keys(demand).sort().join(', ')}`,
      )
    }
    budgets.set(project, scale * (demand[project] as number))
  }
  const nodeCount = request.nodes ?? DEFAULT_NODES[trace.format]
  const gpusPerNode = request.gpusPerNode ?? DEFAULT_NODE.gpus
  const cpusPerNode = request.cpusPerNode ?? DEFAULT_NODE.cpus
  const memoryMbPerNode = request.memoryMbPerNode ?? DEFAULT_NODE.memoryMb
  const nodes: SimNodeSpec[] = Array.from({ length: nodeCount }, (_, i) => ({
    name: `n${String(i + 1).padStart(4, '0')}`,
    cpus: cpusPerNode,
    memoryMb: memoryMbPerNode,
    ...(gpusPerNode > 0 ? { gpus: [{ type: DEFAULT_NODE.gpuType, count: gpusPerNode }] } : {}),
  }))
  const figures: ReplayFigures[] = []
  for (const policy of request.policies) {
    let lastReport = Date.now()
    const outcome = replayTrace(jobs, {
      policy,
      nodes,
      budgets,
      ...(request.shares ? { shares: request.shares } : {}),
      ...(request.importance ? { importance: request.importance } : {}),
      onProgress: (ended, total) => {
        const now = Date.now()
        if (now - lastReport < 2000) return
        lastReport = now
        progress(`${policy}: ${ended} of ${total} jobs done`)
      },
    })
    figures.push(replayFigures(outcome))
    progress(`${policy}: done`)
  }
  let fromSeconds = Number.POSITIVE_INFINITY
  let toSeconds = Number.NEGATIVE_INFINITY
  for (const job of trace.jobs) {
    fromSeconds = Math.min(fromSeconds, job.submitSeconds)
    toSeconds = Math.max(toSeconds, job.submitSeconds)
  }
  return {
    trace: {
      file: trace.file,
      format: trace.format,
      rowsRead: trace.rowsRead,
      jobs: trace.jobs.length,
      unscheduled: trace.unscheduled,
      outsideWindow: trace.outsideWindow,
      badRows: trace.badRows,
      badRowMessages: trace.badRowErrors.map((e) => e.message),
      truncated: trace.truncated,
      fromSeconds,
      toSeconds,
      limit,
      window: window ?? null,
    },
    cluster: { nodes: nodeCount, gpusPerNode, cpusPerNode, memoryMbPerNode },
    deadlines: { seed, minFactor: factors.min, maxFactor: factors.max },
    budgets: Object.fromEntries([...budgets].sort(([a], [b]) => (a < b ? -1 : 1))),
    demandGpuHours: Object.fromEntries(Object.entries(demand).sort(([a], [b]) => (a < b ? -1 : 1))),
    policies: figures,
  }
}
