// The timeline picture, as people see it: rendered by librsvg to pixels and read back (bars where
// their times are, the deadline line at its time), valid XML however hostile the text it carries.
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { describe, expect, it } from 'vitest'
import { timelineOf } from '../../src/report/report-timeline.js'
import {
  DEADLINE_COLOR,
  EXPECTED_COLOR,
  renderTimelineSvg,
  STATE_COLORS,
  type Timeline,
  timelineLayout,
} from '../../src/report/timeline-svg.js'
import { isColor, type Raster, rasterizeSvg } from '../support/svg-raster.js'
import { min, reportWithTasks } from './report-fixture.js'

const HOSTILE = `<script>alert("x")</script> & ' \u0000\u0007 \uD800 ]]> <!--`

function sample(overrides: Partial<Timeline> = {}): Timeline {
  return {
    title: `project ${HOSTILE}`,
    subtitle: 'completed 10:10 · deadline 10:00',
    now: min(50),
    deadline: min(60),
    rows: [
      {
        kind: 'bar',
        label: 'prep',
        state: 'succeeded',
        expected: { start: min(0), end: min(20) },
        actual: { start: min(10), end: min(30) },
        projected: null,
        emphasis: false,
        detail: 'prep',
      },
      {
        kind: 'bar',
        label: 'train',
        state: 'running',
        expected: { start: min(20), end: min(40) },
        actual: { start: min(30), end: min(50) },
        projected: { start: min(50), end: min(70) },
        emphasis: true,
        detail: `train: ${HOSTILE}`,
      },
      {
        kind: 'bar',
        label: HOSTILE,
        state: 'failed',
        expected: { start: min(40), end: min(45) },
        actual: { start: min(5), end: min(8) },
        projected: null,
        emphasis: false,
        detail: HOSTILE,
      },
    ],
    ...overrides,
  }
}

/** Columns of a pixel row that have this color. */
function columnsOf(raster: Raster, y: number, hex: string): number[] {
  const columns: number[] = []
  for (let x = 0; x < raster.width; x++) if (isColor(raster.pixel(x, Math.round(y)), hex)) columns.push(x)
  return columns
}

