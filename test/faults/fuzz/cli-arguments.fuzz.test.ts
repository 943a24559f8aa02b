// The command line under fuzzing: random sequences of rpo's own words (commands, options, values
// that are almost right) and of junk, run through the commander program in-process (a small slice
// through the real bin/rpo.js). Each ends with a documented exit code and a message, never an
// internal error (70), a stack trace or a hang.
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { makeWorkDir, RPO_BIN, runCli } from '../../support/cli-harness.js'
import { printFigures, rawControlIn } from '../support/fault-figures.js'
import { FUZZ_RUNS, FUZZ_SEED } from '../support/fuzz-inputs.js'

// in-process cases cost a store open each: CI runs a slice, a nightly RPO_FUZZ_RUNS run them all
const IN_PROCESS_RUNS = Math.min(FUZZ_RUNS, Number(process.env.RPO_FUZZ_CLI_RUNS ?? 150))
const SPAWNED_RUNS = Math.min(FUZZ_RUNS, 12)
const CASE_TIME_BOUND_MS = 20_000
const DOCUMENTED_EXIT_CODES = [0, 1, 2, 3, 4, 130]

const words = fc.constantFrom(
  'validate',
  'run',
  'compile',
  'submit',
  'status',
  'cancel',
  'checkpoint',
  'budget',
  'report',
  'set',
  'grant',
  'revoke',
  'explain',
  'sync',
  'schema',
  'help',
  '--help',
  '-h',
  '--version',
  '-c',
  '--config',
  '--json',
  '--csv',
  '--quiet',
  '--cluster',
  '--new',
  '-n',
  '--limit',
  '--run',
  '--project',
  '--user',
  '--since',
  '--until',
  '--amount',
  '--gpu-type',
  '--period',
  '--note',
  '--from',
  '--to',
  '--expires',
  '--config-file',
  '--by',
  'p.yaml',
  'missing.yaml',
  'rpo.config.yaml',
  '/dev/null',
  '.',
  '..',
  '-',
  '--',
  '0',
  '-1',
  '1e309',
  'NaN',
  '99999999999999999999999',
  'month',
  'rolling:0d',
  'rolling:99999999999d',
  '2026-02-30',
  '2026-01-01..2025-01-01',
  '7d',
  'vision',
  'a'.repeat(5000),
  '$(touch /tmp/rpo-fuzz-canary)',
  '`id`',
  '\u001b[2J',
  'é',
)
// argv strings cannot hold NUL; everything else can reach the CLI
const junk = fc.string({ unit: 'binary', maxLength: 30 }).map((s) => s.replaceAll('\u0000', ''))
const argvArb = fc.array(fc.oneof({ weight: 4, arbitrary: words }, { weight: 1, arbitrary: junk }), {
  minLength: 0,
  maxLength: 8,
})

function workspace(): string {
  const dir = makeWorkDir('rpo-fuzz-cli-')
  writeFileSync(path.join(dir, 'p.yaml'), 'name: p\ntasks:\n  a: { command: "true" }\n')
  writeFileSync(path.join(dir, 'rpo.config.yaml'), 'projects:\n  vision: {}\n')
  return dir
}

function withBound<T>(what: string, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: no answer within ${CASE_TIME_BOUND_MS} ms`)), CASE_TIME_BOUND_MS),
    ),
  ])
}

function checkAnswer(argv: readonly string[], code: number | null, stderr: string): void {
  const what = `rpo ${JSON.stringify(argv)} → exit ${code}: ${stderr.slice(0, 600)}`
  expect(DOCUMENTED_EXIT_CODES, what).toContain(code)
  expect(stderr, what).not.toMatch(/internal error:|TypeError|RangeError|Maximum call stack|^\s+at .+:\d+:\d+\)?$/m)
  if (code !== 0) expect(stderr.trim().length, what).toBeGreaterThan(0)
}

describe('command-line arguments under fuzzing', () => {
  it('in-process: every argument list gets a documented exit code and a message', async () => {
    const dir = workspace()
    await fc.assert(
      fc.asyncProperty(argvArb, async (argv) => {
        // a daemon never returns by design; everything else must
        if (argv.includes('sync') && argv.includes('daemon')) return
        const result = await withBound(JSON.stringify(argv), runCli(dir, argv))
        checkAnswer(argv, result.code, result.stderr)
      }),
      { numRuns: IN_PROCESS_RUNS, seed: FUZZ_SEED, endOnFailure: true },
    )
  }, 1_200_000)

  it('spawned: the real binary answers the same way, and prints no raw control characters of its own', () => {
    const dir = workspace()
    fc.assert(
      fc.property(argvArb, (argv) => {
        const result = spawnSync(process.execPath, [RPO_BIN, ...argv], {
          cwd: dir,
          encoding: 'utf8',
          timeout: CASE_TIME_BOUND_MS,
        })
        expect(result.signal, `rpo ${JSON.stringify(argv)} hung`).toBeNull()
        checkAnswer(argv, result.status, result.stderr)
        // what the user typed may come back, but quoted: no raw ESC/BEL/CSI reaches the terminal
        expect(rawControlIn(result.stdout + result.stderr), `rpo ${JSON.stringify(argv)}`).toEqual([])
      }),
      { numRuns: SPAWNED_RUNS, seed: FUZZ_SEED, endOnFailure: true },
    )
    printFigures('fuzz-cli', { seed: FUZZ_SEED, inProcess: IN_PROCESS_RUNS, spawned: SPAWNED_RUNS, crashes: 0 })
  }, 600_000)
})
