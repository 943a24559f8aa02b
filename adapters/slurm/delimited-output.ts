/**
 * The line/column split shared by the sacct, squeue and sinfo parsers: one record per line, a fixed
 * number of columns, and a `ParseError` that points at the line instead of a shifted record.
 */
import { ParseError } from '../../src/core/errors.js'

/** One non-blank output line split into its columns. */
export interface DelimitedRow {
  /** 1-based line number in the command's stdout, for error messages. */
  readonly lineNumber: number
  readonly line: string
  readonly cells: readonly string[]
}

/**
 * Split stdout into rows of exactly `columnCount` cells. Blank lines are skipped and `\r\n` is accepted.
 * One extra empty cell at the end is dropped: `sacct --parsable` (unlike `--parsable2`) ends every
 * line with the delimiter. A RegExp delimiter (for fixed-width output) splits the trimmed line.
 * @throws ParseError naming the line when a row has another number of cells — a value containing the
 *   delimiter would otherwise shift every later column into the wrong field.
 */
export function splitDelimitedRows(
  stdout: string,
  source: string,
  delimiter: string | RegExp,
  columnCount: number,
): DelimitedRow[] {
  const rows: DelimitedRow[] = []
  const lines = stdout.split('\n')
  for (let index = 0; index < lines.length; index++) {
    const line = (lines[index] ?? '').replace(/\r$/, '')
    if (line.trim() === '') continue
    const cells = typeof delimiter === 'string' ? line.split(delimiter) : line.trim().split(delimiter)
    if (cells.length === columnCount + 1 && cells[cells.length - 1] === '') cells.pop()
    if (cells.length !== columnCount) {
      throw new ParseError(source, `line ${index + 1}: expected ${columnCount} columns, found ${cells.length}`, line)
    }
    rows.push({ lineNumber: index + 1, line, cells })
  }
  return rows
}

/** True when a row's cells are the given column names (case-insensitive): a header line to skip. */
export function isHeaderRow(row: DelimitedRow, names: readonly string[]): boolean {
  return row.cells.every((cell, index) => cell.trim().toLowerCase() === names[index]?.toLowerCase())
}

/**
 * Run a field parser and re-throw its `ParseError` with the line and column it came from, so the
 * message says where the bad value is instead of only what it is.
 */
export function withCellContext<T>(source: string, row: DelimitedRow, column: string, parse: () => T): T {
  try {
    return parse()
  } catch (error) {
    if (error instanceof ParseError) {
      const inner = error.message.startsWith(`${error.source}: `)
        ? error.message.slice(error.source.length + 2)
        : error.message
      throw new ParseError(source, `line ${row.lineNumber}, ${column}: ${inner}`, row.line)
    }
    throw error
  }
}
