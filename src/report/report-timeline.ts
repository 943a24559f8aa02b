/**
 * The timing report as a `Timeline` (timeline-svg.ts draws it): one bar row per task, or per stage
 * when asked or when there are many tasks, with a heading row per run in a project's report of
 * several runs. Pure.
 */
import { formatDuration } from '../core/pipeline/units.js'
import type { RowState, RunTiming, StageTiming, TaskTiming, TimingReport } from '../monitor/timing-report.js'
import { clockOf, type Granularity, granularityOf, runLine, summaryParts } from './report-table.js'
import type { Timeline, TimelineRow, TimelineSpan } from './timeline-svg.js'

export function timelineOf(report: TimingReport, asked: Granularity | 'auto' = 'auto'): Timeline {
  const granularity = granularityOf(report, asked)
  const now = Date.parse(report.generatedAt)
  const { format } = clockOf(report)
  const rows: TimelineRow[] = []
  const grouped = report.runs.length > 1
  for (const run of report.runs) {
    if (grouped) rows.push({ kind: 'group', label: `run ${run.runId} (${run.pipeline}) · ${runLine(run, format)}` })
    if (granularity === 'stage') for (const stage of run.stages) rows.push(barOf(stageLabel(stage), stage, run, now))
    else for (const task of run.tasks) rows.push(barOf(task.id, task, run, now))
  }
  const scope = report.scope.kind === 'run' ? `run ${report.scope.runId}` : `project ${report.scope.project}`
  const summary = summaryParts(report)
  // a project of one run: that run's line says more than the project's completion alone
  const completion = report.runs.length === 1 ? runLine(report.runs[0] as RunTiming, format) : summary.completion
  return {
    title: `${scope}: expected vs actual, by ${granularity}`,
    subtitle: [completion, summary.deadline, summary.bottleneck].filter((l) => l !== null).join(' · '),
    rows,
    now,
    deadline: report.deadline === null ? null : Date.parse(report.deadline),
  }
}

function stageLabel(stage: StageTiming): string {
  return stage.instances > 1 ? `${stage.stage} ×${stage.instances}` : stage.stage
}

function barOf(label: string, row: TaskTiming | StageTiming, run: RunTiming, now: number): TimelineRow {
  const at = (iso: string | null) => (iso === null ? null : Date.parse(iso))
  const actualStart = at(row.actualStart)
  const actualEnd = at(row.actualEnd)
  const projectedStart = at(row.projectedStart)
  const projectedEnd = at(row.projectedEnd)
  const inFlight = row.state === 'running' || (actualStart !== null && actualEnd === null)
  const actual: TimelineSpan | null =
    actualStart === null ? null : { start: actualStart, end: actualEnd ?? Math.max(actualStart, now) }
  let projected: TimelineSpan | null = null
  if (actualEnd === null && projectedEnd !== null) {
    const from = inFlight ? now : (projectedStart ?? now)
    if (projectedEnd > from) projected = { start: from, end: projectedEnd }
  }
  const isStage = !('id' in row)
  return {
    kind: 'bar',
    label,
    state: row.state as RowState,
    expected: { start: Date.parse(row.plannedStart), end: Date.parse(row.plannedEnd) },
    actual,
    projected,
    emphasis: isStage && run.bottleneck === row.stage,
    detail: detailOf(label, row),
  }
}

function detailOf(label: string, row: TaskTiming | StageTiming): string {
  const hm = (iso: string | null) => (iso === null ? '?' : iso.slice(11, 19))
  const parts = [
    `${label}: ${row.state}`,
    `expected ${hm(row.plannedStart)}–${hm(row.plannedEnd)} (${formatDuration(row.expected.seconds)}, ${row.expected.source})`,
  ]
  if (row.actualStart !== null) parts.push(`actual ${hm(row.actualStart)}–${row.actualEnd ? hm(row.actualEnd) : 'now'}`)
  else if (row.projectedStart !== null) parts.push(`projected ${hm(row.projectedStart)}–${hm(row.projectedEnd)}`)
  if ('reason' in row && row.reason) parts.push(row.reason)
  return parts.join('; ')
}
