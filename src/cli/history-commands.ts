/**
 * `rpo history`: what past attempts say, per stage (pipeline + task name): durations and queue waits
 * (median, p90), failure/retry/resume rates, GPU-hours; and with `--efficiency`, accounting's
 * efficiency (CPU, memory high-water, GPU-hours used) with the waste named and a right-sizing
 * suggestion per stage. Text for people, `--json` or `--csv` (RFC 4180 quoting; LF line ends, as the
 * terminal filter shows a CR as an escape) of the same rows. The
 * figures are computed in src/core/estimate; this module reads the store and prints.
 */
import { type Command, Option } from 'commander'
import { RpoError } from '../core/errors.js'
import { type EfficiencySummary, formatHours } from '../core/estimate/efficiency.js'
import type { StageEfficiency } from '../core/estimate/efficiency-report.js'
import { parseHistoryTime } from '../core/estimate/history-window.js'
import { type StageHistoryRow, summarizeStageHistory } from '../core/estimate/stage-history.js'
import { formatDuration } from '../core/pipeline/units.js'
import { type CsvValue, toCsv } from '../core/text/csv.js'
import {
  DEFAULT_EFFICIENCY_ATTEMPTS,
  type HistoryEfficiency,
  historyEfficiency,
} from '../monitor/history-efficiency.js'
import type { HistoryFilter } from '../store/history-queries.js'
import { positiveCount } from './cli-arguments.js'
import type { CommandContext } from './command-context.js'
import { renderTable } from './format.js'

/** More attempts than this in one report: narrow the window instead. */
const MAX_ATTEMPTS = 1_000_000
const DEFAULT_ATTEMPTS = DEFAULT_EFFICIENCY_ATTEMPTS

interface HistoryOptions {
  project?: string
  pipeline?: string
  task?: string
  user?: string
  cluster?: string
  run?: string
  since?: string
  until?: string
  limit: number
  json?: boolean
  csv?: boolean
  efficiency?: boolean
  accounting: boolean
}

export function registerHistoryCommands(program: Command, context: CommandContext): void {
  program
    .command('history')
    .description(
      'past attempts per stage: durations, queue waits, failure/retry/resume rates, GPU-hours; --efficiency: CPU, memory and GPU use from accounting, the waste, and right-sizing',
    )
    .option('--project <project>', 'only runs of this project')
    .option('--pipeline <name>', 'only runs of this pipeline')
    .option('--task <name>', 'only this stage: a task name in the pipeline file (train covers train.0, train.1, …)')
    .option('--user <user>', 'only runs started by this user')
    .option('--cluster <name>', 'only tasks that ran on this cluster')
    .option('--run <run>', 'only this run (id or unique prefix)')
    .option(
      '--since <time>',
      'attempts that ended at or after: ISO date/date-time (UTC unless zoned) or 90m, 24h, 7d, 2w ago',
    )
    .option('--until <time>', 'attempts that ended before (same forms)')
    .option(
      '-n, --limit <count>',
      `newest attempts read (1 to ${MAX_ATTEMPTS})`,
      positiveCount(MAX_ATTEMPTS),
      DEFAULT_ATTEMPTS,
    )
    .option(
      '--efficiency',
      'CPU efficiency, memory high-water vs asked, GPU-hours used vs allocated, waste, right-sizing',
    )
    .option('--no-accounting', "with --efficiency: do not ask the clusters' accounting for figures not yet stored")
    .addOption(new Option('--json', 'print as JSON').conflicts('csv'))
    .addOption(new Option('--csv', 'print the rows as CSV (RFC 4180)').conflicts('json'))
    .addHelpText(
      'after',
      `
Efficiency reads accounting's figures (Slurm sacct TotalCPU, MaxRSS, AllocTRES, TRESUsageInTot
gres/gpuutil; PBS resources_used). Ended jobs whose figures are not stored yet are asked for once
(one poll per cluster) unless --no-accounting. GPU use is 'unknown' where the scheduler does not
report it. Examples:
  rpo history --pipeline vision --since 7d
  rpo history --project cv --efficiency --json
  rpo history --since 2026-11-01 --until 2026-12-01 --csv > november.csv`,
    )
    .action(async (options: HistoryOptions) => {
      const now = Date.now()
      await context.withApp(async (app) => {
        const filter: HistoryFilter = {
          ...(options.project === undefined ? {} : { project: options.project }),
          ...(options.pipeline === undefined ? {} : { pipeline: options.pipeline }),
          ...(options.task === undefined ? {} : { stage: options.task }),
          ...(options.user === undefined ? {} : { user: options.user }),
          ...(options.cluster === undefined ? {} : { cluster: options.cluster }),
          ...(options.run === undefined ? {} : { runId: await context.resolveRunId(app, options.run) }),
          ...(options.since === undefined ? {} : { since: parseHistoryTime(options.since, now, '--since') }),
          ...(options.until === undefined ? {} : { until: parseHistoryTime(options.until, now, '--until') }),
          limit: options.limit,
        }
        if (filter.since !== undefined && filter.until !== undefined && filter.since >= filter.until)
          throw new RpoError('usage', `--since (${filter.since}) must be before --until (${filter.until})`)
        if (options.efficiency) {
          printEfficiency(
            context,
            await historyEfficiency(app, filter, { askAccounting: options.accounting }),
            filter,
            options,
          )
          return
        }
        const attempts = await app.store.history.attempts(filter)
        printHistory(context, summarizeStageHistory(attempts), attempts.length, filter, options)
      })
    })
}

