/**
 * The core is pure (style.md §1): no I/O libraries, no adapters, no clock and no randomness. This
 * test reads every file under src/core and fails on a forbidden import or call.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CORE = path.join(ROOT, 'src/core')
const FORBIDDEN_PACKAGES = ['ssh2', 'pg', 'kysely', 'better-sqlite3', 'node-cron', 'fast-xml-parser']
/** Pure files outside the core that the core may import. */
const ALLOWED_OUTSIDE = ['src/scheduler/scheduler-adapter.ts', 'src/script/shell-quote.ts']

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
      if (!target.startsWith('src/core/') && !ALLOWED_OUTSIDE.includes(target)) {
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

  it('imports only zod, core files and the two pure contracts; never calls the clock or random', () => {
    const problems = files.flatMap((file) => impurities(file, readFileSync(file, 'utf8')))
    expect(problems).toEqual([])
  })

  it.each(ALLOWED_OUTSIDE)('%s, which the core imports, is pure too', (relative) => {
    const file = path.join(ROOT, relative)
    const source = readFileSync(file, 'utf8')
    expect(importsOf(source).filter((s) => s.startsWith('node:') || !s.startsWith('.'))).toEqual([])
    const problems = impurities(file, source).filter((p) => !p.includes('outside the core'))
    expect(problems).toEqual([])
  })

  it('catches what it is meant to catch', () => {
    const file = path.join(CORE, 'scheduling/example.ts')
    const bad = [
      "import { readFileSync } from 'node:fs'",
      "import type { Kysely } from 'kysely'",
      "import {\n  createSlurmAdapter,\n} from '../../../adapters/slurm/slurm-adapter.js'",
      "import { loadConfig } from '../../config/load-config.js'",
      "export * from 'pg'",
      "const later = () => import('ssh2')",
      'const t = Date.now()',
      'const r = Math.random()',
      'const d = new Date()',
    ].join('\n')
    const problems = impurities(file, bad)
    expect(problems).toHaveLength(9)
    const fine = [
      "import { z } from 'zod'",
      "import type { JobObservation } from '../../scheduler/scheduler-adapter.js'",
      "import { canTransition } from '../job/job-state.js'",
      '// Date.now() is passed in as `now`',
      'const at = new Date(now).toISOString()',
    ].join('\n')
    expect(impurities(file, fine)).toEqual([])
  })
})
