import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseSacct, sacctToJobObservations } from '../../../adapters/slurm/sacct-parser.js'
import { parseSinfoNodes } from '../../../adapters/slurm/sinfo-parser.js'
import { parseSbatchParsable } from '../../../adapters/slurm/slurm-commands.js'
import { parseSqueue, squeueToJobObservations } from '../../../adapters/slurm/squeue-parser.js'
import { ParseError } from '../../../src/core/errors.js'
import { JOB_STATES } from '../../../src/core/job/job-state.js'
import { testbedCapture } from './testbed-captures.js'

const TESTBED = join(import.meta.dirname, 'fixtures', 'testbed-22.05')
const SACCT = testbedCapture('sacct-final.txt')
const SQUEUE = readFileSync(join(TESTBED, 'squeue-live.txt'), 'utf8')
const SINFO = readFileSync(join(TESTBED, 'sinfo-nodes.txt'), 'utf8')

/** Run a parser; it must return (then `check` the result) or throw ParseError — nothing else. */
function returnsOrParseError<T>(parse: () => T, check: (value: T) => void): void {
  let value: T
  try {
    value = parse()
  } catch (error) {
    expect(error).toBeInstanceOf(ParseError)
    return
  }
  check(value)
}

// garbage built from the characters that matter to these formats, plus arbitrary text
const garbage = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({
    unit: fc.constantFrom(
      '\u001f',
      '\n',
      '|',
      '1',
      '2',
      '_',
      '[',
      ']',
      '-',
      ':',
      '.',
      'T',
      'G',
      'M',
      'batch',
      'R',
      ' ',
    ),
    maxLength: 200,
  }),
)

// a real output mangled: truncated at any point, a character replaced, or a line duplicated or cut
function mangled(text: string) {
  return fc.oneof(
    fc.nat({ max: text.length }).map((end) => text.slice(0, end)),
    fc
      .tuple(fc.nat({ max: text.length - 1 }), fc.string({ minLength: 1, maxLength: 3 }))
      .map(([at, replacement]) => `${text.slice(0, at)}${replacement}${text.slice(at + 1)}`),
    fc.tuple(fc.nat({ max: text.length - 1 }), fc.nat({ max: text.length - 1 })).map(([from, to]) => {
      const [start, end] = from < to ? [from, to] : [to, from]
      return `${text.slice(0, start)}\n${text.slice(end)}`
    }),
  )
}

function checkSacct(text: string): void {
  returnsOrParseError(
    () => sacctToJobObservations(parseSacct(text)),
    (observations) => {
      for (const observation of observations) {
        expect(observation.jobId).toMatch(/^\d+/)
        expect(JOB_STATES).toContain(observation.state)
      }
    },
  )
}

function checkSqueue(text: string): void {
  returnsOrParseError(
    () => squeueToJobObservations(parseSqueue(text)),
    (observations) => {
      for (const observation of observations) {
        expect(observation.jobId).toMatch(/^\d+/)
        expect(JOB_STATES).toContain(observation.state)
      }
    },
  )
}

describe('parsers never fail with anything but ParseError', () => {
  it('sacct: garbage', () => fc.assert(fc.property(garbage, checkSacct), { numRuns: 500 }))
  it('sacct: a mangled real output', () => fc.assert(fc.property(mangled(SACCT), checkSacct), { numRuns: 500 }))
  it('squeue: garbage', () => fc.assert(fc.property(garbage, checkSqueue), { numRuns: 500 }))
  it('squeue: a mangled real output', () => fc.assert(fc.property(mangled(SQUEUE), checkSqueue), { numRuns: 500 }))

  it('sinfo: garbage and a mangled real output', () => {
    fc.assert(
      fc.property(fc.oneof(garbage, mangled(SINFO)), (text) =>
        returnsOrParseError(
          () => parseSinfoNodes(text),
          (nodes) => {
            for (const node of nodes) {
              expect(node.name).not.toBe('')
              expect(Number.isInteger(node.cpus)).toBe(true)
            }
          },
        ),
      ),
      { numRuns: 500 },
    )
  })

  it('sbatch: garbage', () => {
    fc.assert(
      fc.property(garbage, (text) =>
        returnsOrParseError(
          () => parseSbatchParsable(text),
          (result) => expect(result.jobId).toMatch(/^\d+$/),
        ),
      ),
      { numRuns: 500 },
    )
  })

  it('a truncated line is refused, never read as a shorter record', () => {
    const lines = SACCT.trimEnd().split('\n')
    fc.assert(
      fc.property(fc.nat({ max: lines.length - 1 }), fc.nat(), (lineIndex, cut) => {
        const line = lines[lineIndex] ?? ''
        const cells = line.split('\u001f')
        // drop at least one whole column from the end
        const kept = cells.slice(0, 1 + (cut % (cells.length - 1))).join('\u001f')
        expect(() => parseSacct(kept)).toThrow(ParseError)
      }),
    )
  })
})
