/**
 * CSV as RFC 4180 writes it: fields separated by commas, records by line ends, a field quoted (with its
 * double quotes doubled) when it holds a comma, a double quote, CR or LF, or leading/trailing space.
 * Numbers are written as JavaScript prints them; null and undefined are empty fields. Pure.
 */

export type CsvValue = string | number | boolean | null | undefined

export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return ''
  const text = typeof value === 'number' && !Number.isFinite(value) ? '' : String(value)
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/**
 * A header line and one line per row, each ended by `eol`: CRLF as RFC 4180 has it, or LF where the
 * text goes through the CLI's terminal filter, which shows a CR as an escape (a CR could overwrite
 * what a terminal shows); CSV readers take either.
 */
export function toCsv(headers: readonly string[], rows: readonly (readonly CsvValue[])[], eol = '\r\n'): string {
  return [headers, ...rows].map((row) => `${row.map(csvField).join(',')}${eol}`).join('')
}
