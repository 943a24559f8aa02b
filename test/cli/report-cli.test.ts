// `rpo report` as a user runs it, on a real SQLite store after real runs of the local executor:
// the table, --json (the documented schema, the same times as `rpo status`), the SVG timeline
// rendered to pixels, the HTML page, and the errors for what cannot be reported or written.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { XMLValidator } from 'fast-xml-parser'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ExitCode } from '../../src/cli/exit-codes.js'
import { type TimingReport, TimingReportSchema } from '../../src/monitor/timing-report.js'
import { timelineOf } from '../../src/report/report-timeline.js'
import { DEADLINE_COLOR, STATE_COLORS, timelineLayout } from '../../src/report/timeline-svg.js'
import { makeWorkDir, runCli, writePipeline } from '../support/cli-harness.js'
import { isColor, rasterizeSvg } from '../support/svg-raster.js'

const CLUSTER = `
defaultCluster: box
clusters:
  box: { kind: local, cpus: 2, memory: 4G, killGrace: 200ms, pollInterval: 50ms }
`

const TRAIN = `name: train
project: vision
tasks:
  prep: { command: "sleep 0.5", expected: 2s }
  sweep:
    command: "sleep {{params.s}}"
    expected: 1s
    matrix: { s: [0.2, 0.4, 0.6] }
    after: [prep]
  check: { command: "sleep 0.2; exit 3", expected: 1s, after: [sweep] }
`

const EVALUATE = `name: evaluate
project: vision
tasks:
  score: { command: "sleep 0.2", expected: 1s }
`

let dir: string
let trainRun: string
let evaluateRun: string
let deadline: string

