import { describe, expect, it } from 'vitest'
import {
  formatPbsSizeMb,
  formatPbsWalltime,
  parsePbsDurationSeconds,
  parsePbsSizeMb,
  parsePbsTimestamp,
} from '../../../adapters/pbs/pbs-units.js'
import { ParseError } from '../../../src/core/errors.js'

describe('parsePbsDurationSeconds', () => {
  it('reads HH:MM:SS with hours beyond 24, MM:SS, SS and fractions', () => {
    expect(parsePbsDurationSeconds('01:02:03')).toBe(3_723)
    // resources_used.cput of aiida-pbspro_qstat_f_2013.txt job 69301
    expect(parsePbsDurationSeconds('4090:56:03')).toBe(4_090 * 3_600 + 56 * 60 + 3)
    expect(parsePbsDurationSeconds('335:34:49')).toBe(335 * 3_600 + 34 * 60 + 49)
    expect(parsePbsDurationSeconds('02:03')).toBe(123)
    expect(parsePbsDurationSeconds('75')).toBe(75)
    expect(parsePbsDurationSeconds('00:00:01.5')).toBe(1.5)
    expect(parsePbsDurationSeconds(' 00:00:06 ')).toBe(6)
    expect(parsePbsDurationSeconds(3600)).toBe(3_600)
  })

  it('refuses what is not a duration', () => {
    for (const text of ['', '1:2:3:4', '00:60:00', '00:00:60', '-1', 'UNLIMITED', '1d', '00:01:00x']) {
      expect(() => parsePbsDurationSeconds(text), text).toThrow(ParseError)
    }
    expect(() => parsePbsDurationSeconds(Number.NaN)).toThrow(ParseError)
    expect(() => parsePbsDurationSeconds(-5)).toThrow(ParseError)
  })
})

describe('formatPbsWalltime', () => {
  it('prints HH:MM:SS, hours unbounded, rounding up', () => {
    expect(formatPbsWalltime(3_600)).toBe('01:00:00')
    expect(formatPbsWalltime(86_400 + 1_800)).toBe('24:30:00')
    expect(formatPbsWalltime(90.2)).toBe('00:01:31')
    expect(formatPbsWalltime(200 * 3_600)).toBe('200:00:00')
  })

  it('refuses a non-positive limit', () => {
    expect(() => formatPbsWalltime(0)).toThrow(RangeError)
    expect(() => formatPbsWalltime(Number.POSITIVE_INFINITY)).toThrow(RangeError)
  })
})

describe('parsePbsSizeMb', () => {
  it('reads b/kb/mb/gb/tb and words, 1024-based, bare numbers as bytes', () => {
    expect(parsePbsSizeMb('13378420kb')).toBeCloseTo(13_064.86, 2)
    expect(parsePbsSizeMb('128gb')).toBe(131_072)
    expect(parsePbsSizeMb('1024mb')).toBe(1_024)
    expect(parsePbsSizeMb('68719476736b')).toBe(65_536)
    expect(parsePbsSizeMb('34359738368')).toBe(32_768)
    expect(parsePbsSizeMb('1tb')).toBe(1_048_576)
    expect(parsePbsSizeMb('4mw')).toBe(32)
    expect(parsePbsSizeMb('0kb')).toBe(0)
    expect(parsePbsSizeMb('4GB')).toBe(4_096)
    expect(parsePbsSizeMb(4_294_967_296)).toBe(4_096)
  })

  it('refuses sizes without the b/w unit letter and other text', () => {
    for (const text of ['4m', '4g', '', 'lots', '-1kb', '1.5.2mb', '5 gb']) {
      expect(() => parsePbsSizeMb(text), text).toThrow(ParseError)
    }
  })

  it('formats requests as whole MB', () => {
    expect(formatPbsSizeMb(64_000)).toBe('64000mb')
    expect(formatPbsSizeMb(0.5)).toBe('1mb')
    expect(() => formatPbsSizeMb(0)).toThrow(RangeError)
  })
})

describe('parsePbsTimestamp', () => {
  it('reads ctime-style local times in the given zone', () => {
    expect(parsePbsTimestamp('Tue Apr  9 15:01:47 2013')?.toISOString()).toBe('2013-04-09T15:01:47.000Z')
    expect(parsePbsTimestamp('Sat Aug 23 17:33:03 2025', { utcOffsetMinutes: 600 })?.toISOString()).toBe(
      '2025-08-23T07:33:03.000Z',
    )
    // QUT Aqua is in Brisbane: UTC+10 without daylight saving
    expect(parsePbsTimestamp('Sat Aug 23 17:33:03 2025', { timeZone: 'Australia/Brisbane' })?.toISOString()).toBe(
      '2025-08-23T07:33:03.000Z',
    )
    expect(parsePbsTimestamp('Tue Oct  4 21:23:20 2022', { timeZone: 'Europe/Prague' })?.toISOString()).toBe(
      '2022-10-04T19:23:20.000Z',
    )
  })

  it('reads epoch seconds as a number or a digit string', () => {
    expect(parsePbsTimestamp('1522939158')?.toISOString()).toBe('2018-04-05T14:39:18.000Z')
    expect(parsePbsTimestamp(1_664_911_414)?.toISOString()).toBe('2022-10-04T19:23:34.000Z')
    expect(parsePbsTimestamp('')).toBeNull()
  })

  it('refuses other spellings and impossible dates', () => {
    for (const text of [
      '2023-04-05T06:07:08',
      'Tue Feb 30 10:00:00 2024',
      'Xyz Apr  9 15:01:47 2013',
      'Tue Apr 9 25:01:47 2013',
    ]) {
      expect(() => parsePbsTimestamp(text), text).toThrow(ParseError)
    }
    expect(() => parsePbsTimestamp(1.5)).toThrow(ParseError)
  })
})
