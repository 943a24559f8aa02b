/**
 * The JSON reader for `qstat -f -F json` and `pbsnodes -F json`. Valid JSON goes through JSON.parse;
 * output that PBS's own JSON writer broke goes through a tolerant reader that accepts the documented
 * breakages and refuses everything else with a ParseError that names the object path and position.
 *
 * Known breakages (OpenPBS issues/PRs):
 * - invalid escapes `\,` `\'` copied from Variable_List values (openpbs/openpbs#2049): the backslash is
 *   dropped, as the upstream fix does;
 * - unescaped double quotes inside values such as node or job comments (openpbs/openpbs#830): a quote
 *   that is not followed by `,` `:` `}` `]` or a line end is part of the string;
 * - digit strings printed as numbers, `"foo":005` (openpbs/openpbs#1255): kept as the string `005`;
 * - raw control characters (newlines, tabs) inside values, as in BASH_FUNC_ variables
 *   (openpbs/openpbs#2541): kept as they are;
 * - `NaN` / `Infinity`: read as null.
 */
import { ParseError } from '../../src/core/errors.js'

/** A JSON value as read; objects are plain records without prototype surprises (`__proto__` is a key). */
export type PbsJsonValue = string | number | boolean | null | PbsJsonValue[] | { [key: string]: PbsJsonValue }

const MAX_DEPTH = 64

/**
 * Parse `text` as PBS JSON output.
 * @throws ParseError (with `source`) naming the path (`Jobs › 12.srv › comment`), line and column of
 *   the first structural error.
 */
export function parsePbsJson(text: string, source: string): PbsJsonValue {
  try {
    return JSON.parse(text) as PbsJsonValue
  } catch {
    return parsePbsJsonTolerantly(text, source)
  }
}

/**
 * The tolerant reader alone (parsePbsJson uses it when JSON.parse fails). On valid JSON it returns
 * what JSON.parse returns.
 * @throws ParseError as parsePbsJson.
 */
export function parsePbsJsonTolerantly(text: string, source: string): PbsJsonValue {
  return new TolerantJsonReader(text, source).readDocument()
}

/** True for a JSON object (not an array, not null). */
export function isJsonObject(value: PbsJsonValue | undefined): value is { [key: string]: PbsJsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/
const NOT_A_NUMBER = new Set(['NaN', 'nan', 'Infinity', '-Infinity', 'inf', '-inf'])
const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
}

class TolerantJsonReader {
  readonly #text: string
  readonly #source: string
  readonly #path: string[] = []
  #index = 0

  constructor(text: string, source: string) {
    this.#text = text
    this.#source = source
  }

  readDocument(): PbsJsonValue {
    const value = this.#readValue(0)
    this.#skipWhitespace()
    if (this.#index < this.#text.length) this.#fail('unexpected text after the JSON document')
    return value
  }

  #readValue(depth: number): PbsJsonValue {
    if (depth > MAX_DEPTH) this.#fail('nested too deeply')
    this.#skipWhitespace()
    const char = this.#text[this.#index]
    if (char === '{') return this.#readObject(depth)
    if (char === '[') return this.#readArray(depth)
    if (char === '"') return this.#readString()
    return this.#readBareWord()
  }