beforeAll(async () => {
  dir = makeWorkDir('rpo-report-')
  writeFileSync(path.join(dir, 'rpo.config.yaml'), CLUSTER)
  writePipeline(dir, 'train.yaml', TRAIN)
  writePipeline(dir, 'evaluate.yaml', EVALUATE)
  const train = await runCli(dir, ['run', 'train.yaml', '--quiet', '--json'])
  expect(train.code).toBe(ExitCode.runFailed)
  trainRun = JSON.parse(train.stdout).runId
  const evaluate = await runCli(dir, ['run', 'evaluate.yaml', '--quiet', '--json'])
  expect(evaluate.code).toBe(ExitCode.ok)
  evaluateRun = JSON.parse(evaluate.stdout).runId
  // the project's deadline, set now that the runs are over: halfway through the train run, so the
  // run was late and the timeline draws the deadline inside the chart, away from "now"
  const status = JSON.parse((await runCli(dir, ['status', trainRun, '--json'])).stdout)
  deadline = new Date((Date.parse(status.createdAt) + Date.parse(status.finishedAt)) / 2).toISOString()
  writeFileSync(path.join(dir, 'rpo.config.yaml'), `${CLUSTER}projects:\n  vision: { deadline: "${deadline}" }\n`)
}, 120_000)

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('rpo report <run>', () => {
  it('prints the summary, a stage table and a task table with expected vs actual times', async () => {
    const result = await runCli(dir, ['report', trainRun.slice(0, -1)])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(ExitCode.ok)
    const text = result.stdout
    expect(text).toContain(`run ${trainRun}  (pipeline train, project vision, cluster box)  failed`)
    expect(text).toMatch(/^completed \S+; planned \S+: .*(late|early|as planned)$/m)
    expect(text).toMatch(/^deadline \S+: LATE by \S+$/m)
    expect(text).toMatch(/STAGE\s+STATE\s+DONE\s+EXPECTED\s+EXP START\s+START\s+EXP END\s+END\s+LATE\s+CRITICAL/)
    expect(text).toMatch(/^sweep\s+succeeded\s+3\/3\s+1\.0s \(declared\)\s+\d\d:\d\d:\d\d\s+\d\d:\d\d:\d\d/m)
    expect(text).toMatch(/^check\s+failed\s+1\/1/m)
    expect(text).toMatch(/TASK\s+STATE\s+TRY\s+EXPECTED\s+EXP START\s+START\s+EXP END\s+END\s+LATE\s+REASON/)
    expect(text).toMatch(/^sweep\.2\s+succeeded\s+1\s+1\.0s \(declared\)/m)
    expect(text).toMatch(/^check\s+failed\s+1\s+.*exited with code 3$/m)
    // --by stage leaves the task rows out and says how to get them
    const stages = await runCli(dir, ['report', trainRun, '--by', 'stage'])
    expect(stages.stdout).not.toMatch(/^sweep\.0/m)
    expect(stages.stdout).toContain('(5 tasks; --by task lists each)')
  })

  it('--json follows TimingReportSchema and carries the same times as rpo status', async () => {
    const result = await runCli(dir, ['report', trainRun, '--json'])
    expect(result.code).toBe(ExitCode.ok)
    const report = TimingReportSchema.parse(JSON.parse(result.stdout))
    const run = report.runs[0]
    expect(report.scope).toEqual({ kind: 'run', runId: trainRun })
    expect(report).toMatchObject({ project: 'vision', deadline, completed: true, atRisk: true, bottleneck: null })
    expect(run?.stages.map((s) => [s.stage, s.state, s.instances, s.finished])).toEqual([
      ['prep', 'succeeded', 1, 1],
      ['sweep', 'succeeded', 3, 3],
      ['check', 'failed', 1, 1],
    ])
    const status = JSON.parse((await runCli(dir, ['status', trainRun, '--json'])).stdout)
    for (const task of status.tasks) {
      const row = run?.tasks.find((t) => t.id === task.id)
      expect(row).toMatchObject({
        state: task.state,
        actualStart: task.estimate.actualStart,
        actualEnd: task.estimate.actualEnd,
        plannedEnd: task.estimate.plannedEnd,
        expected: task.estimate.expected,
      })
      expect(row?.lateSeconds).toBeCloseTo(
        (Date.parse(task.estimate.actualEnd) - Date.parse(task.estimate.plannedEnd)) / 1000,
        3,
      )
    }
    expect(report.slackSeconds).toBeCloseTo((Date.parse(deadline) - Date.parse(status.finishedAt)) / 1000, 3)
    expect(run?.tasks.find((t) => t.id === 'check')?.reason).toBe('exited with code 3')
  })

  it('--svg draws each task where it ran and the deadline line where it is', async () => {
    const file = path.join(dir, 'timeline.svg')
    // --json in the same call: the report the picture was drawn from, so its layout can be recomputed
    const result = await runCli(dir, ['report', trainRun, '--json', '--svg', file])
    expect(result.code).toBe(ExitCode.ok)
    const report: TimingReport = TimingReportSchema.parse(JSON.parse(result.stdout))
    const svg = readFileSync(file, 'utf8')
    expect(XMLValidator.validate(svg)).toBe(true)
    const timeline = timelineOf(report)
    const layout = timelineLayout(timeline)
    const raster = await rasterizeSvg(svg)
    const labels = timeline.rows.map((r) => r.label)
    expect(labels).toEqual(['prep', 'sweep.0', 'sweep.1', 'sweep.2', 'check'])
    for (const task of report.runs[0]?.tasks ?? []) {
      const y = Math.round(layout.rowCenterY(labels.indexOf(task.id)))
      const color = STATE_COLORS[task.state]
      const from = layout.xOf(Date.parse(task.actualStart as string))
      const to = layout.xOf(Date.parse(task.actualEnd as string))
      // inside the actual span: the state's color — except where the deadline line crosses the bar
      // (the deadline falls mid-run, so it may cross a sweep task's bar at any column); well outside
      // it: not
      const inside = [from + 2, from + (to - from) / 4, (from + to) / 2, from + (3 * (to - from)) / 4, to - 2]
      const clear = inside.filter((x) => Math.abs(Math.round(x) - (layout.deadlineX as number)) > 3)
      expect(clear.length, `${task.id}: ${from}–${to} px`).toBeGreaterThanOrEqual(2)
      for (const x of clear) expect(isColor(raster.pixel(Math.round(x), y), color)).toBe(true)
      for (const x of [from - 6, to + 6]) expect(isColor(raster.pixel(Math.round(x), y), color)).toBe(false)
    }
    const x = layout.deadlineX as number
    expect(x).toBeCloseTo(layout.xOf(Date.parse(deadline)), 0)
    const row = Math.round(layout.rowCenterY(0))
    const red: number[] = []
    for (let c = 0; c < raster.width; c++) if (isColor(raster.pixel(c, row), DEADLINE_COLOR)) red.push(c)
    expect(red).toEqual([x - 1, x])
  })

  it('--html writes one self-contained page with the timeline and the tables', async () => {
    const file = path.join(dir, 'report.html')
    const result = await runCli(dir, ['report', trainRun, '--html', file])
    expect(result.code).toBe(ExitCode.ok)
    expect(result.stdout).toContain(`wrote the report page to ${file}`)
    const html = readFileSync(file, 'utf8')
    expect(html).toMatch(/^<!DOCTYPE html>/)
    expect(html).not.toMatch(/<script|<link|src=|href=/)
    const svg = html.slice(html.indexOf('<svg'), html.indexOf('</svg>') + 6)
    expect(XMLValidator.validate(svg)).toBe(true)
    expect(html).toContain('<th>EXP START</th>')
    expect(html).toMatch(/<td>sweep\.1<\/td><td>succeeded<\/td>/)
    expect(html).toContain('<td class="reason">exited with code 3</td>')
  })
})

