/**
 * Reading YAML/JSON documents (pipelines and configs) and turning zod issues into located, actionable
 * messages: file, line:column, dotted path, what was expected and what was found, and a did-you-mean
 * for misspelled keys. JSON is parsed by the YAML parser too, so both get line numbers.
 */
import { readFileSync, statSync } from 'node:fs'
import type { z } from 'zod'
import { RpoError, SpecError, type SpecIssue } from '../core/errors.js'
import { suggest } from '../core/text/suggest.js'
import { type LoadedDocument, parseDocumentText } from './parse-document.js'

export { type LoadedDocument, parseDocumentText } from './parse-document.js'

/**
 * Larger files are refused before they are read: a 100,000-task pipeline is a few MB, and the YAML
 * parser exhausts memory on a 50 MB file of deeply nested block collections.
 */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024

export function readDocumentFile(file: string, kind: 'spec' | 'config'): LoadedDocument {
  let text: string
  try {
    const stat = statSync(file)
    // a device such as /dev/zero never ends; pipes (<(...), /dev/stdin) are read as they come
    if (stat.isCharacterDevice() || stat.isBlockDevice() || stat.isSocket()) {
      throw new SpecError(kind === 'spec' ? 'spec-invalid' : 'config-invalid', [
        { file, path: '', message: 'not a regular file' },
      ])
    }
    if (stat.size > MAX_DOCUMENT_BYTES) {
      throw new SpecError(kind === 'spec' ? 'spec-invalid' : 'config-invalid', [
        {
          file,
          path: '',
          message: `${stat.size} bytes is too large: at most ${MAX_DOCUMENT_BYTES} (16 MiB); split the pipeline`,
        },
      ])
    }
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if (error instanceof SpecError) throw error
    const code = (error as NodeJS.ErrnoException).code
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(error)
    throw new RpoError(kind === 'spec' ? 'spec-not-found' : 'config-not-found', `${file}: cannot read: ${reason}`, {
      cause: error,
    })
  }
  return parseDocumentText(file, text)
}

/** Validate a loaded document against a schema; throws one SpecError listing every problem. */
export function validateDocument<S extends z.ZodType>(
  document: LoadedDocument,
  schema: S,
  code: 'spec-invalid' | 'config-invalid',
): z.infer<S> {
  const result = schema.safeParse(document.data, { reportInput: true })
  if (result.success) return result.data
  const issues: SpecIssue[] = []
  for (const issue of result.error.issues) collectIssues(schema, issue as ZodIssueLike, [], issues, document)
  throw new SpecError(code, dedupe(issues))
}

interface ZodIssueLike {
  code: string
  path: PropertyKey[]
  message: string
  input?: unknown
  expected?: string
  keys?: string[]
  errors?: ZodIssueLike[][]
  values?: unknown[]
  issues?: ZodIssueLike[]
}

function collectIssues(
  schema: z.ZodType,
  issue: ZodIssueLike,
  prefix: PropertyKey[],
  out: SpecIssue[],
  doc: LoadedDocument,
): void {
  const path = [...prefix, ...issue.path]
  if (issue.code === 'invalid_union' && issue.errors && issue.errors.length > 0) {
    const branch = pickUnionBranch(issue.errors)
    if (branch) {
      for (const inner of branch) collectIssues(schema, inner, path, out, doc)
      return
    }
  }
  // a record key that fails its own schema: the key's rule says what names are accepted
  if (issue.code === 'invalid_key' && issue.issues && issue.issues.length > 0) {
    for (const inner of issue.issues) out.push(located(doc, path, `invalid key: ${describeIssue(inner)}`))
    return
  }
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    for (const key of issue.keys) {
      const known = keysAtPath(schema, path)
      const suggestion = suggest(key, known)
      out.push(
        located(doc, [...path, key], `unknown key "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`),
      )
    }
    return
  }
  out.push(located(doc, path, describeIssue(issue)))
}

function located(doc: LoadedDocument, path: PropertyKey[], message: string): SpecIssue {
  const where = doc.locate(path)
  return { file: where ? `${doc.file}:${where}` : doc.file, path: path.map(String).join('.'), message }
}

function describeIssue(issue: ZodIssueLike): string {
  const got = describeValue(issue.input)
  if (issue.code === 'invalid_type' && issue.input === undefined)
    return `required (${issue.message.replace(/^Invalid input: /, '')})`
  if (issue.code === 'invalid_value' && issue.values) {
    return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${got}`
  }
  const message = issue.message.replace(/^Invalid input: /, '')
  return issue.input === undefined || issue.code === 'custom' ? message : `${message}, got ${got}`
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'an object'
  const text = JSON.stringify(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

// a union error lists every branch; the branch that got furthest into the value is the one the user meant
function pickUnionBranch(branches: ZodIssueLike[][]): ZodIssueLike[] | undefined {
  let best: ZodIssueLike[] | undefined
  let bestScore = -1
  for (const branch of branches) {
    const rootTypeMismatch = branch.some((i) => i.code === 'invalid_type' && i.path.length === 0)
    const depth = Math.max(0, ...branch.map((i) => i.path.length))
    const score = (rootTypeMismatch ? 0 : 1000) + depth * 10 - branch.length
    if (score > bestScore) {
      best = branch
      bestScore = score
    }
  }
  return best
}

// zod does not list the accepted keys in an unrecognized_keys issue; walk the schema to find them
function keysAtPath(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let nodes: ZodInternal[] = [schema as unknown as ZodInternal]
  for (const segment of path) nodes = nodes.flatMap((node) => childSchemas(unwrap(node), segment))
  return nodes.flatMap((node) =>
    unwrap(node).flatMap((n) => (n._zod.def.type === 'object' ? Object.keys(n._zod.def.shape ?? {}) : [])),
  )
}

interface ZodInternal {
  _zod: {
    def: {
      type: string
      shape?: Record<string, ZodInternal>
      innerType?: ZodInternal
      in?: ZodInternal
      valueType?: ZodInternal
      element?: ZodInternal
      options?: ZodInternal[]
      catchall?: ZodInternal
    }
  }
}

function unwrap(node: ZodInternal): ZodInternal[] {
  const def = node._zod.def
  if (def.innerType) return unwrap(def.innerType)
  if (def.type === 'pipe' && def.in) return unwrap(def.in)
  if (def.type === 'union' && def.options) return def.options.flatMap(unwrap)
  return [node]
}

function childSchemas(nodes: ZodInternal[], segment: PropertyKey): ZodInternal[] {
  return nodes.flatMap((node) => {
    const def = node._zod.def
    if (def.type === 'object') {
      const child = def.shape?.[String(segment)] ?? def.catchall
      return child ? [child] : []
    }
    if (def.type === 'record' && def.valueType) return [def.valueType]
    if (def.type === 'array' && def.element) return [def.element]
    return []
  })
}

function dedupe(issues: SpecIssue[]): SpecIssue[] {
  const seen = new Set<string>()
  return issues.filter((issue) => {
    const key = `${issue.file}|${issue.path}|${issue.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
