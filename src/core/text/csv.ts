/**
 * CSV as RFC 4180 writes it: fields separated by commas, records by CRLF, a field quoted (with its
 * double quotes doubled) when it holds a comma, a double quote, CR or LF, or leading/trailing space.
 * Numbers are written as JavaScript prints them; null and undefined are empty fields. Pure.
 */

export type CsvValue = string | number | boolean | null | undefined

export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return ''
  const text = typeof value === 'number' && !Number.isFinite(value) ? '' : String(value)
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/** A header line and one line per row, each ended by CRLF. */
export function toCsv(headers: readonly string[], rows: readonly (readonly CsvValue[])[]): string {
  return [headers, ...rows].map((row) => `${row.map(csvField).join(',')}\r\n`).join('')
}
