/**
 * `rpo simulate <trace>`: replay a real cluster trace on the simulated cluster under rpo's policy
 * and two baselines (FIFO; Slurm-like multifactor priority with EASY backfill), side by side — and
 * what-if questions on it (a project's budget halved, more nodes). The work is src/simulate; this
 * reads the flags, prints progress on stderr and the table or --json on stdout.
 */
import { type Command, InvalidArgumentError, Option } from 'commander'
import { parseDurationSeconds, parseMemoryMb } from '../core/pipeline/units.js'
import { POLICIES, type PolicyName } from '../simulate/replay-policies.js'
import { renderSimulation } from '../simulate/simulate-report.js'
import { DEFAULT_NODE, simulateTrace } from '../simulate/simulate-run.js'
import { positiveCount } from './cli-arguments.js'
import type { TextSink } from './terminal-text.js'

interface SimulateOptions {
  policy: PolicyName | 'all'
  nodes?: number
  gpusPerNode: number
  cpusPerNode: number
  memoryPerNode: number
  limit?: number
  window?: { fromSeconds: number; toSeconds: number }
  budget: Map<string, number>
  budgetScale: Map<string, number>
  share: Map<string, number>
  importance: Map<string, number>
  seed: number
  deadlineFactor: { min: number; max: number }
  skipBadRows?: boolean
  json?: boolean
  progress: boolean
}

export interface SimulateCommandIo {
  readonly out: (text: string) => void
  readonly stderr: TextSink
}

/** `PROJECT=NUMBER`, repeatable: collected into a map (a project named twice is an error). */
function projectNumber(flag: string, check: (value: number) => string | null) {
  return (text: string, previous: Map<string, number>): Map<string, number> => {
    const match = /^([^=]+)=(.+)$/.exec(text.trim())
    const value = match ? Number((match[2] as string).trim()) : Number.NaN
    if (!match || !Number.isFinite(value)) {
      throw new InvalidArgumentError(`expected PROJECT=NUMBER, got "${text}"`)
    }
    const problem = check(value)
    if (problem) throw new InvalidArgumentError(`${text}: ${problem}`)
    const project = (match[1] as string).trim()
    if (previous.has(project)) throw new InvalidArgumentError(`${flag} names ${project} twice`)
    return new Map([...previous, [project, value]])
  }
}

const nonNegative = (v: number) => (v >= 0 ? null : 'must be ≥ 0')
const positive = (v: number) => (v > 0 ? null : 'must be > 0')

function windowArgument(text: string): { fromSeconds: number; toSeconds: number } {
  const [from, to, ...rest] = text.split(':')
  const fromSeconds = from === undefined || from === '' ? 0 : parseDurationSeconds(from)
  const toSeconds = to === undefined || to === '' ? Number.POSITIVE_INFINITY : parseDurationSeconds(to)
  if (rest.length > 0 || to === undefined || fromSeconds === null || toSeconds === null || !(toSeconds > fromSeconds)) {
    throw new InvalidArgumentError(
      `expected FROM:TO in trace time (e.g. 10d:20d, 0:36h, 5d:), FROM before TO; got "${text}"`,
    )
  }
  return { fromSeconds, toSeconds }
}

/** `all` is +∞ here (commander does not keep a null from a parser), null for the library. */
function limitArgument(text: string): number {
  if (text.trim() === 'all') return Number.POSITIVE_INFINITY
  return positiveCount(10_000_000)(text)
}

function memoryArgument(text: string): number {
  const mb = parseMemoryMb(text)
  if (mb === null || !(mb > 0))
    throw new InvalidArgumentError(`expected a memory size such as 512G or 1T, got "${text}"`)
  return mb
}

function factorsArgument(text: string): { min: number; max: number } {
  const [min, max] = text.split(':').map(Number)
  if (min === undefined || max === undefined || !(min >= 1) || !(max >= min) || text.split(':').length !== 2) {
    throw new InvalidArgumentError(`expected MIN:MAX with 1 ≤ MIN ≤ MAX (e.g. 2:5), got "${text}"`)
  }
  return { min, max }
}

function wholeNumber(text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new InvalidArgumentError(`expected a whole number, got "${text}"`)
  return Number(text)
}

