// Pipeline and config documents under fuzzing: valid documents mutated (cut, spliced, re-wrapped,
// salted with binary), random YAML/JSON and raw binary. Each gets a loaded pipeline / resolved
// config or a typed error (SpecError & co., with a code and the file named) — never a TypeError,
// RangeError, stack overflow or hang. Hostile documents (alias bombs, deep nesting, huge sweeps,
// long cycles) run in a child process with a time bound, since a hang there cannot be interrupted.
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ConfigSchema } from '../../../src/config/config-schema.js'
import { parseDocumentText, validateDocument } from '../../../src/config/document.js'
import { resolveConfig } from '../../../src/config/load-config.js'
import { loadPipelineText } from '../../../src/config/load-pipeline.js'
import { makeWorkDir, REPO_ROOT } from '../../support/cli-harness.js'
import { printFigures } from '../support/fault-figures.js'
import { FUZZ_RUNS, FUZZ_SEED, fuzzParameters, mutatedFrom, returnsOrTypedError } from '../support/fuzz-inputs.js'
import { CLUSTER_SHAPE, killPipeline } from '../support/kill-pipeline.js'

const FILE = path.join(REPO_ROOT, 'fuzz', 'pipeline.yaml')

const pipelines = [
  readFileSync(path.join(REPO_ROOT, 'examples/quickstart.yaml'), 'utf8'),
  killPipeline('fuzzed', CLUSTER_SHAPE),
  `name: fan
project: demo
env: { A: "1", B: x }
tasks:
  split: { command: "echo '{\\"shards\\": [1, 2]}' > $RPO_OUTPUTS", resources: { cpus: 2, memory: 1G, time: 10m, gpus: { count: 1, type: a100 } } }
  process: { foreach: { task: split, output: shards }, command: "echo {{item}}", retries: { max: 2, backoff: 5s, on: [failed, timeout] } }
  join: { after: [{ task: process, condition: finished }], command: "true", metadata: { k: [1, { x: y }] } }
  ckpt: { command: "true", checkpoint: { every: 500steps,10m, keep: 2, leadTime: 2m, signal: USR2 }, deadline: "2030-01-01T00:00:00Z" }
`,
]
const pipelinesAsJson = pipelines.map((p) => {
  try {
    return JSON.stringify(parseDocumentText(FILE, p).data, null, 1)
  } catch {
    return '{}'
  }
})
const configs = [
  readFileSync(path.join(REPO_ROOT, 'config.example.json'), 'utf8'),
  `defaultCluster: testbed
store: { url: "sqlite:.rpo/x.sqlite", busyTimeout: 5s }
clusters:
  testbed:
    kind: slurm
    ssh: { host: "127.0.0.1", port: 2222, user: rpotest, privateKey: "/k", knownHosts: "/h" }
    workDir: /home/rpotest/w
    account: vision
    pollInterval: 500ms
    maxPollInterval: 2s
projects:
  vision: { budgets: [{ period: monthly, limit: 100, kind: hard }] }
`,
]

describe('pipeline and config documents under fuzzing', () => {
  it('every pipeline document loads or is refused with a typed error', () => {
    fc.assert(
      fc.property(mutatedFrom([...pipelines, ...pipelinesAsJson]), (text) => {
        returnsOrTypedError('loadPipelineText', () => loadPipelineText(FILE, text))
      }),
      fuzzParameters(),
    )
  }, 600_000)

  it('random YAML/JSON values as a pipeline load or are refused with a typed error', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.boolean(), (value, asJson) => {
        const text = asJson ? JSON.stringify(value) : JSON.stringify({ name: 'p', tasks: value })
        returnsOrTypedError('loadPipelineText', () => loadPipelineText(FILE, text))
      }),
      fuzzParameters(),
    )
  }, 600_000)

  it('every config document resolves or is refused with a typed error', () => {
    fc.assert(
      fc.property(mutatedFrom(configs), (text) => {
        returnsOrTypedError('config', () => {
          const file = path.join(REPO_ROOT, 'fuzz', 'rpo.config.yaml')
          const parsed = validateDocument(parseDocumentText(file, text), ConfigSchema, 'config-invalid')
          return resolveConfig(parsed, file, path.dirname(file), {})
        })
      }),
      fuzzParameters(),
    )
    printFigures('fuzz-documents', { seed: FUZZ_SEED, targets: 3, casesPerTarget: FUZZ_RUNS, crashes: 0 })
  }, 600_000)
})

// documents built to exhaust a parser or validator: each must be refused (exit 2, a clear
// message) by `rpo validate` within the bound, not crash or hang
const HOSTILE: Record<string, string> = {
  // found by the fuzzer (seed 1101630422): an alias with no anchor made yaml throw a ReferenceError
  'unresolved alias': '*x\n',
  'alias bomb': `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
name: bomb
tasks: { a: { command: "true", metadata: { x: *h } } }
`,
  'deep nesting': `name: deep\ntasks: { a: { command: "true", metadata: { x: ${'['.repeat(100_000)}${']'.repeat(100_000)} } } }\n`,
  'huge matrix': `name: huge\ntasks:\n  a:\n    command: "true"\n    matrix:\n${['a', 'b', 'c', 'd', 'e']
    .map((k) => `      ${k}: [${Array.from({ length: 100 }, (_, i) => i).join(', ')}]`)
    .join('\n')}\n`,
  'long cycle': `name: cycle\ntasks:\n${Array.from(
    { length: 5_000 },
    (_, i) => `  t${i}: { command: "true", after: [t${(i + 1) % 5_000}] }`,
  ).join('\n')}\n`,
  'long chain': `name: chain\ntasks:\n${Array.from(
    { length: 5_000 },
    (_, i) => `  t${i}: { command: "true"${i > 0 ? `, after: [t${i - 1}]` : ''} }`,
  ).join('\n')}\n`,
  binary: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).toString('latin1'),
}

describe('hostile pipeline documents', () => {
  it.each(Object.keys(HOSTILE))(
    '%s: rpo validate answers within 20 s without crashing',
    (name) => {
      const dir = makeWorkDir('rpo-fuzz-')
      writeFileSync(path.join(dir, 'p.yaml'), HOSTILE[name] as string, 'latin1')
      const result = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/rpo.js'), 'validate', 'p.yaml'], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 20_000,
        maxBuffer: 64 * 1024 * 1024,
      })
      const said = `${result.stderr ?? ''}`.slice(0, 2000)
      expect(result.signal, `${name}: killed after 20 s (hang?) ${said}`).toBeNull()
      // valid (0) or refused as invalid input (2); never an internal error (70) or a crash
      expect([0, 2], `${name}: exit ${result.status}: ${said}`).toContain(result.status)
      expect(said).not.toMatch(/internal error|RangeError|TypeError|Maximum call stack|heap out of memory/)
    },
    30_000,
  )
})
