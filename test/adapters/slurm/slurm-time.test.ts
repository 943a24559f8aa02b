import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { expandSlurmHostlist } from '../../../adapters/slurm/slurm-hostlist.js'
import {
  formatSlurmTimeLimit,
  parseSlurmDurationSeconds,
  parseSlurmMemoryMb,
  parseSlurmReqMem,
  parseSlurmTimestamp,
  parseSlurmTres,
} from '../../../adapters/slurm/slurm-time.js'
import { ParseError } from '../../../src/core/errors.js'

describe('parseSlurmDurationSeconds', () => {
  it.each([
    ['1-02:03:04', 93_784],
    ['02:03:04', 7_384],
    ['03:04', 184],
    ['0:01', 1],
    ['4', 240],
    ['1-02', 93_600],
    ['1-02:03', 93_780],
    ['163-00:18:41', 163 * 86_400 + 18 * 60 + 41],
    ['49710-06:28:06', 49_710 * 86_400 + 6 * 3_600 + 28 * 60 + 6],
    ['00:00:00', 0],
  ])('%s → %d s', (text, seconds) => {
    expect(parseSlurmDurationSeconds(text)).toBe(seconds)
  })

  it('keeps the milliseconds of TotalCPU-style values', () => {
    expect(parseSlurmDurationSeconds('01:02.345')).toBeCloseTo(62.345, 6)
    expect(parseSlurmDurationSeconds('00:00:00.123')).toBeCloseTo(0.123, 6)
    expect(parseSlurmDurationSeconds('58:10.420')).toBeCloseTo(3_490.42, 6)
    expect(parseSlurmDurationSeconds('1-22:04:58.5')).toBeCloseTo(165_898.5, 6)
  })

  it.each(['UNLIMITED', 'INVALID', 'Partition_Limit', 'NOT_SET', 'N/A', ''])('%s means no value', (text) => {
    expect(parseSlurmDurationSeconds(text)).toBeNull()
  })

  it.each(['00:00:-02', 'soon', '1:2:3:4', '4.5', '1-02.5', '00:60', '1-24:00:00', '01:60:00', '--'])(
    'rejects %s',
    (text) => {
      expect(() => parseSlurmDurationSeconds(text)).toThrow(ParseError)
    },
  )

  it('reads back what formatSlurmTimeLimit writes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 * 86_400 }), (seconds) => {
        expect(parseSlurmDurationSeconds(formatSlurmTimeLimit(seconds))).toBe(seconds)
      }),
    )
  })

  it('only returns a number, null or throws ParseError', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          const value = parseSlurmDurationSeconds(text)
          expect(value === null || Number.isFinite(value)).toBe(true)
        } catch (error) {
          expect(error).toBeInstanceOf(ParseError)
        }
      }),
    )
  })
})

describe('formatSlurmTimeLimit', () => {
  it('writes D-HH:MM:SS and rounds partial seconds up', () => {
    expect(formatSlurmTimeLimit(3_600)).toBe('0-01:00:00')
    expect(formatSlurmTimeLimit(93_784)).toBe('1-02:03:04')
    expect(formatSlurmTimeLimit(0.2)).toBe('0-00:00:01')
  })

  it('refuses zero, which Slurm reads as "no limit"', () => {
    expect(() => formatSlurmTimeLimit(0)).toThrow(RangeError)
    expect(() => formatSlurmTimeLimit(Number.NaN)).toThrow(RangeError)
  })
})

describe('parseSlurmTimestamp', () => {
  it('reads standard timestamps as UTC by default', () => {
    expect(parseSlurmTimestamp('2023-04-05T06:07:08')?.toISOString()).toBe('2023-04-05T06:07:08.000Z')
  })

  it('applies a fixed offset of the cluster clock', () => {
    expect(parseSlurmTimestamp('2023-04-05T06:07:08', { utcOffsetMinutes: 120 })?.toISOString()).toBe(
      '2023-04-05T04:07:08.000Z',
    )
  })

  it('follows daylight saving with an IANA zone', () => {
    expect(parseSlurmTimestamp('2024-01-15T12:00:00', { timeZone: 'Europe/Berlin' })?.toISOString()).toBe(
      '2024-01-15T11:00:00.000Z',
    )
    expect(parseSlurmTimestamp('2024-07-15T12:00:00', { timeZone: 'Europe/Berlin' })?.toISOString()).toBe(
      '2024-07-15T10:00:00.000Z',
    )
    expect(parseSlurmTimestamp('2024-07-15T12:00:00', { timeZone: 'America/New_York' })?.toISOString()).toBe(
      '2024-07-15T16:00:00.000Z',
    )
  })

  it.each(['Unknown', 'None', 'N/A', ''])('%s means not started / not ended', (text) => {
    expect(parseSlurmTimestamp(text)).toBeNull()
  })

  it('rejects the relative format, which has no year, with a hint', () => {
    expect(() => parseSlurmTimestamp('4 Sep 11:09')).toThrow(/SLURM_TIME_FORMAT/)
  })

  it('rejects impossible dates', () => {
    expect(() => parseSlurmTimestamp('2023-02-30T00:00:00')).toThrow(ParseError)
    expect(() => parseSlurmTimestamp('2023-01-01T24:00:00')).toThrow(ParseError)
  })
})