const HISTORY_COLUMNS = [
  'pipeline',
  'stage',
  'tasks',
  'attempts',
  'succeeded',
  'failed',
  'cancelled',
  'retries',
  'resumes',
  'failureRate',
  'retryRate',
  'resumeRate',
  'durationMedianSeconds',
  'durationP90Seconds',
  'durationSamples',
  'queueWaitMedianSeconds',
  'queueWaitP90Seconds',
  'queueWaitSamples',
  'gpuHours',
] as const

/** One stage as a flat record: the JSON object and the CSV line have the same fields. */
export function historyRecord(row: StageHistoryRow): Record<(typeof HISTORY_COLUMNS)[number], CsvValue> {
  return {
    pipeline: row.pipeline,
    stage: row.stage,
    tasks: row.tasks,
    attempts: row.attempts,
    succeeded: row.succeeded,
    failed: row.failed,
    cancelled: row.cancelled,
    retries: row.retries,
    resumes: row.resumes,
    failureRate: round(row.failureRate, 4),
    retryRate: round(row.retryRate, 4),
    resumeRate: round(row.resumeRate, 4),
    durationMedianSeconds: row.duration?.medianSeconds ?? null,
    durationP90Seconds: row.duration?.p90Seconds ?? null,
    durationSamples: row.duration?.samples ?? 0,
    queueWaitMedianSeconds: row.queueWait?.medianSeconds ?? null,
    queueWaitP90Seconds: row.queueWait?.p90Seconds ?? null,
    queueWaitSamples: row.queueWait?.samples ?? 0,
    gpuHours: round(row.gpuHours, 4),
  }
}

function printHistory(
  context: CommandContext,
  rows: readonly StageHistoryRow[],
  attempts: number,
  filter: HistoryFilter,
  options: HistoryOptions,
): void {
  const records = rows.map(historyRecord)
  if (options.json) {
    context.out(JSON.stringify(records, null, 2))
    return
  }
  if (options.csv) {
    context.out(
      toCsv(
        HISTORY_COLUMNS,
        records.map((r) => HISTORY_COLUMNS.map((c) => r[c])),
        '\n',
      ).trimEnd(),
    )
    return
  }
  if (rows.length === 0) {
    context.out(`no ended attempts ${describeFilter(filter)}`)
    return
  }
  context.out(`${attempts} ended attempt(s) in ${rows.length} stage(s) ${describeFilter(filter)}\n`)
  context.out(
    renderTable(
      [
        'PIPELINE',
        'STAGE',
        'TASKS',
        'ATTEMPTS',
        'FAILED',
        'RETRIES',
        'RESUMES',
        'DURATION med/p90 (n)',
        'QUEUE med/p90 (n)',
        'GPU-H',
      ],
      rows.map((r) => [
        r.pipeline,
        r.stage,
        String(r.tasks),
        String(r.attempts),
        `${r.failed} (${percent(r.failureRate)})`,
        `${r.retries} (${percent(r.retryRate)})`,
        `${r.resumes} (${percent(r.resumeRate)})`,
        r.duration
          ? `${formatDuration(r.duration.medianSeconds)}/${formatDuration(r.duration.p90Seconds)} (${r.duration.samples})`
          : '-',
        r.queueWait
          ? `${formatDuration(r.queueWait.medianSeconds)}/${formatDuration(r.queueWait.p90Seconds)} (${r.queueWait.samples})`
          : '-',
        r.gpuHours > 0 ? formatHours(r.gpuHours) : '-',
      ]),
    ),
  )
}