  #readObject(depth: number): PbsJsonValue {
    this.#index++
    const entries = new Map<string, PbsJsonValue>()
    this.#skipWhitespace()
    if (this.#text[this.#index] === '}') {
      this.#index++
      return {}
    }
    for (;;) {
      this.#skipWhitespace()
      if (this.#text[this.#index] !== '"') this.#fail('expected a quoted property name')
      const key = this.#readString()
      this.#skipWhitespace()
      if (this.#text[this.#index] !== ':') this.#fail(`expected ':' after ${JSON.stringify(key)}`)
      this.#index++
      this.#path.push(key)
      entries.set(key, this.#readValue(depth + 1))
      this.#path.pop()
      this.#skipWhitespace()
      const next = this.#text[this.#index]
      this.#index++
      if (next === '}') break
      if (next !== ',') this.#fail(`expected ',' or '}' after ${JSON.stringify(key)}`, -1)
      // a trailing comma before '}' is tolerated
      this.#skipWhitespace()
      if (this.#text[this.#index] === '}') {
        this.#index++
        break
      }
    }
    // fromEntries defines own properties, so a key named "__proto__" stays a plain key
    return Object.fromEntries(entries)
  }

  #readArray(depth: number): PbsJsonValue {
    this.#index++
    const items: PbsJsonValue[] = []
    this.#skipWhitespace()
    if (this.#text[this.#index] === ']') {
      this.#index++
      return items
    }
    for (;;) {
      this.#path.push(`[${items.length}]`)
      items.push(this.#readValue(depth + 1))
      this.#path.pop()
      this.#skipWhitespace()
      const next = this.#text[this.#index]
      this.#index++
      if (next === ']') return items
      if (next !== ',') this.#fail("expected ',' or ']' in an array", -1)
    }
  }

  #readString(): string {
    const start = this.#index
    this.#index++
    let value = ''
    for (;;) {
      if (this.#index >= this.#text.length) {
        this.#index = start
        this.#fail('unterminated string')
      }
      const char = this.#text[this.#index] as string
      if (char === '\\') {
        const escaped = this.#text[this.#index + 1]
        if (escaped === undefined) {
          this.#index++
          continue
        }
        if (escaped === 'u' && /^[0-9a-fA-F]{4}$/.test(this.#text.slice(this.#index + 2, this.#index + 6))) {
          value += String.fromCharCode(Number.parseInt(this.#text.slice(this.#index + 2, this.#index + 6), 16))
          this.#index += 6
          continue
        }
        // an invalid escape (`\,`, `\'`) means the character itself (openpbs/openpbs#2049)
        value += ESCAPES[escaped] ?? escaped
        this.#index += 2
        continue
      }
      if (char === '"' && this.#endsString()) {
        this.#index++
        return value
      }
      value += char
      this.#index++
    }
  }

  // a quote closes the string only where JSON can continue after a string
  #endsString(): boolean {
    let next = this.#index + 1
    while (this.#text[next] === ' ' || this.#text[next] === '\t') next++
    const after = this.#text[next]
    return (
      after === undefined ||
      after === ',' ||
      after === ':' ||
      after === '}' ||
      after === ']' ||
      after === '\n' ||
      after === '\r'
    )
  }

  #readBareWord(): PbsJsonValue {
    const start = this.#index
    while (this.#index < this.#text.length && !/[\s,:{}[\]"]/.test(this.#text[this.#index] as string)) this.#index++
    const word = this.#text.slice(start, this.#index)
    if (word === 'true') return true
    if (word === 'false') return false
    if (word === 'null' || NOT_A_NUMBER.has(word)) return null
    if (NUMBER.test(word)) return Number(word)
    // a digit string that JSON cannot hold as a number (`005`, openpbs/openpbs#1255): keep the text
    if (/^-?\d+(?:\.\d+)?$/.test(word)) return word
    this.#index = start
    return this.#fail(word === '' ? 'expected a value' : `not a JSON value: ${JSON.stringify(word.slice(0, 40))}`)
  }

  #skipWhitespace(): void {
    while (this.#index < this.#text.length && /\s/.test(this.#text[this.#index] as string)) this.#index++
  }

  #fail(message: string, offset = 0): never {
    const at = Math.max(0, Math.min(this.#text.length, this.#index + offset))
    const before = this.#text.slice(0, at)
    const line = before.split('\n').length
    const column = at - before.lastIndexOf('\n')
    const where = this.#path.length === 0 ? 'top level' : this.#path.join(' › ')
    throw new ParseError(
      this.#source,
      `invalid JSON at line ${line}, column ${column} (${where}): ${message}`,
      this.#text.slice(Math.max(0, at - 60), at + 60),
    )
  }
}