describe('renderTimelineSvg', () => {
  it('draws each actual bar in its state color over its time span, over the lighter expected bar', async () => {
    const timeline = sample()
    const layout = timelineLayout(timeline)
    const raster = await rasterizeSvg(renderTimelineSvg(timeline))
    expect([raster.width, raster.height]).toEqual([layout.width, layout.height])

    const prepY = layout.rowCenterY(0)
    const green = columnsOf(raster, prepY, STATE_COLORS.succeeded)
    // the actual bar runs 09:10 → 09:30; edge pixels are blended, so allow a pixel either side
    expect(green[0]).toBeGreaterThanOrEqual(Math.floor(layout.xOf(min(10))) - 1)
    expect(green[0]).toBeLessThanOrEqual(Math.ceil(layout.xOf(min(10))) + 1)
    expect(green.at(-1)).toBeGreaterThanOrEqual(Math.floor(layout.xOf(min(30))) - 2)
    expect(green.at(-1)).toBeLessThanOrEqual(Math.ceil(layout.xOf(min(30))) + 1)
    expect(green.length).toBeGreaterThan(layout.xOf(min(30)) - layout.xOf(min(10)) - 4)
    // 09:00 → 09:10 only the expected bar is there, at the bar's middle and at its lighter edge
    const expectedOnly = Math.round(layout.xOf(min(5)))
    expect(isColor(raster.pixel(expectedOnly, Math.round(prepY)), EXPECTED_COLOR)).toBe(true)
    expect(isColor(raster.pixel(Math.round(layout.xOf(min(15))), Math.round(prepY) - 6), EXPECTED_COLOR)).toBe(true)

    // the running task: blue from its start up to now, not past it (the rest is the dashed projection)
    const trainY = layout.rowCenterY(1)
    const blue = columnsOf(raster, trainY, STATE_COLORS.running)
    expect(blue[0]).toBeGreaterThanOrEqual(Math.floor(layout.xOf(min(30))) - 1)
    expect(blue[0]).toBeLessThanOrEqual(Math.ceil(layout.xOf(min(30))) + 1)
    expect(Math.max(...blue.filter((x) => x < layout.xOf(min(52))))).toBeLessThanOrEqual(
      Math.ceil(layout.xOf(min(50))) + 1,
    )
    // the failed bar sits where its own times are (early), not where it was expected
    const red = columnsOf(raster, layout.rowCenterY(2), STATE_COLORS.failed)
    expect(red.length).toBeGreaterThan(0)
    expect(Math.max(...red)).toBeLessThan(layout.xOf(min(10)))
  })

  it('draws the deadline as a red line at its time, across the rows', async () => {
    const timeline = sample()
    const layout = timelineLayout(timeline)
    expect(layout.deadlineX).not.toBeNull()
    const raster = await rasterizeSvg(renderTimelineSvg(timeline))
    const x = layout.deadlineX as number
    expect(Math.abs(x - layout.xOf(min(60)))).toBeLessThanOrEqual(0.5)
    for (const row of [0, 2]) {
      // nothing else on these rows is the deadline's red: the line is the only red, 2 px wide at x
      expect(columnsOf(raster, layout.rowCenterY(row), DEADLINE_COLOR)).toEqual([x - 1, x])
    }
    // the plot is scaled to time: the deadline (09:60) lies as far right of 09:30 as 09:30 of 09:00
    const half = layout.xOf(min(30))
    expect(x - half).toBeCloseTo(half - layout.xOf(min(0)), 0)
  })

  it('puts a deadline far beyond the bars at the edge with its date, instead of squashing the bars', async () => {
    const timeline = sample({ deadline: Date.parse('2027-06-01T00:00:00Z') })
    const layout = timelineLayout(timeline)
    expect(layout.deadlineX).toBeNull()
    // the bars still fill the plot: 09:00 → 10:10 spans most of it
    expect(layout.xOf(min(70)) - layout.xOf(min(0))).toBeGreaterThan((layout.plotRight - layout.plotLeft) * 0.9)
    const svg = renderTimelineSvg(timeline)
    expect(svg).toContain('deadline 2027-06-01 00:00 (off the chart) →')
    const raster = await rasterizeSvg(svg)
    expect(columnsOf(raster, layout.rowCenterY(0), DEADLINE_COLOR)).toEqual([])
  })

  it('escapes hostile names and reasons: the SVG is well-formed XML and the text reads back as written', () => {
    const svg = renderTimelineSvg(sample())
    expect(XMLValidator.validate(svg)).toBe(true)
    expect(svg).not.toContain('<script')
    const parsed = new XMLParser({ ignoreAttributes: false, processEntities: true, htmlEntities: true }).parse(svg)
    const texts: string[] = []
    const collect = (node: unknown): void => {
      if (typeof node === 'string') texts.push(node)
      else if (Array.isArray(node)) node.forEach(collect)
      else if (node && typeof node === 'object') Object.values(node).forEach(collect)
    }
    collect(parsed)
    // control characters and the lone surrogate became U+FFFD; everything else survived as text
    expect(texts.some((t) => t.includes('<script>alert("x")</script> & \' \uFFFD\uFFFD \uFFFD ]]> <!--'))).toBe(true)
  })

  it('renders an empty timeline and one with a single instant without dividing by zero', async () => {
    for (const rows of [[], [sample().rows[0]]] as const) {
      const svg = renderTimelineSvg(sample({ rows: rows as Timeline['rows'], deadline: null, now: min(0) }))
      expect(XMLValidator.validate(svg)).toBe(true)
      expect(svg).not.toMatch(/NaN|Infinity/)
      await rasterizeSvg(svg)
    }
  })
})

describe('timelineOf', () => {
  it('draws a row per task, or per stage when there are more than 60 tasks', () => {
    const report = reportWithTasks(61)
    expect(timelineOf(report).rows.map((r) => r.label)).toEqual(['prep', 'sweep ×60'])
    expect(timelineOf(report, 'task').rows).toHaveLength(61)
    expect(timelineOf(reportWithTasks(60)).rows).toHaveLength(60)
    const stage = timelineOf(report).rows[1]
    expect(stage).toMatchObject({ kind: 'bar', state: 'running', emphasis: true })
    // the running stage: actual from its first start to now, then projected to its projected end
    expect(stage).toMatchObject({
      actual: { start: min(10), end: min(50) },
      projected: { start: min(50), end: min(90) },
    })
  })
})