const EFFICIENCY_COLUMNS = [
  'pipeline',
  'stage',
  'attempts',
  'cpuMeasured',
  'allocatedCpuHours',
  'usedCpuHours',
  'cpuEfficiency',
  'idleCpuHours',
  'maxRssMb',
  'askedMemoryMb',
  'peakMemoryFraction',
  'gpuHours',
  'usedGpuHours',
  'idleGpuHours',
  'gpuHoursUnknown',
  'suggestedMemoryMb',
  'memorySamples',
  'suggestedTimeLimitSeconds',
  'timeSamples',
  'askedTimeLimitSeconds',
] as const

function efficiencyRecord(stage: StageEfficiency): Record<(typeof EFFICIENCY_COLUMNS)[number], CsvValue> {
  const e = stage.efficiency
  const r = stage.rightSizing
  return {
    pipeline: stage.pipeline,
    stage: stage.stage,
    attempts: e.attempts,
    cpuMeasured: e.cpuMeasured,
    allocatedCpuHours: round(e.allocatedCpuHours, 6),
    usedCpuHours: round(e.usedCpuHours, 6),
    cpuEfficiency: e.cpuEfficiency === null ? null : round(e.cpuEfficiency, 4),
    idleCpuHours: round(e.idleCpuHours, 6),
    maxRssMb: e.maxRssMb === null ? null : round(e.maxRssMb, 1),
    askedMemoryMb: e.askedMemoryMb,
    peakMemoryFraction: e.peakMemoryFraction === null ? null : round(e.peakMemoryFraction, 4),
    gpuHours: round(e.gpuHours, 6),
    usedGpuHours: e.usedGpuHours === null ? null : round(e.usedGpuHours, 6),
    idleGpuHours: e.idleGpuHours === null ? null : round(e.idleGpuHours, 6),
    gpuHoursUnknown: round(e.gpuHoursUnknown, 6),
    suggestedMemoryMb: r.memoryMb,
    memorySamples: r.memorySamples,
    suggestedTimeLimitSeconds: r.timeLimitSeconds,
    timeSamples: r.timeSamples,
    askedTimeLimitSeconds: r.askedTimeLimitSeconds,
  }
}

function printEfficiency(
  context: CommandContext,
  report: HistoryEfficiency,
  filter: HistoryFilter,
  options: HistoryOptions,
): void {
  if (options.json) {
    context.out(JSON.stringify(report, null, 2))
    return
  }
  const { accounting } = report
  const attempts = report.total.attempts
  if (options.csv) {
    const rows = report.stages.map(efficiencyRecord)
    context.out(
      toCsv(
        EFFICIENCY_COLUMNS,
        rows.map((r) => EFFICIENCY_COLUMNS.map((c) => r[c])),
        '\n',
      ).trimEnd(),
    )
    return
  }
  for (const problem of accounting.problems) context.out(`! ${problem}`)
  if (attempts === 0) {
    context.out(`no ended attempts ${describeFilter(filter)}`)
    return
  }
  context.out(`efficiency of ${attempts} ended attempt(s) ${describeFilter(filter)}`)
  if (accounting.asked > 0)
    context.out(`(accounting asked for ${accounting.asked} job(s) not yet measured; ${accounting.filled} answered)`)
  context.out(`\n${summaryLines(report.total).join('\n')}\n`)
  context.out(
    renderTable(
      [
        'PIPELINE',
        'STAGE',
        'ATTEMPTS',
        'CPU-EFF',
        'IDLE CPU-H',
        'PEAK MEM / ASKED',
        'GPU-H',
        'GPU-H USED',
        'SUGGEST MEM (n)',
        'SUGGEST TIME (n)',
      ],
      report.stages.map((s) => {
        const e = s.efficiency
        const r = s.rightSizing
        return [
          s.pipeline,
          s.stage,
          String(e.attempts),
          e.cpuEfficiency === null ? 'unknown' : `${percent(e.cpuEfficiency)} (${e.cpuMeasured})`,
          e.cpuEfficiency === null ? '-' : formatHours(e.idleCpuHours),
          e.maxRssMb === null
            ? 'unknown'
            : `${formatMb(e.maxRssMb)} / ${e.askedMemoryMb === null ? '?' : formatMb(e.askedMemoryMb)}`,
          e.gpuHours > 0 ? formatHours(e.gpuHours) : '-',
          e.gpuHours === 0 ? '-' : e.usedGpuHours === null ? 'unknown' : formatHours(e.usedGpuHours),
          r.memoryMb === null ? '-' : `${formatMb(r.memoryMb)} (${r.memorySamples})`,
          r.timeLimitSeconds === null ? '-' : `${formatDuration(r.timeLimitSeconds)} (${r.timeSamples})`,
        ]
      }),
    ),
  )
  if (report.waste.length > 0) {
    context.out('\nwaste (largest first):')
    for (const note of report.waste) context.out(`  ${note.text}`)
  }
}

