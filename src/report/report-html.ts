/**
 * `rpo report --html`: one self-contained page (no scripts, no links out) with the summary, the
 * timeline SVG inline and the stage and task tables of each run. Every user-given text is escaped
 * through `xmlText`, the SVG's included. Pure.
 */
import type { TimingReport } from '../monitor/timing-report.js'
import {
  clockOf,
  type Granularity,
  runLine,
  stageCells,
  summaryLines,
  type TableCells,
  taskCells,
} from './report-table.js'
import { timelineOf } from './report-timeline.js'
import { renderTimelineSvg } from './timeline-svg.js'
import { xmlText } from './xml-text.js'

const STYLE = `
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #263238; margin: 24px; }
h1 { font-size: 20px; margin: 0 0 8px; }
h2 { font-size: 16px; margin: 28px 0 6px; }
p.summary { margin: 2px 0; }
p.late { color: #c62828; font-weight: bold; }
figure { margin: 16px 0; overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 18px; }
th, td { border-bottom: 1px solid #e0e6e9; padding: 3px 10px; text-align: left; white-space: nowrap; }
th { background: #eceff1; }
td.reason { white-space: normal; max-width: 40em; }
`

export function renderReportHtml(report: TimingReport, granularity: Granularity | 'auto' = 'auto'): string {
  const { format } = clockOf(report)
  const title = report.scope.kind === 'run' ? `run ${report.scope.runId}` : `project ${report.scope.project}`
  const body: string[] = [`<h1>rpo report: ${xmlText(title)}</h1>`]
  for (const line of summaryLines(report)) {
    const late = line.startsWith('deadline') && report.atRisk
    body.push(`<p class="summary${late ? ' late' : ''}">${xmlText(line)}</p>`)
  }
  body.push(`<p class="summary">generated ${xmlText(report.generatedAt)}</p>`)
  body.push(`<figure>${renderTimelineSvg(timelineOf(report, granularity))}</figure>`)
  for (const run of report.runs) {
    body.push(`<h2>run ${xmlText(run.runId)} (${xmlText(run.pipeline)}, ${xmlText(run.state)})</h2>`)
    body.push(`<p class="summary">${xmlText(runLine(run, format))}</p>`)
    body.push(table(stageCells(run, format), 'stages'), table(taskCells(run, format), 'tasks'))
  }
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>rpo report: ${xmlText(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n')
}

function table(cells: TableCells, caption: string): string {
  const head = cells.headers.map((h) => `<th>${xmlText(h)}</th>`).join('')
  const reasonColumn = cells.headers.indexOf('REASON')
  const rows = cells.rows.map(
    (r) =>
      `<tr>${r.map((c, i) => `<td${i === reasonColumn ? ' class="reason"' : ''}>${xmlText(c)}</td>`).join('')}</tr>`,
  )
  return [
    `<table aria-label="${caption}">`,
    `<thead><tr>${head}</tr></thead>`,
    '<tbody>',
    ...rows,
    '</tbody></table>',
  ].join('\n')
}
