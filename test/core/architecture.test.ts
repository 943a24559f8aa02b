/**
 * The core is pure (style.md §1): no I/O libraries, no adapters, no clock and no randomness. This
 * test reads every file under src/core and fails on a forbidden import or call. It also walks the
 * import graph of src/ and adapters/ and fails on any circle of modules importing each other.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CORE = path.join(ROOT, 'src/core')
const FORBIDDEN_PACKAGES = ['ssh2', 'pg', 'kysely', 'better-sqlite3', 'node-cron', 'fast-xml-parser']
/** Circles of imports still allowed while another change that breaks them is on its way. */
const KNOWN_CYCLES: readonly string[] = []

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(full)
    return entry.name.endsWith('.ts') ? [full] : []
  })
}

/** Every module specifier of static imports, re-exports, side-effect imports and dynamic imports. */
function importsOf(source: string): string[] {
  const specifiers: string[] = []
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ]
  for (const pattern of patterns) for (const match of source.matchAll(pattern)) specifiers.push(match[1] as string)
  return specifiers
}

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"])\/\/.*$/gm, '$1')
}

/** Problems of one file: forbidden imports and impure calls. */
function impurities(file: string, source: string): string[] {
  const problems: string[] = []
  const relative = path.relative(ROOT, file)
  for (const specifier of importsOf(source)) {
    const bare = !specifier.startsWith('.')
    if (specifier.startsWith('node:')) problems.push(`${relative} imports ${specifier}`)
    else if (FORBIDDEN_PACKAGES.some((p) => specifier === p || specifier.startsWith(`${p}/`))) {
      problems.push(`${relative} imports ${specifier}`)
    } else if (specifier.includes('adapters/')) problems.push(`${relative} imports an adapter (${specifier})`)
    else if (bare && specifier !== 'zod')
      problems.push(`${relative} imports ${specifier} (the core may import only zod)`)
    else if (!bare) {
      const target = path.relative(ROOT, path.resolve(path.dirname(file), specifier)).replace(/\.js$/, '.ts')
      if (!target.startsWith('src/core/')) {
        problems.push(`${relative} imports ${target}, outside the core`)
      }
    }
  }
  const code = stripComments(source)
  for (const [pattern, what] of [
    [/\bDate\.now\s*\(/, 'Date.now()'],
    [/\bMath\.random\s*\(/, 'Math.random()'],
    [/\bnew\s+Date\s*\(\s*\)/, 'new Date()'],
    [/\bperformance\.now\s*\(/, 'performance.now()'],
    [/\bprocess\./, 'process'],
  ] as const) {
    if (pattern.test(code)) problems.push(`${relative} calls ${what}`)
  }
  return problems
}

describe('the pure core', () => {
  const files = sourceFiles(CORE)

  it('finds the core files', () => {
    expect(files.length).toBeGreaterThanOrEqual(10)
    expect(files.map((f) => path.relative(ROOT, f))).toContain('src/core/scheduling/plan-tick.ts')
  })

  it('imports only zod and core files; never calls the clock or random', () => {
    const problems = files.flatMap((file) => impurities(file, readFileSync(file, 'utf8')))
    expect(problems).toEqual([])
  })

  it('catches what it is meant to catch', () => {
    const file = path.join(CORE, 'scheduling/example.ts')
    const bad = [
      "import { readFileSync } from 'node:fs'",
      "import type { Kysely } from 'kysely'",
      "import {\n  createSlurmAdapter,\n} from '../../../adapters/slurm/slurm-adapter.js'",
      "import { loadConfig } from '../../config/load-config.js'",
      "import type { JobObservation } from '../../scheduler/scheduler-adapter.js'",
      "export * from 'pg'",
      "const later = () => import('ssh2')",
      'const t = Date.now()',
      'const r = Math.random()',
      'const d = new Date()',
    ].join('\n')
    const problems = impurities(file, bad)
    expect(problems).toHaveLength(10)
    const fine = [
      "import { z } from 'zod'",
      "import type { JobObservation } from '../job/job-observation.js'",
      "import { canTransition } from '../job/job-state.js'",
      '// Date.now() is passed in as `now`',
      'const at = new Date(now).toISOString()',
    ].join('\n')
    expect(impurities(file, fine)).toEqual([])
  })
})

/** Relative imports of a source file, resolved to repository paths (`x.js` is the module `x.ts`). */
function localImports(file: string, source: string): string[] {
  return importsOf(stripComments(source))
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => path.relative(ROOT, path.resolve(path.dirname(file), specifier)).replace(/\.js$/, '.ts'))
}

/**
 * Every circle in an import graph, each once: a depth-first walk that reports the back edges, the
 * circle written from its alphabetically first module (`a.ts -> b.ts -> a.ts` as `a.ts -> b.ts`).
 */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const cycles = new Set<string>()
  const done = new Set<string>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const visit = (node: string): void => {
    stack.push(node)
    onStack.add(node)
    for (const next of graph.get(node) ?? []) {
      if (onStack.has(next)) {
        const circle = stack.slice(stack.indexOf(next))
        const first = circle.indexOf([...circle].sort()[0] as string)
        cycles.add([...circle.slice(first), ...circle.slice(0, first)].join(' -> '))
      } else if (!done.has(next) && graph.has(next)) visit(next)
    }
    stack.pop()
    onStack.delete(node)
    done.add(node)
  }
  for (const node of [...graph.keys()].sort()) if (!done.has(node)) visit(node)
  return [...cycles].sort()
}

describe('the module graph', () => {
  const files = [...sourceFiles(path.join(ROOT, 'src')), ...sourceFiles(path.join(ROOT, 'adapters'))]
  const graph = new Map(
    files.map((file) => [path.relative(ROOT, file), localImports(file, readFileSync(file, 'utf8'))] as const),
  )

  it('has no circles of imports in src/ and adapters/', () => {
    expect(graph.size).toBeGreaterThan(100)
    expect(findCycles(graph).filter((cycle) => !KNOWN_CYCLES.includes(cycle))).toEqual([])
  })

  it('finds a circle of any length, each once, and nothing in a graph without one', () => {
    const edges = (pairs: Record<string, string[]>) => new Map(Object.entries(pairs))
    expect(findCycles(edges({ 'a.ts': ['b.ts'], 'b.ts': ['a.ts'] }))).toEqual(['a.ts -> b.ts'])
    expect(findCycles(edges({ 'c.ts': ['a.ts'], 'a.ts': ['b.ts'], 'b.ts': ['c.ts'], 'd.ts': ['c.ts'] }))).toEqual([
      'a.ts -> b.ts -> c.ts',
    ])
    expect(findCycles(edges({ 'a.ts': ['a.ts'] }))).toEqual(['a.ts'])
    // a diamond shares modules but closes no circle
    expect(findCycles(edges({ 'a.ts': ['b.ts', 'c.ts'], 'b.ts': ['d.ts'], 'c.ts': ['d.ts'], 'd.ts': [] }))).toEqual([])
  })

  it('reads the circle that PBS job files once closed, and sees it gone', () => {
    const reading = (file: string) => localImports(path.join(ROOT, file), readFileSync(path.join(ROOT, file), 'utf8'))
    expect(reading('adapters/pbs/qsub-batch.ts')).toContain('adapters/pbs/pbs-array.ts')
    expect(reading('adapters/pbs/pbs-array.ts')).toContain('adapters/pbs/pbs-job-files.ts')
    expect(reading('adapters/pbs/pbs-array.ts')).not.toContain('adapters/pbs/qsub-batch.ts')
  })
})
