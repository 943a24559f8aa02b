/**
 * `sinfo --noheader --Node --format=<SINFO_FORMAT>` → the cluster inventory, one `InventoryNode` per
 * node. With --Node sinfo prints a node once per partition it belongs to; those lines are merged.
 * https://slurm.schedmd.com/sinfo.html
 */
import { ParseError } from '../../src/core/errors.js'
import type { InventoryNode } from '../../src/scheduler/scheduler-adapter.js'
import { type DelimitedRow, splitDelimitedRows, withCellContext } from './delimited-output.js'

const SOURCE = 'sinfo'

// https://slurm.schedmd.com/sinfo.html#OPT_format
/** The sinfo `--format` %-codes rpo knows, by the field each one fills. */
export const SINFO_FORMAT_CODES = {
  name: '%N',
  hostname: '%n',
  partition: '%P',
  cpus: '%c',
  memoryMb: '%m',
  gres: '%G',
  state: '%T',
  features: '%f',
  cpusState: '%C',
} as const

/** A sinfo column; `ignore` skips a column that rpo does not read (for captured outputs). */
export type SinfoColumn = keyof typeof SINFO_FORMAT_CODES | 'ignore'

/** The columns rpo asks sinfo for, in order. */
export const SINFO_COLUMNS = [
  'name',
  'partition',
  'cpus',
  'memoryMb',
  'gres',
  'state',
  'features',
] as const satisfies readonly SinfoColumn[]

/** The ASCII unit separator: it cannot occur in a GRES list, feature list or state. */
export const SINFO_DELIMITER = '\u001f'

/** The `--format` value for `columns`. */
export function buildSinfoFormat(
  columns: readonly Exclude<SinfoColumn, 'ignore'>[] = SINFO_COLUMNS,
  delimiter: string = SINFO_DELIMITER,
): string {
  return columns.map((column) => SINFO_FORMAT_CODES[column]).join(delimiter)
}

export interface SinfoParseOptions {
  /** @default SINFO_DELIMITER; a RegExp such as /\s+/ for fixed-width `--Format` output */
  readonly delimiter?: string | RegExp
}

const NO_VALUE = new Set(['', 'N/A', '(null)'])

/**
 * Parse per-node sinfo output into inventory nodes, in order of first appearance. A node listed in
 * several partitions becomes one node with all of them (the default partition's `*` marker dropped).
 * Missing columns give 0 CPUs / 0 MB / no GPUs / no partitions / state `unknown`.
 * @throws ParseError with the offending line for a wrong column count or a malformed number or GRES.
 */
export function parseSinfoNodes(
  stdout: string,
  columns: readonly SinfoColumn[] = SINFO_COLUMNS,
  options: SinfoParseOptions = {},
): InventoryNode[] {
  if (!columns.includes('name') && !columns.includes('hostname')) {
    throw new ParseError(SOURCE, 'the column list has no node name column', columns.join(','))
  }
  const rows = splitDelimitedRows(stdout, SOURCE, options.delimiter ?? SINFO_DELIMITER, columns.length)
  const nodes = new Map<string, { node: InventoryNode; partitions: string[] }>()
  for (const row of rows) {
    const parsed = parseRow(row, columns)
    const seen = nodes.get(parsed.name)
    if (seen === undefined) {
      nodes.set(parsed.name, { node: parsed, partitions: [...parsed.partitions] })
    } else {
      for (const partition of parsed.partitions) {
        if (!seen.partitions.includes(partition)) seen.partitions.push(partition)
      }
    }
  }
  return [...nodes.values()].map(({ node, partitions }) => ({ ...node, partitions }))
}

