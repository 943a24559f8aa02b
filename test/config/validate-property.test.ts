/**
 * Property: whatever a pipeline file holds, loading it (parse → validate → resolve → expand) gives a
 * pipeline or a typed error the CLI reports as bad input (exit 2); never a TypeError, a RangeError
 * or any other crash (exit 70). Documents are a valid pipeline with random values grafted in at
 * random places, and its text with random edits.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { exitCodeFor } from '../../src/cli/exit-codes.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { isRpoError } from '../../src/core/errors.js'

const BASE = {
  name: 'sweep',
  project: 'vision',
  deadline: '2026-12-31T18:00:00Z',
  defaults: { resources: { cpus: 2, memory: '4G', time: '1h' }, retries: 1, env: { A: 'x' } },
  env: { B: 1 },
  tasks: {
    prepare: { command: 'echo prepare', resources: { time: '10m' } },
    train: {
      command: 'python train.py --lr {{params.lr}} --seed {{params.seed}}',
      after: ['prepare'],
      matrix: { lr: [0.1, 0.01], seed: [1, 2], include: [{ lr: 1, seed: 3 }], exclude: [{ seed: 2 }] },
      resources: { gpus: { count: 1, type: 'a100' } },
      retries: { max: 2, backoff: '5s', on: ['failed', 'timeout'] },
      checkpoint: { signal: 'USR2', leadTime: '5m', every: '10m' },
      maxParallel: 2,
    },
    list: { command: 'echo files', after: [{ task: 'train', condition: 'finished' }] },
    each: { command: 'echo {{item}}', foreach: { task: 'list', output: 'files' } },
    report: {
      command: 'echo done',
      after: ['list'],
      when: [{ task: 'list', output: 'ok', op: '==', value: true }],
    },
  },
}

/** The paths of every value in the base document, so a graft lands where rpo reads something. */
function paths(value: unknown, prefix: string[] = []): string[][] {
  const out: string[][] = [prefix]
  if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) out.push(...paths(inner, [...prefix, key]))
  }
  return out
}
const PATHS = paths(BASE).filter((p) => p.length > 0)

function graft(path: readonly string[], replacement: unknown, extraKey: string | null): unknown {
  const doc = structuredClone(BASE) as Record<string, unknown>
  let parent = doc
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string, unknown>
  const last = path.at(-1) as string
  if (extraKey === null) parent[last] = replacement
  else if (parent[last] && typeof parent[last] === 'object' && !Array.isArray(parent[last])) {
    // defined, not assigned: a "__proto__" key must reach the file as a key
    Object.defineProperty(parent[last], extraKey, {
      value: replacement,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return doc
}

function expectResultOrInputError(file: string, text: string): void {
  try {
    loadPipelineText(file, text)
  } catch (error) {
    if (!isRpoError(error) || exitCodeFor(error) !== 2) {
      throw new Error(`not a typed input error for:\n${text.slice(0, 2000)}\n→ ${String(error)}`, { cause: error })
    }
    expect(error.message.length).toBeGreaterThan(0)
  }
}

const hostileString = fc.oneof(
  fc.string(),
  fc.constantFrom(
    '__proto__',
    'constructor',
    '{{params.constructor}}',
    '{{params.__proto__}}',
    '{{item.__proto__.x}}',
    'SIG',
    '0',
    '-1',
    '99999999999999999999999d',
    'not a date',
    '*nope',
    'a'.repeat(300),
  ),
)
const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  hostileString,
  fc.constantFrom(0, -1, 1e308, Number.MAX_SAFE_INTEGER, 0.5, true, null, [], {}),
  fc.dictionary(hostileString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
)

describe('loading never crashes on hostile documents', () => {
  it('random values grafted into a valid pipeline', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PATHS),
        hostileValue,
        fc.option(hostileString, { nil: null }),
        fc.boolean(),
        (path, value, extraKey, asJson) => {
          const doc = graft(path, value, extraKey)
          if (asJson) expectResultOrInputError('p.json', JSON.stringify(doc))
          else expectResultOrInputError('p.yaml', stringify(doc))
        },
      ),
      { numRuns: 120 },
    )
  })

  it('random edits of a valid pipeline text', () => {
    const lines = stringify(BASE).split('\n')
    // YAML's own hazards (anchors, aliases, tags, merge keys, unclosed collections) and random text
    const snippet = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom(
        '*nope',
        '&a [1, 2]',
        '*a',
        '{',
        '[[[',
        '"',
        "'",
        '!!binary x',
        '<<: *a',
        '? x',
        '- x',
        '|',
        '>-',
        '%',
      ),
    )
    const edit = fc.record({ line: fc.nat({ max: lines.length - 1 }), keepValue: fc.boolean(), insert: snippet })
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
        const mutated = [...lines]
        for (const { line, keepValue, insert } of edits) {
          const text = mutated[line] as string
          const colon = text.indexOf(': ')
          // replace a value after its key (where YAML reads one), or append to the line
          mutated[line] = keepValue || colon < 0 ? `${text}${insert}` : `${text.slice(0, colon + 2)}${insert}`
        }
        expectResultOrInputError('p.yaml', mutated.join('\n'))
      }),
      { numRuns: 100 },
    )
  })
})