export function registerSimulateCommands(program: Command, io: SimulateCommandIo): void {
  program
    .command('simulate')
    .description(
      'replay a real cluster trace on a simulated cluster under rpo, FIFO and Slurm-like backfill, side by side (what-if questions too)',
    )
    .argument(
      '<trace>',
      'trace file: an Alibaba GPU 2023 pod list, or a Philly-derived PCS trace (its .recovered_duration.csv beside it)',
    )
    .addOption(
      new Option('--policy <policy>', 'one policy, or all side by side').choices([...POLICIES, 'all']).default('all'),
    )
    .option(
      '--nodes <n>',
      'nodes in the simulated cluster (default: 4 for Alibaba, 32 for Philly)',
      positiveCount(100_000),
    )
    .option('--gpus-per-node <n>', 'GPUs per node', wholeNumber, DEFAULT_NODE.gpus)
    .option('--cpus-per-node <n>', 'CPUs per node', positiveCount(100_000), DEFAULT_NODE.cpus)
    .option('--memory-per-node <size>', 'memory per node (e.g. 512G, 1T)', memoryArgument, DEFAULT_NODE.memoryMb)
    .option(
      '--limit <n>',
      'replay the first N jobs of the file (or of --window), or "all" (default: Alibaba every pod from day 115 on, where it is dense; Philly the first 2000)',
      limitArgument,
    )
    .option('--window <from:to>', 'only jobs submitted in this span of trace time (e.g. 100d:110d)', windowArgument)
    .option(
      '--budget <project=gpu-hours>',
      "cap a project's GPU-hours over the replay (repeatable)",
      projectNumber('--budget', nonNegative),
      new Map<string, number>(),
    )
    .option(
      '--budget-scale <project=factor>',
      "cap a project's GPU-hours at this fraction of what its replayed jobs ask for (repeatable), e.g. LS=0.5",
      projectNumber('--budget-scale', nonNegative),
      new Map<string, number>(),
    )
    .option(
      '--share <project=n>',
      'fair-share target of a project (repeatable; default 1 each)',
      projectNumber('--share', positive),
      new Map<string, number>(),
    )
    .option(
      '--importance <project=n>',
      "rpo's importance of a project (repeatable; default 1 each)",
      projectNumber('--importance', positive),
      new Map<string, number>(),
    )
    .option('--seed <n>', 'seed of the derived deadlines', wholeNumber, 1)
    .option(
      '--deadline-factor <min:max>',
      'deadline = submit + k × run time, k seeded in [min, max)',
      factorsArgument,
      { min: 2, max: 5 },
    )
    .option('--skip-bad-rows', 'count bad rows and go on, instead of stopping at the first')
    .option('--json', 'print the figures as JSON')
    .option('--no-progress', 'no progress lines on stderr')
    .addHelpText(
      'after',
      `
Each trace job is submitted at its trace time with its real run time and asks for its GPUs (whole
devices), CPUs and memory; deadlines are derived (traces have none). rpo = rpo's priority policy
(deadline urgency, fair share, importance) ordering the simulated Slurm queue, with EASY backfill;
backfill = Slurm multifactor priority (age + fair share) with EASY backfill; fifo = submission
order, nothing passes a job that does not fit. Budgets hold a project's work once its GPU-hours
would cross the cap, under every policy. See docs/simulate.md.

Examples:
  rpo simulate alibaba_gpu_v2023_openb_pod_list_default.csv
  rpo simulate philly_derived_pcs_trace_ee9e8c.csv --nodes 64 --limit all --json
  rpo simulate philly_derived_pcs_trace_ee9e8c.csv --policy rpo --budget-scale VggnetModel256=0.5`,
    )
    .action(async (trace: string, options: SimulateOptions) => {
      const result = await simulateTrace({
        trace,
        policies: options.policy === 'all' ? POLICIES : [options.policy],
        ...(options.nodes === undefined ? {} : { nodes: options.nodes }),
        gpusPerNode: options.gpusPerNode,
        cpusPerNode: options.cpusPerNode,
        memoryMbPerNode: options.memoryPerNode,
        ...(options.limit === undefined ? {} : { limit: Number.isFinite(options.limit) ? options.limit : null }),
        ...(options.window ? { window: options.window } : {}),
        skipBadRows: options.skipBadRows ?? false,
        seed: options.seed,
        deadlineFactors: options.deadlineFactor,
        budgets: options.budget,
        budgetScales: options.budgetScale,
        shares: options.share,
        importance: options.importance,
        ...(options.progress ? { onProgress: (message: string) => io.stderr.write(`simulate: ${message}\n`) } : {}),
      })
      io.out(options.json ? JSON.stringify(result, null, 2) : renderSimulation(result))
    })
}
