/**
 * Reading YAML/JSON text into a plain value, with every way the text itself can be wrong reported as
 * a located spec-unparsable error: syntax, duplicate keys, aliases to no anchor, alias bombs, JSON
 * that only YAML would accept. Also where each value starts, so validation problems get a line.
 */
import { type Document, isAlias, isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml'
import { SpecError } from '../core/errors.js'

export interface LoadedDocument {
  readonly file: string
  readonly data: unknown
  /** `line:column` of the value at a path, when known. */
  locate(path: readonly PropertyKey[]): string | null
}

export function parseDocumentText(file: string, text: string): LoadedDocument {
  // YAML accepts what JSON does not (trailing commas, comments): a .json file must be strict JSON
  if (file.toLowerCase().endsWith('.json')) checkStrictJson(file, text)
  const lineCounter = new LineCounter()
  // uniqueKeys is checked below in one pass: the parser's own check compares every key of a map
  // with every other one, which takes minutes for a pipeline of 50,000 tasks
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false })
  const at = (offset: number) => {
    const pos = lineCounter.linePos(offset)
    return `${file}:${pos.line}:${pos.col}`
  }
  const unparsable = (problems: readonly { offset: number; message: string }[]) => {
    // after the first syntax error the parser's later complaints are mostly echoes of it
    const shown = problems.slice(0, 3)
    const more = problems.length - shown.length
    return new SpecError(
      'spec-unparsable',
      shown.map((problem, i) => ({
        file: at(problem.offset),
        path: '',
        message: `not valid YAML/JSON: ${problem.message}${i === shown.length - 1 && more > 0 ? ` (and ${more} more problem(s) after it)` : ''}`,
      })),
    )
  }
  if (doc.errors.length > 0) {
    throw unparsable(
      doc.errors.map((error) => ({
        offset: error.pos[0],
        // the parser recurses per level of flow nesting ([[[…) and reports its own stack overflow
        message: /call stack/i.test(error.message)
          ? 'nested too deeply for the YAML parser to follow; no pipeline or config needs that'
          : (error.message.split('\n')[0] ?? ''),
      })),
    )
  }
  const structural = structuralProblems(doc)
  if (structural.problems.length > 0) throw unparsable(structural.problems)
  if (structural.nulStrings.length > 0) {
    // no command line, environment variable or file name can carry one: refuse it where it is
    throw new SpecError(
      'spec-invalid',
      structural.nulStrings.map((offset) => ({
        file: at(offset),
        path: '',
        message: 'a NUL character (\\0) is not allowed in a value: no command, variable or file name can carry it',
      })),
    )
  }
  if (structural.reservedKeys.length > 0) {
    // zod builds its output by assignment, so a "__proto__" key would set a prototype instead of
    // being read: a matrix axis, an env var or a task would vanish without a word
    throw new SpecError(
      'spec-invalid',
      structural.reservedKeys.map((offset) => ({
        file: at(offset),
        path: '',
        message: 'the key "__proto__" is not allowed (JavaScript would read it as the object\'s prototype)',
      })),
    )
  }
  let data: unknown
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown
  } catch (error) {
    // the parser refuses an alias bomb only while building the value, without a position
    const message = error instanceof Error ? error.message : String(error)
    throw unparsable([
      {
        offset: structural.firstAlias ?? 0,
        message: /alias/i.test(message)
          ? `aliases expand to too many copies (more than ${MAX_ALIAS_COUNT} of one anchor's content): a YAML alias bomb?`
          : (message.split('\n')[0] ?? ''),
      },
    ])
  }
  const ranges = lazyRangeIndex(doc)
  return {
    file,
    data,
    locate(path) {
      const key = pathKey(path)
      const start = ranges().get(key)
      if (start !== undefined) return position(lineCounter, start)
      if (path.length === 0) return null
      // a missing key: point at the parent map instead
      const parent = ranges().get(pathKey(path.slice(0, -1)))
      return parent === undefined ? null : position(lineCounter, parent)
    },
  }
}

/** How deep maps and lists may nest; rpo's own schemas need fewer than 10 levels. */
const MAX_NESTING = 200

/** How many copies of one anchor's content its aliases may make (the `yaml` parser's default). */
const MAX_ALIAS_COUNT = 100

function position(lineCounter: LineCounter, offset: number): string {
  const p = lineCounter.linePos(offset)
  return `${p.line}:${p.col}`
}

function pathKey(path: readonly PropertyKey[]): string {
  return JSON.stringify(path.map(String))
}

