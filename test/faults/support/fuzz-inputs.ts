/**
 * Inputs for the fuzz suites: real documents (scheduler output, pipeline files) mutated the way
 * they break in the wild — cut off mid-line, spliced with another document, re-wrapped, with
 * binary or control bytes injected, lines dropped or repeated — plus pure noise. Sizes and case
 * counts come from the environment so CI runs a quick slice and a nightly run the full 10,000.
 */
import fc from 'fast-check'
import { expect } from 'vitest'
import { isRpoError } from '../../../src/core/errors.js'
import { faultSeed } from './fault-figures.js'

/** Cases per target: $RPO_FUZZ_RUNS (nightly: 10000), else a quick slice for CI. */
export const FUZZ_RUNS = Number(process.env.RPO_FUZZ_RUNS ?? 300)

/** One seed for the whole file, printed once; fast-check's report names the failing case's own seed. */
export const FUZZ_SEED = faultSeed()

/** A single call that takes longer than this is a hang, not slowness. */
export const CASE_TIME_BOUND_MS = 2_000

const binaryChunk = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('latin1'))
const nastyChunk = fc.constantFrom(
  '\u0000',
  '\u001b[31m',
  '\u001b]0;x\u0007',
  '\uffff',
  '\ud800',
  '\r',
  '\r\n',
  '\t',
  '\u001f',
  '|',
  ',',
  ':',
  '"',
  "'",
  '\\',
  '{',
  '}',
  '[',
  ']',
  '<',
  '>',
  '&',
  '=',
  '-',
  '%',
  'NaN',
  'Infinity',
  '-1',
  '99999999999999999999',
  '1e309',
  '0x10',
  'UNLIMITED',
  'INVALID',
  'None',
  '(null)',
  'N/A',
  '\n\n\n',
  '__proto__',
  'constructor',
)
const chunk = fc.oneof(
  binaryChunk,
  nastyChunk,
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
)

type Mutation = (text: string, others: readonly string[]) => string

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // truncate
  fc.double({ min: 0, max: 1, noNaN: true }).map(
    (at): Mutation =>
      (t) =>
        t.slice(0, Math.floor(t.length * at)),
  ),
  // splice a piece of another document in
  fc.tuple(fc.nat(), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })).map(
    ([which, at, len]): Mutation =>
      (t, others) => {
        const other = others[which % others.length] ?? ''
        const start = Math.floor(other.length * len * 0.5)
        const piece = other.slice(start, start + Math.floor(other.length * len))
        const i = Math.floor(t.length * at)
        return t.slice(0, i) + piece + t.slice(i)
      },
  ),
  // inject binary / control / boundary values
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), chunk).map(
    ([at, c]): Mutation =>
      (t) => {
        const i = Math.floor(t.length * at)
        return t.slice(0, i) + c + t.slice(i)
      },
  ),
  // overwrite a stretch
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.nat({ max: 50 }), chunk).map(
    ([at, n, c]): Mutation =>
      (t) => {
        const i = Math.floor(t.length * at)
        return t.slice(0, i) + c + t.slice(i + n)
      },
  ),
  // re-wrap: CRLF, joined lines, lines split at odd places, trailing/leading blank lines
  fc.constantFrom<Mutation>(
    (t) => t.replaceAll('\n', '\r\n'),
    (t) => t.replaceAll('\n', ' '),
    (t) => t.replace(/(.{17})/g, '$1\n'),
    (t) => `\n\n${t}\n\n`,
    (t) => t.replaceAll('\u001f', '|'),
    (t) => t.replaceAll('|', '\u001f'),
    (t) => t.trim(),
    (t) => t.toUpperCase(),
  ),
  // drop, repeat or shuffle lines
  fc.tuple(fc.nat(), fc.nat({ max: 3 })).map(
    ([which, op]): Mutation =>
      (t) => {
        const lines = t.split('\n')
        const i = which % Math.max(1, lines.length)
        if (op === 0) lines.splice(i, 1)
        else if (op === 1) lines.splice(i, 0, lines[i] ?? '')
        else if (op === 2) lines.splice(i, 0, ...lines.slice(i, i + 50))
        else lines.reverse()
        return lines.join('\n')
      },
  ),
)

/** A real document with 1–5 mutations, or noise: binary, random text, control characters. */
export function mutatedFrom(corpus: readonly string[]): fc.Arbitrary<string> {
  if (corpus.length === 0) throw new Error('empty fuzz corpus')
  const mutated = fc
    .tuple(fc.nat({ max: corpus.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 5 }))
    .map(([i, ms]) => ms.reduce((text, m) => m(text, corpus), corpus[i] as string))
  const noise = fc.oneof(
    binaryChunk,
    fc.string({ maxLength: 500 }),
    fc.array(chunk, { maxLength: 60 }).map((cs) => cs.join('')),
  )
  return fc.oneof({ weight: 4, arbitrary: mutated }, { weight: 1, arbitrary: noise })
}

/**
 * What every fuzz target must do with any input: return (then `check` the value) or throw one of
 * rpo's typed errors with a stable code and a message — never a TypeError, RangeError, stack
 * overflow or a hang.
 */
export function returnsOrTypedError<T>(what: string, run: () => T, check: (value: T) => void = () => {}): void {
  const started = performance.now()
  let value: T
  try {
    value = run()
  } catch (error) {
    const took = performance.now() - started
    if (!isRpoError(error))
      throw new Error(`${what} threw a ${(error as Error)?.name ?? typeof error}: ${String(error)}`, { cause: error })
    expect(error.code).toMatch(/^[a-z-]+$/)
    expect(error.message.length).toBeGreaterThan(0)
    expect(took, `${what} took ${Math.round(took)} ms`).toBeLessThan(CASE_TIME_BOUND_MS)
    return
  }
  const took = performance.now() - started
  expect(took, `${what} took ${Math.round(took)} ms`).toBeLessThan(CASE_TIME_BOUND_MS)
  check(value)
}

export function fuzzParameters(): fc.Parameters<unknown> {
  return { numRuns: FUZZ_RUNS, seed: FUZZ_SEED, endOnFailure: true }
}
