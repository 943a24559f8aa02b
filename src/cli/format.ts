/** Plain-text rendering for the CLI: aligned tables and task state labels. */
import { formatDuration } from '../core/pipeline/units.js'
import type { RunProgress, TaskProgress } from '../monitor/run-progress.js'

export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  // a loop, not Math.max(...rows): spreading 100,000 rows as arguments overflows the stack
  const widths = headers.map((h, i) => rows.reduce((width, r) => Math.max(width, (r[i] ?? '').length), h.length))
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}

export function taskLabel(task: TaskProgress): string {
  if (task.state === 'active')
    return task.jobState === 'running' || task.jobState === 'completing' ? 'running' : (task.jobState ?? 'queued')
  if (task.state === 'retry_wait') return 'retrying'
  return task.state
}

export function renderRunProgress(progress: RunProgress): string {
  const header = [
    `run ${progress.runId}  (${progress.pipeline}${progress.project ? `, project ${progress.project}` : ''}, cluster ${progress.cluster})`,
    `state ${progress.state}  ${progress.done}/${progress.total} done  elapsed ${formatDuration(progress.elapsedSeconds)}  ${renderCounts(progress.counts)}`,
    ...(progress.lastTickAt
      ? [
          `last tick ${progress.lastTickAt.replace('T', ' ').slice(0, 19)}: ${progress.lastTickCommands ?? 0} scheduler command(s)`,
        ]
      : []),
    ...(progress.estimate ? renderEstimate(progress.estimate) : []),
  ]
  const estimated = progress.estimate !== null
  const rows = progress.tasks.map((t) => [
    t.id,
    taskLabel(t),
    t.attempt > 0 ? String(t.attempt) : '-',
    t.elapsedSeconds === null ? '-' : formatDuration(t.elapsedSeconds),
    t.expectedSeconds === null ? '-' : formatDuration(t.expectedSeconds),
    ...(estimated ? [describeSource(t.estimate), describeEnd(t.estimate)] : []),
    describeParams(t.params),
    t.reason ?? '',
  ])
  const headers = estimated
    ? ['TASK', 'STATE', 'TRY', 'ELAPSED', 'EXPECTED', 'FROM', 'END', 'PARAMS', 'REASON']
    : ['TASK', 'STATE', 'TRY', 'ELAPSED', 'EXPECTED', 'PARAMS', 'REASON']
  return `${header.join('\n')}\n\n${renderTable(headers, rows)}`
}

/** The run's projected completion, slack to its deadline and bottleneck stage. */
function renderEstimate(estimate: NonNullable<RunProgress['estimate']>): string[] {
  const completion = clock(estimate.actualEnd ?? estimate.projectedCompletion)
  const left =
    estimate.actualEnd === null && estimate.remainingCriticalPathSeconds > 0
      ? ` (in ${formatDuration(estimate.remainingCriticalPathSeconds)})`
      : ''
  const lines = [
    `${estimate.actualEnd ? 'completed' : 'projected completion'} ${completion}${left}; planned ${clock(estimate.plannedEnd)}`,
  ]
  if (estimate.deadline !== null && estimate.slackSeconds !== null) {
    const slack = estimate.slackSeconds
    lines.push(
      `deadline ${clock(estimate.deadline)}: ${slack >= 0 ? `${formatDuration(slack)} to spare` : `LATE by ${formatDuration(-slack)}`}`,
    )
  }
  if (estimate.bottleneck !== null) {
    const stage = estimate.stages.find((s) => s.stage === estimate.bottleneck)
    lines.push(
      `bottleneck ${estimate.bottleneck}${stage ? ` (${formatDuration(stage.criticalSeconds)} of the remaining critical path)` : ''}`,
    )
  }
  return lines
}

function describeSource(estimate: TaskProgress['estimate']): string {
  if (!estimate) return '-'
  const e = estimate.expected
  return e.source === 'history' ? `history (${e.samples})` : e.source
}

/** The actual end, or the projected one marked with ~. */
function describeEnd(estimate: TaskProgress['estimate']): string {
  if (!estimate) return '-'
  if (estimate.actualEnd) return clock(estimate.actualEnd)
  if (!estimate.projectedEnd) return '-'
  // a queued job's start as its scheduler forecasts it (squeue --start), which the end is built on
  const start = estimate.schedulerExpectedStart
  return start
    ? `~${clock(estimate.projectedEnd)} (scheduler: starts ~${clock(start).slice(11)})`
    : `~${clock(estimate.projectedEnd)}`
}

function clock(iso: string): string {
  return iso.replace('T', ' ').slice(0, 16)
}

export function renderCounts(counts: Readonly<Record<string, number>>): string {
  const order = [
    'running',
    'queued',
    'pending',
    'retry_wait',
    'succeeded',
    'skipped',
    'failed',
    'upstream_failed',
    'cancelled',
  ]
  return order
    .filter((k) => (counts[k] ?? 0) > 0)
    .map((k) => `${counts[k]} ${k === 'retry_wait' ? 'retrying' : k.replace('_', ' ')}`)
    .join(', ')
}

function describeParams(params: Readonly<Record<string, unknown>>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ')
}
