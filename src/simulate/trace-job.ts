/**
 * One job of a replayed trace, in the units the replay uses whatever the trace's format, and the
 * located error a bad row of any trace format raises (file:line, column).
 */
import { RpoError } from '../core/errors.js'

export interface TraceJob {
  /** The trace's own id (pod name, app id): unique within the trace. */
  readonly id: string
  /** Seconds from the trace's start. */
  readonly submitSeconds: number
  /** How long it ran (> 0), seconds. */
  readonly durationSeconds: number
  /** Whole GPUs it asks for (0: a CPU job). */
  readonly gpus: number
  /** The GPU type it needs, or null for any. */
  readonly gpuType: string | null
  /** Whole CPUs (≥ 1) and MB of memory for the whole job. */
  readonly cpus: number
  readonly memoryMb: number
  /** Who the GPU-hours, fair share and budget are counted for. */
  readonly project: string
  /** 1-based line in the trace file: where to look when its figures surprise. */
  readonly line: number
}

/** A row of a trace that cannot be read: names the file, line and column, and what was wrong. */
export class TraceRowError extends RpoError {
  readonly file: string
  readonly line: number
  readonly column: string | null

  constructor(file: string, line: number, column: string | null, problem: string) {
    super('spec-invalid', `${file}:${line}${column === null ? '' : ` (column ${column})`}: ${problem}`)
    this.name = 'TraceRowError'
    this.file = file
    this.line = line
    this.column = column
  }
}

/** The fields of one CSV line (these traces quote nothing), checked against the header's width. */
export function splitRow(text: string, header: readonly string[], file: string, line: number): string[] {
  const fields = text.split(',')
  if (fields.length !== header.length) {
    throw new TraceRowError(file, line, null, `has ${fields.length} fields, the header has ${header.length}`)
  }
  return fields
}

/** Check a header names the columns a format needs; returns each column's position. */
export function headerIndex(
  text: string,
  required: readonly string[],
  file: string,
  format: string,
): Map<string, number> {
  const names = text
    .replace(/^\uFEFF/, '')
    .trim()
    .split(',')
  const index = new Map(names.map((name, i) => [name, i]))
  const missing = required.filter((name) => !index.has(name))
  if (missing.length > 0) {
    throw new TraceRowError(file, 1, null, `not a ${format} header: missing column(s) ${missing.join(', ')}`)
  }
  return index
}

/** A number read from a column; `integer` refuses fractions, and values below `min` are refused. */
export function readNumber(
  fields: readonly string[],
  index: ReadonlyMap<string, number>,
  column: string,
  where: { file: string; line: number },
  rule: { integer?: boolean; min?: number } = {},
): number {
  const raw = (fields[index.get(column) as number] ?? '').trim()
  const value = raw === '' ? Number.NaN : Number(raw)
  const kind = rule.integer ? 'a whole number' : 'a number'
  if (!Number.isFinite(value) || (rule.integer && !Number.isInteger(value))) {
    throw new TraceRowError(where.file, where.line, column, `expected ${kind}, got ${JSON.stringify(raw)}`)
  }
  if (rule.min !== undefined && value < rule.min) {
    throw new TraceRowError(where.file, where.line, column, `expected ${kind} ≥ ${rule.min}, got ${raw}`)
  }
  return value
}