/** The whole set's figures in sentences. */
export function summaryLines(total: EfficiencySummary): string[] {
  const lines: string[] = []
  if (total.cpuEfficiency === null) lines.push('CPU     unknown: no attempt has a CPU-time figure from accounting')
  else
    lines.push(
      `CPU     ${percent(total.cpuEfficiency)} efficient: ${formatHours(total.usedCpuHours)} of ${formatHours(total.allocatedCpuHours)} CPU-hours allocated used, ${formatHours(total.idleCpuHours)} CPU-hours idle (${total.cpuMeasured} of ${total.attempts} attempts measured)`,
    )
  if (total.maxRssMb === null) lines.push('memory  unknown: no attempt has a peak memory figure')
  else
    lines.push(
      `memory  high-water ${formatMb(total.maxRssMb)}${total.askedMemoryMb === null ? '' : ` of ${formatMb(total.askedMemoryMb)} asked`}${total.peakMemoryFraction === null ? '' : `; the fullest attempt used ${percent(total.peakMemoryFraction)} of its memory`}`,
    )
  if (total.gpuHours === 0) lines.push('GPU     none allocated')
  else if (total.usedGpuHours === null)
    lines.push(
      `GPU     ${formatHours(total.gpuHours)} GPU-hours allocated; used: unknown (the scheduler reported no GPU use)`,
    )
  else
    lines.push(
      `GPU     ${formatHours(total.gpuHours)} GPU-hours allocated; of the ${formatHours(total.gpuHoursMeasured)} measured, ${formatHours(total.usedGpuHours)} used and ${formatHours(total.idleGpuHours ?? 0)} idle${total.gpuHoursUnknown > 0 ? `; ${formatHours(total.gpuHoursUnknown)} unknown` : ''}`,
    )
  return lines
}

function describeFilter(filter: HistoryFilter): string {
  const parts: string[] = []
  if (filter.runId !== undefined) parts.push(`run ${filter.runId}`)
  if (filter.project !== undefined) parts.push(`project ${filter.project}`)
  if (filter.pipeline !== undefined) parts.push(`pipeline ${String(filter.pipeline)}`)
  if (filter.stage !== undefined) parts.push(`stage ${filter.stage}`)
  if (filter.user !== undefined) parts.push(`user ${filter.user}`)
  if (filter.cluster !== undefined) parts.push(`cluster ${filter.cluster}`)
  const since = filter.since === undefined ? 'the start' : filter.since.slice(0, 19).replace('T', ' ')
  const until = filter.until === undefined ? 'now' : filter.until.slice(0, 19).replace('T', ' ')
  return `${parts.length > 0 ? `for ${parts.join(', ')} ` : ''}from ${since} to ${until}`
}

function percent(fraction: number): string {
  const p = fraction * 100
  return `${p >= 10 || p === 0 ? p.toFixed(0) : p.toFixed(1)}%`
}

function formatMb(mb: number): string {
  return mb >= 1024
    ? `${(mb / 1024).toFixed(mb >= 10_240 ? 0 : 1)} GB`
    : `${mb >= 10 ? mb.toFixed(0) : mb.toFixed(1)} MB`
}

function round(value: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