describe('rpo report <running run>', () => {
  it('draws a running task from its start to now, then what is projected, and projects the completion', async () => {
    writePipeline(
      dir,
      'slow.yaml',
      'name: slow\ntasks:\n  first: { command: "true", expected: 1s }\n  long: { command: "sleep 60", expected: 30s, after: [first] }\n  last: { command: "true", expected: 20s, after: [long] }\n',
    )
    const submitted = await runCli(dir, ['submit', 'slow.yaml', '--json'])
    expect(submitted.code).toBe(ExitCode.ok)
    const runId: string = JSON.parse(submitted.stdout).runId
    try {
      const deadlineMs = Date.now() + 30_000
      for (;;) {
        await runCli(dir, ['sync'])
        const status = JSON.parse((await runCli(dir, ['status', runId, '--json'])).stdout)
        if (status.tasks.find((t: { id: string }) => t.id === 'long')?.jobState === 'running') break
        if (Date.now() > deadlineMs) throw new Error('the long task did not start in 30 s')
        await new Promise((r) => setTimeout(r, 200))
      }
      await new Promise((r) => setTimeout(r, 1500))
      const file = path.join(dir, 'running.svg')
      const result = await runCli(dir, ['report', runId, '--json', '--svg', file])
      expect(result.code).toBe(ExitCode.ok)
      const report = TimingReportSchema.parse(JSON.parse(result.stdout))
      const run = report.runs[0]
      expect(report.completed).toBe(false)
      expect(run?.tasks.map((t) => t.state)).toEqual(['succeeded', 'running', 'pending'])
      expect(run?.bottleneck).toBe('long')
      const long = run?.tasks[1]
      const now = Date.parse(report.generatedAt)
      // still running: projected to end expected-duration after its start; last follows it
      expect(Date.parse(long?.projectedEnd as string)).toBe(Date.parse(long?.actualStart as string) + 30_000)
      expect(Date.parse(report.projectedCompletion as string)).toBeGreaterThan(now)
      const timeline = timelineOf(report)
      const layout = timelineLayout(timeline)
      const raster = await rasterizeSvg(readFileSync(file, 'utf8'))
      const y = Math.round(layout.rowCenterY(1))
      const from = layout.xOf(Date.parse(long?.actualStart as string))
      const to = layout.xOf(now)
      expect(to - from).toBeGreaterThan(8)
      for (const x of [from + 2, (from + to) / 2, to - 3])
        expect(isColor(raster.pixel(Math.round(x), y), STATE_COLORS.running)).toBe(true)
      // after now: the dashed projection's pale fill, not the solid color
      expect(isColor(raster.pixel(Math.round(to + 8), y), STATE_COLORS.running)).toBe(false)
    } finally {
      const cancelled = await runCli(dir, ['cancel', runId])
      expect(cancelled.code).toBe(ExitCode.ok)
    }
  })
})

describe('rpo report --project', () => {
  it("covers the project's runs, with its completion, deadline and a timeline row group per run", async () => {
    const result = await runCli(dir, ['report', '--project', 'vision', '--json', '--svg', path.join(dir, 'p.svg')])
    expect(result.code).toBe(ExitCode.ok)
    const report = TimingReportSchema.parse(JSON.parse(result.stdout))
    expect(report.scope).toEqual({ kind: 'project', project: 'vision' })
    expect(report.runs.map((r) => r.runId)).toEqual([trainRun, evaluateRun])
    expect(report.projectedCompletion).toBe(report.runs[1]?.actualEnd)
    expect(report.deadline).toBe(deadline)
    const timeline = timelineOf(report)
    expect(timeline.rows.filter((r) => r.kind === 'group').map((r) => r.label.split(' ')[1])).toEqual([
      trainRun,
      evaluateRun,
    ])
    const text = (await runCli(dir, ['report', '--project', 'vision'])).stdout
    expect(text).toMatch(/^project vision: 2 run\(s\)/)
    expect(text).toContain(`run ${evaluateRun}  (evaluate)  succeeded`)
  })
})

describe('rpo report: what it cannot do', () => {
  it('refuses an unknown run or project, both or neither, and a bad --by with exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['report', 'nope'], /error \(run-not-found\): no run "nope"/],
      [['report', '--project', 'visoin'], /no run of project "visoin" .*did you mean "vision"\?/],
      [['report', trainRun, '--project', 'vision'], /error \(usage\): give a run or --project, not both/],
      [['report'], /error \(usage\): give a run id, or --project/],
      [['report', trainRun, '--by', 'week'], /expected task, stage or auto/],
    ]
    for (const [args, message] of cases) {
      const result = await runCli(dir, args)
      expect(result.code, args.join(' ')).toBe(ExitCode.invalidInput)
      expect(result.stderr).toMatch(message)
      expect(result.stdout).toBe('')
    }
  })

  it('says which file cannot be written and why, exits 2, and leaves nothing behind', async () => {
    mkdirSync(path.join(dir, 'a-folder'))
    writeFileSync(path.join(dir, 'a-file'), '')
    const cases: [string, string, RegExp][] = [
      ['--svg', path.join(dir, 'missing', 't.svg'), /its folder does not exist/],
      ['--html', path.join(dir, 'a-file', 't.html'), /a part of its path is not a folder/],
      ['--svg', path.join(dir, 'a-folder'), /it is a folder/],
    ]
    for (const [option, file, why] of cases) {
      const result = await runCli(dir, ['report', trainRun, option, file])
      expect(result.code).toBe(ExitCode.invalidInput)
      expect(result.stderr).toContain(`error (output-unwritable): cannot write the `)
      expect(result.stderr).toContain(file)
      expect(result.stderr).toMatch(why)
    }
    expect(readFileSync(path.join(dir, 'a-file'), 'utf8')).toBe('')
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([])
    expect(readdirSync(path.join(dir, 'a-folder'))).toEqual([])
  })
})
