/**
 * `rpo report <run | --project P>`: expected vs actual start and end of every task and stage of a
 * run or of a project's runs, projected completion, slack to the deadline and the bottleneck stage.
 * A table for people; --json the `TimingReportSchema` shape; --svg/--html a timeline picture
 * (src/report). The numbers are `rpo status`'s (src/monitor/run-estimate.ts), laid out per stage.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs'
import { type Command, InvalidArgumentError } from 'commander'
import { RpoError } from '../core/errors.js'
import { loadTimingReport, type TimingReportTarget } from '../monitor/load-timing-report.js'
import type { TimingReport } from '../monitor/timing-report.js'
import { renderReportHtml } from '../report/report-html.js'
import {
  clockOf,
  type Granularity,
  granularityOf,
  MAX_TASK_ROWS,
  runLine,
  stageCells,
  summaryLines,
  taskCells,
} from '../report/report-table.js'
import { timelineOf } from '../report/report-timeline.js'
import { renderTimelineSvg } from '../report/timeline-svg.js'
import type { CommandContext } from './command-context.js'
import { renderTable } from './format.js'

interface ReportOptions {
  project?: string
  json?: boolean
  svg?: string
  html?: string
  by: Granularity | 'auto'
}

export function registerReportCommands(program: Command, context: CommandContext): void {
  program
    .command('report')
    .description(
      'expected vs actual start and end of each task and stage of a run or a project, projected completion, slack to the deadline, the bottleneck',
    )
    .argument('[run]', 'run id (or a unique prefix)')
    .option('--project <project>', "the project's unfinished runs and the newest run of each of its pipelines")
    .option('--json', 'print the report as JSON (the TimingReportSchema shape; see README)')
    .option('--svg <file>', 'also write a timeline of expected vs actual bars with the deadline line as SVG')
    .option('--html <file>', 'also write a self-contained HTML page: the timeline and the tables')
    .option(
      '--by <rows>',
      `rows of the tables and timeline: task, stage or auto (stages above ${MAX_TASK_ROWS} tasks)`,
      granularityArgument,
      'auto',
    )
    .addHelpText(
      'after',
      `
Times are UTC. EXP START/EXP END: as planned from the run's creation with the expected durations
(history, else the declared \`expected\`, else the time limit); START/END: actual, or ~projected.
LATE: (actual, else projected) end − expected end. CRITICAL: the stage's share of the remaining
critical path; the largest is the bottleneck.

Examples:
  rpo report train-20261205-ab12                  one run
  rpo report --project vision --html vision.html  a project's runs as a page to share
  rpo report train-2026 --svg timeline.svg --json`,
    )
    .action(async (runArgument: string | undefined, options: ReportOptions) => {
      if (runArgument !== undefined && options.project !== undefined)
        throw new RpoError('usage', 'give a run or --project, not both')
      if (runArgument === undefined && options.project === undefined)
        throw new RpoError('usage', 'give a run id, or --project <project>; `rpo status` lists the runs')
      await context.withApp(async (app) => {
        const target: TimingReportTarget =
          options.project !== undefined
            ? { kind: 'project', project: options.project }
            : { kind: 'run', runId: await context.resolveRunId(app, runArgument as string) }
        const report = await loadTimingReport(app.store, app.config, target, Date.now())
        const written: string[] = []
        if (options.svg !== undefined) {
          writeOutput(options.svg, renderTimelineSvg(timelineOf(report, options.by)), 'timeline')
          written.push(`wrote the timeline to ${options.svg}`)
        }
        if (options.html !== undefined) {
          writeOutput(options.html, renderReportHtml(report, options.by), 'report page')
          written.push(`wrote the report page to ${options.html}`)
        }
        if (options.json) context.out(JSON.stringify(report, null, 2))
        else context.out([renderReportText(report, options.by), ...written].join('\n'))
      })
    })
}

export function renderReportText(report: TimingReport, by: Granularity | 'auto'): string {
  const { format } = clockOf(report)
  const granularity = granularityOf(report, by)
  const blocks: string[] = [summaryLines(report).join('\n')]
  for (const run of report.runs) {
    // a run's own report has its line in the summary already
    const heading =
      report.scope.kind === 'project'
        ? [`run ${run.runId}  (${run.pipeline})  ${run.state}`, runLine(run, format), '']
        : []
    const stages = stageCells(run, format)
    const lines = [...heading, renderTable(stages.headers, stages.rows)]
    if (granularity === 'task') {
      const tasks = taskCells(run, format)
      lines.push('', renderTable(tasks.headers, tasks.rows))
    } else lines.push(`(${run.tasks.length} tasks; --by task lists each)`)
    blocks.push(lines.join('\n'))
  }
  return blocks.join('\n\n')
}

const WRITE_ERRORS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOENT: 'its folder does not exist',
  ENOTDIR: 'a part of its path is not a folder',
  EISDIR: 'it is a folder',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
}

/** Written whole or not at all: a temporary file beside it, renamed over it. */
function writeOutput(file: string, text: string, what: string): void {
  const temporary = `${file}.${process.pid}.tmp`
  try {
    writeFileSync(temporary, text)
    renameSync(temporary, file)
  } catch (error) {
    removeQuietly(temporary)
    const code = error instanceof Error && 'code' in error ? String(error.code) : ''
    const reason = WRITE_ERRORS[code] ?? (error instanceof Error ? error.message : String(error))
    throw new RpoError('output-unwritable', `cannot write the ${what} to ${file} (${reason})`, { cause: error })
  }
}

function removeQuietly(file: string): void {
  try {
    rmSync(file, { force: true })
  } catch {
    // its folder could not be written either (ENOTDIR, EACCES): there is nothing to remove
  }
}

function granularityArgument(value: string): Granularity | 'auto' {
  if (value === 'task' || value === 'stage' || value === 'auto') return value
  throw new InvalidArgumentError('expected task, stage or auto')
}
