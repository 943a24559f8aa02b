/**
 * The timing report as text: summary lines (completion, slack to the deadline, bottleneck) and the
 * stage and task tables, as cells. The terminal (`rpo report`) aligns them, the HTML page puts them
 * in <table>s: one wording for both. Times are UTC, without the date when the whole report is on
 * one day (the summary then says which). Pure.
 */
import { formatDuration } from '../core/pipeline/units.js'
import type { RunTiming, StageTiming, TaskTiming, TimingReport } from '../monitor/timing-report.js'

export interface TableCells {
  readonly headers: readonly string[]
  readonly rows: readonly (readonly string[])[]
}

/** Rows are tasks, or stages (a task with its sweep/fan-out instances) when there are many tasks. */
export type Granularity = 'task' | 'stage'

/** More task rows than this read better as stages. */
export const MAX_TASK_ROWS = 60

export function granularityOf(report: TimingReport, asked: Granularity | 'auto'): Granularity {
  if (asked !== 'auto') return asked
  const tasks = report.runs.reduce((n, run) => n + run.tasks.length, 0)
  return tasks > MAX_TASK_ROWS ? 'stage' : 'task'
}

/** Formats the report's instants: with the date only when the report spans several days. */
export function clockOf(report: TimingReport): { day: string | null; format: (iso: string) => string } {
  const days = new Set<string>()
  for (const run of report.runs) {
    for (const iso of [run.createdAt, run.plannedEnd, run.projectedCompletion]) days.add(iso.slice(0, 10))
  }
  const day = days.size === 1 ? ([...days][0] as string) : null
  return {
    day,
    format: (iso) => (day !== null && iso.startsWith(day) ? iso.slice(11, 19) : iso.slice(0, 16).replace('T', ' ')),
  }
}

export interface SummaryParts {
  /** What the report is about (run or project, and the day its times are on). */
  readonly heading: string
  /** Completed or projected completion (a run's: against its plan). */
  readonly completion: string | null
  readonly deadline: string
  readonly bottleneck: string | null
}

export function summaryParts(report: TimingReport): SummaryParts {
  const { day, format } = clockOf(report)
  const onDay = day ? `; times UTC on ${day}` : '; times UTC'
  let heading: string
  let completion: string | null
  if (report.scope.kind === 'project') {
    heading = `project ${report.scope.project}: ${report.runs.length} run(s)${onDay}`
    completion =
      report.projectedCompletion === null
        ? null
        : `${report.completed ? 'completed' : 'projected completion'} ${format(report.projectedCompletion)}`
  } else {
    const run = report.runs[0] as RunTiming
    heading = `run ${run.runId}  (pipeline ${run.pipeline}${run.project ? `, project ${run.project}` : ''}, cluster ${run.cluster})  ${run.state}${onDay}`
    completion = runLine(run, format)
  }
  let bottleneck: string | null = null
  if (report.bottleneck !== null) {
    const run = report.runs.find((r) => r.runId === report.bottleneck?.runId)
    const stage = run?.stages.find((s) => s.stage === report.bottleneck?.stage)
    const where = report.scope.kind === 'project' ? ` in run ${report.bottleneck.runId}` : ''
    bottleneck = `bottleneck ${report.bottleneck.stage}${where}${stage ? ` (${formatDuration(stage.criticalSeconds)} of the remaining critical path)` : ''}`
  }
  return { heading, completion, deadline: deadlineLine(report.deadline, report.slackSeconds, format), bottleneck }
}

export function summaryLines(report: TimingReport): string[] {
  const parts = summaryParts(report)
  return [parts.heading, parts.completion, parts.deadline, parts.bottleneck].filter((l): l is string => l !== null)
}

/** One line per run: its completion against its plan and its own deadline. */
export function runLine(run: RunTiming, format: (iso: string) => string): string {
  const end = run.actualEnd ?? run.projectedCompletion
  const late = (Date.parse(end) - Date.parse(run.plannedEnd)) / 1000
  const versus =
    Math.abs(late) < 1 ? 'as planned' : late > 0 ? `${formatDuration(late)} late` : `${formatDuration(-late)} early`
  const remaining =
    run.actualEnd === null && run.remainingCriticalPathSeconds > 0
      ? ` (in ${formatDuration(run.remainingCriticalPathSeconds)})`
      : ''
  return `${run.actualEnd ? 'completed' : 'projected completion'} ${format(end)}${remaining}; planned ${format(run.plannedEnd)}: ${versus}`
}

function deadlineLine(deadline: string | null, slack: number | null, format: (iso: string) => string): string {
  if (deadline === null || slack === null) return 'no deadline'
  return `deadline ${format(deadline)}: ${slack >= 0 ? `${formatDuration(slack)} to spare` : `LATE by ${formatDuration(-slack)}`}`
}

export function stageCells(run: RunTiming, format: (iso: string) => string): TableCells {
  return {
    headers: ['STAGE', 'STATE', 'DONE', 'EXPECTED', 'EXP START', 'START', 'EXP END', 'END', 'LATE', 'CRITICAL'],
    rows: run.stages.map((s: StageTiming) => [
      s.stage,
      s.state,
      `${s.finished}/${s.instances}`,
      expectedText(s.expected),
      format(s.plannedStart),
      startText(s, format),
      format(s.plannedEnd),
      endText(s, format),
      lateText(s.lateSeconds),
      s.criticalSeconds > 0
        ? `${formatDuration(s.criticalSeconds)}${run.bottleneck === s.stage ? ' (bottleneck)' : ''}`
        : '',
    ]),
  }
}

export function taskCells(run: RunTiming, format: (iso: string) => string): TableCells {
  return {
    headers: ['TASK', 'STATE', 'TRY', 'EXPECTED', 'EXP START', 'START', 'EXP END', 'END', 'LATE', 'REASON'],
    rows: run.tasks.map((t: TaskTiming) => [
      t.id,
      t.state,
      t.attempts > 0 ? String(t.attempts) : '-',
      expectedText(t.expected),
      format(t.plannedStart),
      startText(t, format),
      format(t.plannedEnd),
      endText(t, format),
      lateText(t.lateSeconds),
      t.reason ?? '',
    ]),
  }
}

function expectedText(e: TaskTiming['expected']): string {
  return `${formatDuration(e.seconds)} ${e.source === 'history' ? `(history ${e.samples})` : `(${e.source})`}`
}

/** Actual, else projected marked with ~, else -. */
function startText(row: StageTiming | TaskTiming, format: (iso: string) => string): string {
  if (row.actualStart) return format(row.actualStart)
  return row.projectedStart ? `~${format(row.projectedStart)}` : '-'
}

function endText(row: StageTiming | TaskTiming, format: (iso: string) => string): string {
  if (row.actualEnd) return format(row.actualEnd)
  return row.projectedEnd ? `~${format(row.projectedEnd)}` : '-'
}

function lateText(seconds: number | null): string {
  if (seconds === null) return '-'
  if (Math.abs(seconds) < 0.05) return '0'
  return seconds > 0 ? `+${formatDuration(seconds)}` : `-${formatDuration(-seconds)}`
}
