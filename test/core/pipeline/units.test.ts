/**
 * Human units in pipeline files: durations and memory sizes, valid and invalid, and the duration
 * format used in progress displays.
 */
import { describe, expect, it } from 'vitest'
import { formatDuration, parseDurationSeconds, parseMemoryMb } from '../../../src/core/pipeline/units.js'

describe('parseDurationSeconds', () => {
  it.each([
    [90, 90],
    [0, 0],
    ['90', 90],
    ['90s', 90],
    ['15m', 900],
    ['2h', 7200],
    ['2h30m', 9000],
    ['1h 30m', 5400],
    ['1d', 86400],
    ['1w', 604800],
    ['250ms', 0.25],
    ['1.5h', 5400],
    ['10 mins', 600],
    ['2HR', 7200],
    ['01:30:00', 5400],
    ['1:30', 90],
    ['2-00:00:00', 172800],
    ['  45s  ', 45],
  ] as const)('%j is %d seconds', (input, seconds) => {
    expect(parseDurationSeconds(input)).toBe(seconds)
  })

  it.each([
    ['soon'],
    [''],
    ['   '],
    ['5x'],
    ['h'],
    ['1h30'],
    ['-5s'],
    ['1:2:3:4'],
    [-1],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
  ])('%j is not a duration', (input) => {
    expect(parseDurationSeconds(input)).toBeNull()
  })
})

describe('parseMemoryMb', () => {
  it.each([
    [512, 512],
    ['512', 512],
    ['512M', 512],
    ['512MB', 512],
    ['16G', 16384],
    ['16gb', 16384],
    ['16GiB', 16384],
    ['1.5T', 1572864],
    ['1024K', 1],
    ['1K', 1],
    [' 2G ', 2048],
  ] as const)('%j is %d MB', (input, mb) => {
    expect(parseMemoryMb(input)).toBe(mb)
  })

  it.each([['12Q'], ['lots'], [''], ['G'], ['-1G'], ['1.5.2G'], [-5], [Number.NaN]])(
    '%j is not a memory size',
    (input) => {
      expect(parseMemoryMb(input)).toBeNull()
    },
  )
})

describe('formatDuration', () => {
  it.each([
    [0, '0.0s'],
    [3.25, '3.3s'],
    [42, '42s'],
    [125, '2m05s'],
    [3725, '1h02m05s'],
    [90061, '1d01h01m'],
  ] as const)('%d seconds shows as %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text)
  })
})
