/**
 * The timeline picture of `rpo report --svg/--html`: one row per task (or stage), a light bar for
 * when it was expected to run, over it a bar for when it actually ran (start → end, or → now while
 * it runs) in its state's color, a dashed bar for what is projected still to come, a red deadline
 * line, a "now" line, a UTC time axis with ticks, and a legend. Pure: a `Timeline` in, an SVG
 * string out; every piece of text goes through `xmlText`.
 *
 * The time domain covers the bars; the deadline and now are drawn inside it when they fall within
 * half the bars' span of it, and otherwise as a marker at the edge with their date, so a deadline a
 * year away does not squash a one-hour run into a sliver. `timelineLayout` is exported so tests can
 * find a time's pixel column.
 */
import type { RowState } from '../monitor/timing-report.js'
import { clipText, xmlText } from './xml-text.js'

/** ms since the epoch. */
export interface TimelineSpan {
  readonly start: number
  readonly end: number
}

export interface TimelineBarRow {
  readonly kind: 'bar'
  readonly label: string
  readonly state: RowState
  /** Planned from the run's creation. */
  readonly expected: TimelineSpan | null
  /** Start → end, or start → now while it runs. */
  readonly actual: TimelineSpan | null
  /** What is still to come: now → projected end while it runs, projected start → end before. */
  readonly projected: TimelineSpan | null
  /** The bottleneck: its label is bold and tagged. */
  readonly emphasis: boolean
  /** Shown on hover (an SVG <title>). */
  readonly detail: string
}

export interface TimelineGroupRow {
  readonly kind: 'group'
  readonly label: string
}

export type TimelineRow = TimelineBarRow | TimelineGroupRow

export interface Timeline {
  readonly title: string
  readonly subtitle: string
  readonly rows: readonly TimelineRow[]
  readonly now: number
  readonly deadline: number | null
}

export const STATE_COLORS: Readonly<Record<RowState, string>> = {
  succeeded: '#2e7d32',
  running: '#1e88e5',
  queued: '#f9a825',
  retry_wait: '#ef6c00',
  pending: '#90a4ae',
  failed: '#d32f2f',
  upstream_failed: '#e57373',
  cancelled: '#616161',
  skipped: '#bdbdbd',
}
export const EXPECTED_COLOR = '#cfd8dc'
export const DEADLINE_COLOR = '#c62828'
export const NOW_COLOR = '#37474f'

const WIDTH = 1100
const ROW_HEIGHT = 22
const ROWS_TOP = 112
const RIGHT_MARGIN = 36
const LABEL_CHARS = 40
/** The narrowest time axis: a run of a few seconds still gets readable ticks. */
const MIN_DOMAIN_MS = 10_000
const CHAR_WIDTH = 7

export interface TimelineLayout {
  readonly width: number
  readonly height: number
  readonly plotLeft: number
  readonly plotRight: number
  readonly rowsTop: number
  readonly rowsBottom: number
  readonly domain: TimelineSpan
  /** Pixel column of a time (may fall outside the plot for times outside the domain). */
  readonly xOf: (ms: number) => number
  readonly rowCenterY: (index: number) => number
  /** Whole-pixel columns of the lines; null when drawn as an edge marker instead. */
  readonly deadlineX: number | null
  readonly nowX: number | null
}

export function timelineLayout(timeline: Timeline): TimelineLayout {
  const longest = timeline.rows.reduce((n, r) => Math.max(n, Math.min(LABEL_CHARS, Array.from(r.label).length)), 4)
  const plotLeft = Math.round(Math.min(340, Math.max(90, longest * CHAR_WIDTH + 30)))
  const plotRight = WIDTH - RIGHT_MARGIN
  const rowsBottom = ROWS_TOP + Math.max(1, timeline.rows.length) * ROW_HEIGHT
  const domain = domainOf(timeline)
  const scale = (plotRight - plotLeft) / (domain.end - domain.start)
  const xOf = (ms: number) => plotLeft + (ms - domain.start) * scale
  const inside = (ms: number | null) =>
    ms !== null && ms >= domain.start && ms <= domain.end ? Math.round(xOf(ms)) : null
  return {
    width: WIDTH,
    height: rowsBottom + 48,
    plotLeft,
    plotRight,
    rowsTop: ROWS_TOP,
    rowsBottom,
    domain,
    xOf,
    rowCenterY: (index) => ROWS_TOP + index * ROW_HEIGHT + ROW_HEIGHT / 2,
    deadlineX: inside(timeline.deadline),
    nowX: inside(timeline.now),
  }
}