describe('parseSlurmMemoryMb', () => {
  it.each([
    ['4000M', 4_000],
    ['16G', 16_384],
    ['512K', 0.5],
    ['1.5T', 1_572_864],
    ['0.98G', 0.98 * 1024],
    ['128000', 128_000],
    ['0', 0],
  ])('%s → %d MB', (text, mb) => {
    expect(parseSlurmMemoryMb(text)).toBeCloseTo(mb, 6)
  })

  it('reads a bare number in the unit the field uses', () => {
    expect(parseSlurmMemoryMb('1048576', 'B')).toBe(1)
    expect(parseSlurmMemoryMb('1024', 'K')).toBe(1)
  })

  it('leaves ReqMem scope suffixes to parseSlurmReqMem', () => {
    expect(() => parseSlurmMemoryMb('4000Mc')).toThrow(ParseError)
    expect(parseSlurmReqMem('4000Mn')).toEqual({ mb: 4_000, per: 'node' })
    expect(parseSlurmReqMem('4000Mc')).toEqual({ mb: 4_000, per: 'cpu' })
    expect(parseSlurmReqMem('1Gn')).toEqual({ mb: 1_024, per: 'node' })
    expect(parseSlurmReqMem('0n')).toEqual({ mb: 0, per: 'node' })
    expect(parseSlurmReqMem('2147486448Mn')).toEqual({ mb: 2_147_486_448, per: 'node' })
    expect(parseSlurmReqMem('32G')).toEqual({ mb: 32_768, per: null })
  })
})

describe('parseSlurmTres', () => {
  it('reads counts by TRES name with memory in MB', () => {
    expect(parseSlurmTres('billing=4,cpu=4,gres/gpu:a100=2,gres/gpu=2,mem=16G,node=1')).toEqual({
      billing: 4,
      cpu: 4,
      'gres/gpu:a100': 2,
      'gres/gpu': 2,
      mem: 16_384,
      node: 1,
    })
    expect(parseSlurmTres('billing=2,cpu=2,gpu=1,mem=0.98G,node=2').mem).toBeCloseTo(1_003.52, 6)
    expect(parseSlurmTres('cpu=1,mem=0,node=1')).toEqual({ cpu: 1, mem: 0, node: 1 })
  })

  it('returns {} for empty', () => {
    expect(parseSlurmTres('')).toEqual({})
  })

  it('rejects usage lists whose values are durations', () => {
    expect(() => parseSlurmTres('cpu=15:33:58,mem=1294440K')).toThrow(ParseError)
    expect(() => parseSlurmTres('__proto__=1')).toThrow(ParseError)
  })
})

describe('expandSlurmHostlist', () => {
  it('expands ranges keeping zero padding', () => {
    expect(expandSlurmHostlist('nid0[0099,0156-0157]')).toEqual(['nid00099', 'nid00156', 'nid00157'])
    expect(expandSlurmHostlist('d09n04s[01-02],k10n26s01')).toEqual(['d09n04s01', 'd09n04s02', 'k10n26s01'])
    expect(expandSlurmHostlist('omni[19,21]')).toEqual(['omni19', 'omni21'])
    expect(expandSlurmHostlist('r[1-2]n[1-2]')).toEqual(['r1n1', 'r1n2', 'r2n1', 'r2n2'])
    expect(expandSlurmHostlist('cpu1')).toEqual(['cpu1'])
  })

  it('returns [] when nothing is allocated', () => {
    expect(expandSlurmHostlist('None assigned')).toEqual([])
    expect(expandSlurmHostlist('(null)')).toEqual([])
  })

  it('rejects malformed or absurd lists', () => {
    for (const text of ['n[1-', 'n]', 'n[3-1]', 'n[1-9999999]', 'a,,b', 'n[a-b]']) {
      expect(() => expandSlurmHostlist(text), text).toThrow(ParseError)
    }
  })

  it('only returns names or throws ParseError', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('n', '0', '1', '9', '[', ']', '-', ',', ' ') }), (text) => {
        try {
          expect(Array.isArray(expandSlurmHostlist(text))).toBe(true)
        } catch (error) {
          expect(error).toBeInstanceOf(ParseError)
        }
      }),
    )
  })
})
