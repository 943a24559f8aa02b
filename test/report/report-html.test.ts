// The HTML page and the text tables of a report: every user-given text escaped, the SVG inside
// well-formed, the project's bottleneck and lateness worded as the terminal words them.
import { XMLValidator } from 'fast-xml-parser'
import { describe, expect, it } from 'vitest'
import { projectTimingReport, type TimingReport } from '../../src/monitor/timing-report.js'
import { renderReportHtml } from '../../src/report/report-html.js'
import { summaryLines, taskCells } from '../../src/report/report-table.js'
import { min, reportWithTasks } from './report-fixture.js'

const HOSTILE = '</td><script>alert(1)</script><img src=x onerror=alert(2)> & \u0000 \u001b[31m'

function hostileReport(): TimingReport {
  const report = reportWithTasks(3)
  const run = report.runs[0] as TimingReport['runs'][number]
  const tasks = run.tasks.map((t, i) => (i === 1 ? { ...t, id: HOSTILE, reason: HOSTILE } : t))
  return { ...report, scope: { kind: 'run', runId: HOSTILE }, runs: [{ ...run, runId: HOSTILE, tasks }] }
}

describe('renderReportHtml', () => {
  it('escapes every user-given text; the embedded SVG is well-formed XML', () => {
    const html = renderReportHtml(hostileReport())
    expect(html).not.toMatch(/<script|<img|onerror=alert\(2\)>/)
    expect(html).not.toContain('\u0000')
    expect(html).toContain('&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt;')
    const svg = html.slice(html.indexOf('<svg'), html.indexOf('</svg>') + 6)
    expect(XMLValidator.validate(svg)).toBe(true)
    // one <table> per kind of row, for the one run; the task tables hold the three tasks
    expect(html.match(/<table /g)).toHaveLength(2)
    expect(html.match(/<tr><td>/g)).toHaveLength(2 + 3)
  })
})

describe('report tables', () => {
  it('word the task rows: actual or ~projected times, and lateness against the plan', () => {
    const report = reportWithTasks(2)
    const cells = taskCells(report.runs[0] as TimingReport['runs'][number], (iso) => iso.slice(11, 16))
    expect(cells.rows).toEqual([
      ['prep', 'succeeded', '1', '10m00s (declared)', '09:00', '09:00', '09:10', '09:10', '0', ''],
      ['sweep.0', 'running', '1', '10m00s (declared)', '09:10', '09:10', '09:20', '~10:30', '0', ''],
    ])
  })

  it("give a project the latest run's completion, the config's deadline (else its runs' earliest) and bottleneck", () => {
    const base = reportWithTasks(2).runs[0] as TimingReport['runs'][number]
    const projected = (runId: string, endMinute: number, deadline: string | null) => ({
      timing: { ...base, runId, deadline, actualEnd: null },
      projection: { projectedEnd: min(endMinute), bottleneck: 'sweep' } as never,
    })
    const runs = [
      projected('a', 90, new Date(min(120)).toISOString()),
      projected('b', 100, new Date(min(80)).toISOString()),
    ]
    const fromRuns = projectTimingReport('vision', undefined, runs, min(50))
    expect(fromRuns).toMatchObject({
      deadline: new Date(min(80)).toISOString(),
      projectedCompletion: new Date(min(100)).toISOString(),
      slackSeconds: -20 * 60,
      atRisk: true,
      bottleneck: { runId: 'b', stage: 'sweep' },
      completed: false,
    })
    expect(summaryLines(fromRuns)).toEqual([
      'project vision: 2 run(s); times UTC on 2026-12-05',
      'projected completion 10:40:00',
      'deadline 10:20:00: LATE by 20m00s',
      'bottleneck sweep in run b (40m00s of the remaining critical path)',
    ])
    const fromConfig = projectTimingReport('vision', '2026-12-05T12:00:00+01:00', runs, min(50))
    expect(fromConfig).toMatchObject({ deadline: '2026-12-05T11:00:00.000Z', slackSeconds: 20 * 60, atRisk: false })
  })
})
