import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseQsubOutput } from '../../../adapters/pbs/pbs-commands.js'
import { detectPbsFlavor, PBS_FLAVOR_NAMES } from '../../../adapters/pbs/pbs-flavors.js'
import { type PbsJobRecord, toPbsJobObservations } from '../../../adapters/pbs/pbs-job-record.js'
import { parsePbsJson, parsePbsJsonTolerantly } from '../../../adapters/pbs/pbs-json.js'
import { decidePbsFinalState, mapPbsState } from '../../../adapters/pbs/pbs-states.js'
import {
  formatPbsSizeMb,
  formatPbsWalltime,
  parsePbsDurationSeconds,
  parsePbsSizeMb,
} from '../../../adapters/pbs/pbs-units.js'
import { parsePbsnodesJson, parsePbsnodesText, parsePbsnodesXml } from '../../../adapters/pbs/pbsnodes-parser.js'
import { parseQstatJson } from '../../../adapters/pbs/qstat-json-parser.js'
import { parseQstatText } from '../../../adapters/pbs/qstat-text-parser.js'
import { parseQstatXml } from '../../../adapters/pbs/qstat-xml-parser.js'
import { ParseError } from '../../../src/core/errors.js'
import { JOB_STATES } from '../../../src/core/job/job-state.js'
import type { InventoryNode } from '../../../src/scheduler/scheduler-adapter.js'
import { sharedFixture } from '../../support/shared-fixtures.js'

const read = (...parts: string[]) => readFileSync(sharedFixture(...parts), 'utf8')
const WRAPPERS = join(import.meta.dirname, 'fixtures', 'slurm-torque-wrappers')
const QSTAT_F = read('pbspro', 'qstat_f', 'aiida-pbspro_qstat_f_2013.txt')
const QSTAT_F_TORQUE = read('torque', 'qstat_f', 'aiida-torque_qstat_f_ichec_2015.txt')
const QSTAT_XF = read('pbspro', 'qstat_xf', 'hpc_scripts-qut_aqua_qstat_xf_finished.txt')
const QSTAT_WRAPPER = readFileSync(join(WRAPPERS, 'qstat-f-live.txt'), 'utf8')
const QSTAT_JSON = read('pbspro', 'qstat_f_json', 'swrap-metacentrum_qstat_xf_json.json')
const QSTAT_XML = read('torque', 'qstat_x', 'fyrd-stanford_qstat_x_arrays.xml')
const PBSNODES_TEXT = read('torque', 'pbsnodes', 'vsc-thinking_pbsnodes_message_note.txt')
const PBSNODES_XML = read('torque', 'pbsnodes_x', 'qhost-pbsnodes_x_5nodes_mom_ports.xml')
const PBSNODES_JSON =
  '{"nodes":{"gpu01":{"state":"free","resources_available":{"ncpus":64,"mem":"514260mb","ngpus":4,"gputype":"a100","Qlist":"gpu"}}}}'

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
      'Job Id: 1.s\n',
      '    job_state = R\n',
      '    Exit_status = ',
      '\t',
      '\n',
      ' = ',
      '<Data>',
      '<Job>',
      '</Job>',
      '<Job_Id>2</Job_Id>',
      '<job_state>C</job_state>',
      '{',
      '}',
      '"Jobs":',
      '"nodes":',
      '"',
      '\\',
      ':',
      ',',
      '-29',
      '271',
      'kb',
      '01:02:03',
      'NaN',
    ),
    maxLength: 120,
  }),
)

// a real output mangled: truncated at any point, a character replaced, or a span cut out
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

function checkRecords(records: readonly PbsJobRecord[]): void {
  returnsOrParseError(
    () => toPbsJobObservations(records),
    (observations) => {
      for (const observation of observations) {
        expect(observation.jobId).toMatch(/^\d+(\[\d*\])?(\.[A-Za-z0-9._-]+)?$/)
        expect(JOB_STATES).toContain(observation.state)
      }
    },
  )
}

function checkNodes(nodes: readonly InventoryNode[]): void {
  for (const node of nodes) {
    expect(node.name).not.toBe('')
    expect(Number.isInteger(node.cpus)).toBe(true)
    expect(Number.isFinite(node.memoryMb)).toBe(true)
  }
}

const RUNS = { numRuns: 400 }

