/**
 * Text from users (task names, reasons, project names) made safe inside SVG and HTML: the five
 * markup characters escaped, and the characters XML 1.0 cannot carry at all (control characters,
 * lone surrogates, U+FFFE/U+FFFF — not even as references) replaced with U+FFFD, so one hostile
 * reason can neither inject markup nor make the document unparsable. Pure.
 */

const MARKUP: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

// XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu

/** `text` as XML character data or an attribute value (either quote style). */
export function xmlText(text: string): string {
  return text.replace(NOT_XML_CHAR, '\uFFFD').replace(/[&<>"']/g, (c) => MARKUP[c] as string)
}

/** At most `maxChars` characters (code points, so a pair is never split), with … when cut. */
export function clipText(text: string, maxChars: number): string {
  const chars = Array.from(text)
  return chars.length <= maxChars ? text : `${chars.slice(0, Math.max(1, maxChars - 1)).join('')}…`
}