export function renderTimelineSvg(timeline: Timeline): string {
  const layout = timelineLayout(timeline)
  const { width, height, plotLeft, plotRight, rowsTop, rowsBottom } = layout
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="26" font-size="16" font-weight="bold" fill="#263238">${xmlText(clipText(timeline.title, 120))}</text>`,
    `<text x="16" y="46" fill="#455a64">${xmlText(clipText(timeline.subtitle, 170))}</text>`,
    legend(16, 70),
  ]
  // zebra bands first, so gridlines and bars lie on them
  timeline.rows.forEach((row, i) => {
    const y = rowsTop + i * ROW_HEIGHT
    if (row.kind === 'group')
      parts.push(`<rect x="0" y="${y}" width="${width}" height="${ROW_HEIGHT}" fill="#eceff1"/>`)
    else if (i % 2 === 1) parts.push(`<rect x="0" y="${y}" width="${width}" height="${ROW_HEIGHT}" fill="#f7f9fa"/>`)
  })
  parts.push(axis(layout))
  timeline.rows.forEach((row, i) => {
    parts.push(row.kind === 'group' ? groupRow(row, layout, i) : barRow(row, layout, i))
  })
  if (timeline.rows.length === 0) parts.push(`<text x="${plotLeft}" y="${rowsTop + 15}" fill="#78909c">no tasks</text>`)
  parts.push(
    marker(layout, timeline.deadline, layout.deadlineX, 'deadline', DEADLINE_COLOR, rowsBottom + 16, 2),
    marker(layout, timeline.now, layout.nowX, 'now', NOW_COLOR, rowsBottom + 32, 1.5),
    `<line x1="${plotLeft}" y1="${rowsBottom}" x2="${plotRight}" y2="${rowsBottom}" stroke="#b0bec5"/>`,
    '</svg>',
  )
  return parts.join('\n')
}

function legend(x0: number, y: number): string {
  const items: string[] = []
  let x = x0
  const swatch = (fill: string, label: string, extra = '', h = 8) => {
    items.push(
      `<rect x="${x}" y="${y - 4 - h / 2}" width="22" height="${h}" rx="1.5" fill="${fill}" ${extra}/>`,
      `<text x="${x + 28}" y="${y}" fill="#37474f">${label}</text>`,
    )
    x += 36 + label.length * CHAR_WIDTH
  }
  swatch(EXPECTED_COLOR, 'expected', '', 14)
  for (const state of ['succeeded', 'running', 'failed', 'cancelled'] as const) swatch(STATE_COLORS[state], state)
  swatch('#1e88e5', 'projected', 'fill-opacity="0.15" stroke="#1e88e5" stroke-dasharray="3 2"')
  items.push(
    `<line x1="${x}" y1="${y - 11}" x2="${x}" y2="${y + 3}" stroke="${DEADLINE_COLOR}" stroke-width="2"/>`,
    `<text x="${x + 6}" y="${y}" fill="#37474f">deadline</text>`,
  )
  x += 74
  items.push(
    `<line x1="${x}" y1="${y - 11}" x2="${x}" y2="${y + 3}" stroke="${NOW_COLOR}" stroke-width="1.5" stroke-dasharray="4 3"/>`,
    `<text x="${x + 6}" y="${y}" fill="#37474f">now</text>`,
  )
  return items.join('\n')
}

function axis(layout: TimelineLayout): string {
  const { domain, xOf, rowsTop, rowsBottom, plotLeft } = layout
  const step = tickStep(domain.end - domain.start)
  const multiDay = new Date(domain.start).toISOString().slice(0, 10) !== new Date(domain.end).toISOString().slice(0, 10)
  const out = [`<text x="${plotLeft - 36}" y="${rowsTop - 10}" text-anchor="end" fill="#78909c">UTC</text>`]
  for (let t = Math.ceil(domain.start / step) * step; t <= domain.end; t += step) {
    const x = Math.round(xOf(t)) + 0.5
    out.push(
      `<line x1="${x}" y1="${rowsTop - 4}" x2="${x}" y2="${rowsBottom}" stroke="#e0e6e9"/>`,
      `<text x="${x}" y="${rowsTop - 10}" text-anchor="middle" fill="#546e7a">${tickLabel(t, step, multiDay)}</text>`,
    )
  }
  return out.join('\n')
}

function groupRow(row: TimelineGroupRow, layout: TimelineLayout, index: number): string {
  const y = layout.rowCenterY(index) + 4
  return `<text x="10" y="${y}" font-weight="bold" fill="#263238">${xmlText(clipText(row.label, 150))}</text>`
}

function barRow(row: TimelineBarRow, layout: TimelineLayout, index: number): string {
  const cy = layout.rowCenterY(index)
  const color = STATE_COLORS[row.state]
  const label = xmlText(clipText(row.label, LABEL_CHARS))
  const out = [`<g><title>${xmlText(row.detail)}</title>`]
  out.push(
    `<text x="${layout.plotLeft - 10}" y="${cy + 4}" text-anchor="end" fill="#263238"${row.emphasis ? ' font-weight="bold"' : ''}>${label}</text>`,
  )
  if (row.expected) out.push(bar(layout, row.expected, cy - 7, 14, `fill="${EXPECTED_COLOR}"`))
  if (row.projected)
    out.push(
      bar(
        layout,
        row.projected,
        cy - 4,
        8,
        `fill="${color}" fill-opacity="0.15" stroke="${color}" stroke-width="1" stroke-dasharray="3 2"`,
      ),
    )
  if (row.actual) out.push(bar(layout, row.actual, cy - 4, 8, `fill="${color}"`))
  if (row.emphasis) {
    const ends = [row.expected?.end, row.actual?.end, row.projected?.end].filter((e): e is number => e !== undefined)
    const x = Math.min(layout.plotRight - 60, layout.xOf(Math.max(...ends, layout.domain.start)) + 6)
    out.push(`<text x="${x.toFixed(1)}" y="${cy + 4}" font-size="10" fill="#bf360c">bottleneck</text>`)
  }
  out.push('</g>')
  return out.join('')
}

/** A bar clipped to the plot, at least 2 px wide so a short task still shows. */
function bar(layout: TimelineLayout, span: TimelineSpan, y: number, h: number, style: string): string {
  const x1 = Math.max(layout.plotLeft, layout.xOf(span.start))
  const x2 = Math.min(layout.plotRight, layout.xOf(span.end))
  const w = Math.max(2, x2 - x1)
  return `<rect x="${x1.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${h}" rx="1.5" ${style}/>`
}

/** A vertical line at a time inside the domain, or an arrow at the plot's edge with the time written out. */
function marker(
  layout: TimelineLayout,
  at: number | null,
  x: number | null,
  name: string,
  color: string,
  labelY: number,
  strokeWidth: number,
): string {
  if (at === null) return ''
  const dash = name === 'now' ? ' stroke-dasharray="4 3"' : ''
  const iso = new Date(at).toISOString()
  // the time of day is enough when the chart's axis shows one day; the date otherwise
  const sameDay = iso.slice(0, 10) === new Date(layout.domain.start).toISOString().slice(0, 10)
  const when = sameDay && x !== null ? iso.slice(11, 19) : iso.slice(0, 16).replace('T', ' ')
  if (x !== null) {
    const anchor = x > layout.plotRight - 80 ? 'end' : x < layout.plotLeft + 80 ? 'start' : 'middle'
    return [
      `<line x1="${x}" y1="${layout.rowsTop - 4}" x2="${x}" y2="${layout.rowsBottom + 4}" stroke="${color}" stroke-width="${strokeWidth}"${dash}/>`,
      `<text x="${x}" y="${labelY}" text-anchor="${anchor}" fill="${color}">${name} ${when}</text>`,
    ].join('\n')
  }
  const after = at > layout.domain.end
  const edge = after ? layout.plotRight : layout.plotLeft
  const tip = after ? edge + 8 : edge - 8
  return [
    `<path d="M ${edge} ${labelY - 9} L ${tip} ${labelY - 4} L ${edge} ${labelY + 1} Z" fill="${color}"/>`,
    `<text x="${after ? edge - 4 : edge + 4}" y="${labelY}" text-anchor="${after ? 'end' : 'start'}" fill="${color}">${after ? `${name} ${when} (off the chart) →` : `← ${name} ${when} (off the chart)`}</text>`,
  ].join('\n')
}

function domainOf(timeline: Timeline): TimelineSpan {
  let start = Number.POSITIVE_INFINITY
  let end = Number.NEGATIVE_INFINITY
  for (const row of timeline.rows) {
    if (row.kind !== 'bar') continue
    for (const span of [row.expected, row.actual, row.projected]) {
      if (!span) continue
      start = Math.min(start, span.start)
      end = Math.max(end, span.end)
    }
  }
  if (!Number.isFinite(start)) {
    start = timeline.now - 30 * 60_000
    end = timeline.now
  }
  const span = Math.max(end - start, MIN_DOMAIN_MS)
  for (const at of [timeline.now, timeline.deadline]) {
    if (at === null) continue
    if (at > end && at <= end + span / 2) end = at
    if (at < start && at >= start - span / 2) start = at
  }
  const pad = Math.max((end - start) * 0.02, 1_000)
  return { start: start - pad, end: Math.max(end + pad, start + MIN_DOMAIN_MS) }
}

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const STEPS = [
  SECOND,
  2 * SECOND,
  5 * SECOND,
  10 * SECOND,
  15 * SECOND,
  30 * SECOND,
  MINUTE,
  2 * MINUTE,
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
  14 * DAY,
  30 * DAY,
  90 * DAY,
  365 * DAY,
]

/** The smallest round step that gives at most 8 ticks. */
function tickStep(spanMs: number): number {
  return STEPS.find((s) => spanMs / s <= 8) ?? Math.ceil(spanMs / 8 / (365 * DAY)) * 365 * DAY
}

function tickLabel(ms: number, step: number, multiDay: boolean): string {
  const iso = new Date(ms).toISOString()
  if (step >= DAY) return iso.slice(0, 10)
  const time = step < MINUTE ? iso.slice(11, 19) : iso.slice(11, 16)
  return multiDay ? `${iso.slice(5, 10)} ${time}` : time
}