describe('PBS parsers never fail with anything but ParseError', () => {
  it('qstat -f text: garbage and mangled real outputs', () => {
    const input = fc.oneof(garbage, mangled(QSTAT_F), mangled(QSTAT_F_TORQUE), mangled(QSTAT_WRAPPER))
    fc.assert(
      fc.property(input, (text) => returnsOrParseError(() => parseQstatText(text), checkRecords)),
      RUNS,
    )
  })

  it('qstat -F json: garbage and a mangled real output', () => {
    const input = fc.oneof(garbage, mangled(QSTAT_JSON))
    fc.assert(
      fc.property(input, (text) => returnsOrParseError(() => parseQstatJson(text), checkRecords)),
      RUNS,
    )
  })

  it('qstat -x XML: garbage and a mangled real output', () => {
    const input = fc.oneof(garbage, mangled(QSTAT_XML))
    fc.assert(
      fc.property(input, (text) => returnsOrParseError(() => parseQstatXml(text), checkRecords)),
      RUNS,
    )
  })

  it('pbsnodes text, XML and JSON: garbage and mangled real outputs', () => {
    fc.assert(
      fc.property(fc.oneof(garbage, mangled(PBSNODES_TEXT)), (text) =>
        returnsOrParseError(() => parsePbsnodesText(text), checkNodes),
      ),
      RUNS,
    )
    fc.assert(
      fc.property(fc.oneof(garbage, mangled(PBSNODES_XML)), (text) =>
        returnsOrParseError(() => parsePbsnodesXml(text), checkNodes),
      ),
      RUNS,
    )
    fc.assert(
      fc.property(fc.oneof(garbage, mangled(PBSNODES_JSON)), (text) =>
        returnsOrParseError(() => parsePbsnodesJson(text), checkNodes),
      ),
      RUNS,
    )
  })

  it('qsub answers: garbage gives an id or a ParseError', () => {
    fc.assert(
      fc.property(garbage, (text) =>
        returnsOrParseError(
          () => parseQsubOutput(text),
          (id) => expect(id).toMatch(/^\d+/),
        ),
      ),
      RUNS,
    )
  })
})

// PBS wraps a long value at a fixed width: the first piece stays on the attribute line, every
// further piece goes on its own line after a TAB, with no separator added
function rewrap(text: string, width: number): string {
  return text
    .split('\n')
    .flatMap((line) => {
      const prefix = /^ {4}[A-Za-z_][\w.-]* = /.exec(line)?.[0]
      if (prefix === undefined || line.length <= width) return [line]
      const pieces = [line.slice(0, width)]
      for (let at = width; at < line.length; at += width - 1) pieces.push(`\t${line.slice(at, at + width - 1)}`)
      return pieces
    })
    .join('\n')
}

describe('qstat -f text is read the same however PBS wrapped it', () => {
  it('re-wrapping an unwrapped capture at any width leaves every attribute unchanged', () => {
    const expected = parseQstatText(QSTAT_XF)
    fc.assert(
      fc.property(fc.integer({ min: 40, max: 200 }), (width) => {
        const rewrapped = rewrap(QSTAT_XF, width)
        expect(parseQstatText(rewrapped)).toEqual(expected)
      }),
    )
  })

  it('joining the wrapped lines of a real capture is the same as reading it wrapped', () => {
    const records = parseQstatText(QSTAT_F)
    // the re-wrapped joined values must read back identically too
    fc.assert(
      fc.property(fc.integer({ min: 40, max: 120 }), (width) => {
        const unwrapped = records
          .map((record) =>
            [
              `Job Id: ${record.jobId}`,
              ...Object.entries(record.attributes).map(([name, value]) => `    ${name} = ${value}`),
            ].join('\n'),
          )
          .join('\n\n')
        expect(parseQstatText(rewrap(unwrapped, width)).map((record) => record.attributes)).toEqual(
          records.map((record) => record.attributes),
        )
      }),
      { numRuns: 50 },
    )
  })
})

describe('tolerant JSON reading', () => {
  it('reads valid JSON exactly as JSON.parse does', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        expect(parsePbsJsonTolerantly(text, 'test')).toEqual(JSON.parse(text))
      }),
      { numRuns: 500 },
    )
  })

  it('reads values that PBS printed without escaping quotes or backslashes, or refuses them', () => {
    const value = fc.string({ unit: fc.constantFrom('a', ' ', '"', '\\', ',', "'", 'x', ':', '\n'), maxLength: 30 })
    fc.assert(
      fc.property(value, (raw) => {
        const text = `{"Jobs":{"1.s":{"job_state":"R","comment":"${raw}"}}}`
        returnsOrParseError(
          () => parsePbsJson(text, 'test'),
          () => {},
        )
      }),
      RUNS,
    )
  })
})

describe('scalar round trips and total functions', () => {
  it('walltimes and sizes read back what was formatted', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.001, max: 1e7, noNaN: true }), (seconds) => {
        expect(parsePbsDurationSeconds(formatPbsWalltime(seconds))).toBe(Math.ceil(seconds))
      }),
    )
    fc.assert(
      fc.property(fc.double({ min: 0.001, max: 1e8, noNaN: true }), (megabytes) => {
        expect(parsePbsSizeMb(formatPbsSizeMb(megabytes))).toBe(Math.ceil(megabytes))
      }),
    )
  })

  it('state mapping, exit-status decisions and flavor detection never throw', () => {
    fc.assert(
      fc.property(fc.string(), fc.option(fc.integer({ min: -1000, max: 100_000 })), (letter, exitStatus) => {
        expect(JOB_STATES).toContain(mapPbsState(letter, { exitStatus }).state)
        expect(JOB_STATES).toContain(decidePbsFinalState(exitStatus, { family: 'torque' }).state)
        expect(PBS_FLAVOR_NAMES).toContain(detectPbsFlavor(letter).flavor)
      }),
    )
  })
})