function parseRow(row: DelimitedRow, columns: readonly SinfoColumn[]): InventoryNode {
  const cells = new Map<SinfoColumn, string>()
  columns.forEach((column, index) => {
    if (column !== 'ignore') cells.set(column, (row.cells[index] ?? '').trim())
  })
  const text = (column: SinfoColumn): string | null => {
    const value = cells.get(column)
    return value === undefined || NO_VALUE.has(value) ? null : value
  }
  const typed = <T>(column: SinfoColumn, parse: (value: string) => T): T | null => {
    const value = text(column)
    return value === null ? null : withCellContext(SOURCE, row, column, () => parse(value))
  }
  const name = text('name') ?? text('hostname')
  if (name === null || /[\s,[\]]/.test(name)) {
    throw new ParseError(SOURCE, `line ${row.lineNumber}: not a single node name (use --Node)`, row.line)
  }
  // the default partition is printed with a trailing '*'
  const partition = text('partition')?.replace(/\*$/, '') ?? null
  return {
    name,
    cpus: typed('cpus', parseCount) ?? 0,
    memoryMb: typed('memoryMb', parseCount) ?? 0,
    gpus: typed('gres', parseGresGpus) ?? [],
    partitions: partition === null ? [] : [partition],
    state: text('state') ?? 'unknown',
    // placement offers `--constraint=a100|v100` only where the GPU types are node features
    ...(cells.has('features')
      ? {
          features:
            text('features')
              ?.split(',')
              .filter((f) => f !== '') ?? [],
        }
      : {}),
  }
}

function parseCount(text: string): number {
  if (!/^\d+$/.test(text)) throw new ParseError(SOURCE, 'not a whole number', text)
  return Number(text)
}

const GRES_ENTRY = /^([A-Za-z0-9_.-]+)(?::([^:()]+))?(?::([^:()]+))?:(\d+)(?:\([^)]*\))?$/

/**
 * The GPUs in a node's GRES list, summed per type: `gpu:a100:4(S:0-3),nsight:no_consume:1` →
 * `[{ type: 'a100', count: 4 }]`. An untyped `gpu:4` or `gpu:(null):2` has type `''` (any type).
 * Other GRES (licences, file systems, `no_consume` markers) are ignored.
 * @returns [] for `(null)` or empty.
 * @throws ParseError for an entry that is not `name[:type][:flags]:count[(…)]`.
 */
export function parseGresGpus(text: string): { type: string; count: number }[] {
  const trimmed = text.trim()
  if (NO_VALUE.has(trimmed)) return []
  const counts = new Map<string, number>()
  for (const entry of splitGres(trimmed)) {
    // `gpu:(null):2` is how 22.05+ spells an untyped GPU in GresUsed
    const match = GRES_ENTRY.exec(entry.replace(':(null):', ':'))
    if (match === null) throw new ParseError(SOURCE, 'not a GRES entry (name[:type]:count)', entry)
    const [, name, first, second, count] = match
    if (name !== 'gpu') continue
    const type = first === undefined || first === 'no_consume' ? '' : first
    if (second !== undefined && second !== 'no_consume') {
      throw new ParseError(SOURCE, 'not a GRES entry (name[:type]:count)', entry)
    }
    counts.set(type, (counts.get(type) ?? 0) + Number(count))
  }
  return [...counts].map(([type, count]) => ({ type, count }))
}

// commas inside "(S:2,4,7)" socket lists do not separate entries
function splitGres(text: string): string[] {
  const entries: string[] = []
  let depth = 0
  let start = 0
  for (let index = 0; index < text.length; index++) {
    const char = text[index]
    if (char === '(') depth++
    else if (char === ')') depth = Math.max(0, depth - 1)
    else if (char === ',' && depth === 0) {
      entries.push(text.slice(start, index))
      start = index + 1
    }
  }
  entries.push(text.slice(start))
  return entries
}

/**
 * The Slurm version from `sinfo --version` (`slurm 23.11.4`, `slurm-wlm 20.11.4`).
 * @throws ParseError when the output does not name a version.
 */
export function parseSlurmVersion(stdout: string): string {
  const match = /^slurm(?:-wlm)?\s+(\d+\.\d+\.\d+\S*)\s*$/.exec(stdout.trim())
  if (match?.[1] === undefined) throw new ParseError(SOURCE, 'not a `sinfo --version` answer', stdout)
  return match[1]
}