/**
 * Duplicate keys (as JavaScript would see them: `1` and `"1"` are one key) and aliases to anchors
 * not defined before them, found in one walk; also "__proto__" keys, and where the first alias is,
 * for the alias-bomb message.
 * Iterative, so a deeply nested file cannot overflow the stack here.
 */
function structuralProblems(doc: Document): {
  problems: { offset: number; message: string }[]
  reservedKeys: number[]
  nulStrings: number[]
  firstAlias: number | undefined
} {
  const problems: { offset: number; message: string }[] = []
  const reservedKeys: number[] = []
  const nulStrings: number[] = []
  const anchors = new Set<string>()
  let firstAlias: number | undefined
  let tooDeep = false
  const stack: { node: unknown; depth: number }[] = [{ node: doc.contents, depth: 0 }]
  while (stack.length > 0) {
    const { node, depth } = stack.pop() as { node: unknown; depth: number }
    if (!isNode(node) && !isPair(node)) continue
    if (depth > MAX_NESTING && !tooDeep) {
      // building the value recurses once per level: a file nested 100,000 deep overflows the stack
      tooDeep = true
      problems.push({
        offset: (isNode(node) ? node.range?.[0] : undefined) ?? 0,
        message: `nested more than ${MAX_NESTING} levels deep; no pipeline or config needs that`,
      })
      continue
    }
    if (isNode(node) && node.anchor) anchors.add(node.anchor)
    if (isScalar(node)) {
      if (typeof node.value === 'string' && node.value.includes('\0')) nulStrings.push(node.range?.[0] ?? 0)
    } else if (isAlias(node)) {
      firstAlias ??= node.range?.[0]
      if (!anchors.has(node.source)) {
        problems.push({
          offset: node.range?.[0] ?? 0,
          message: `alias *${node.source} refers to no anchor &${node.source} defined before it`,
        })
      }
    } else if (isMap(node)) {
      const seen = new Set<string>()
      for (const pair of node.items) {
        if (isScalar(pair.key)) {
          const key = String(pair.key.value)
          if (seen.has(key)) problems.push({ offset: pair.key.range?.[0] ?? 0, message: 'Map keys must be unique' })
          if (key === '__proto__') reservedKeys.push(pair.key.range?.[0] ?? 0)
          seen.add(key)
        }
      }
      // pushed in reverse so the walk (and the anchors it sees) follows the document's order
      for (let i = node.items.length - 1; i >= 0; i--) stack.push({ node: node.items[i], depth: depth + 1 })
    } else if (isSeq(node)) {
      for (let i = node.items.length - 1; i >= 0; i--) stack.push({ node: node.items[i], depth: depth + 1 })
    } else if (isPair(node)) {
      stack.push({ node: node.value, depth }, { node: node.key, depth })
    }
  }
  problems.sort((a, b) => a.offset - b.offset)
  return { problems, reservedKeys, nulStrings, firstAlias }
}

/**
 * Where each value starts, by its path; built on the first lookup, in one walk. `doc.getIn` scans a
 * map's keys one by one, so locating every problem of a large file that way is quadratic.
 */
function lazyRangeIndex(doc: Document): () => ReadonlyMap<string, number> {
  let index: Map<string, number> | undefined
  return () => {
    if (index) return index
    index = new Map()
    const stack: { node: unknown; path: string[] }[] = [{ node: doc.contents, path: [] }]
    while (stack.length > 0) {
      const { node, path } = stack.pop() as { node: unknown; path: string[] }
      if (!isNode(node)) continue
      const start = node.range?.[0]
      const key = pathKey(path)
      if (start !== undefined && !index.has(key)) index.set(key, start)
      if (isMap(node)) {
        for (const pair of node.items) {
          const name = isScalar(pair.key) ? String(pair.key.value) : String(pair.key)
          stack.push({ node: pair.value, path: [...path, name] })
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => {
          stack.push({ node: item, path: [...path, String(i)] })
        })
      }
    }
    return index
  }
}

function checkStrictJson(file: string, text: string): void {
  try {
    JSON.parse(text)
  } catch (error) {
    const message = (error as Error).message
    const position = /position (\d+)/.exec(message)
    let where = file
    if (position) {
      const before = text.slice(0, Number(position[1]))
      const line = before.split('\n').length
      where = `${file}:${line}:${before.length - before.lastIndexOf('\n')}`
    }
    throw new SpecError('spec-unparsable', [
      { file: where, path: '', message: `not valid YAML/JSON: ${message.replace(/ in JSON at position \d+.*/, '')}` },
    ])
  }
}
