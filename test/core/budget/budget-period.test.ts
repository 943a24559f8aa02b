/** Budget periods → windows: UTC calendar months and their boundaries, rolling days, fixed windows and their errors. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { instantOf, isInWindow, parseInstant, periodWindow } from '../../../src/core/budget/budget-period.js'
import { BudgetError } from '../../../src/core/errors.js'

const at = (iso: string) => Date.parse(iso)

describe('periodWindow', () => {
  it('gives the UTC calendar month that contains now, from its first instant to the next month', () => {
    const w = periodWindow('month', at('2026-11-20T12:00:00Z'))
    expect(w).toEqual({
      from: at('2026-11-01T00:00:00Z'),
      until: at('2026-12-01T00:00:00Z'),
      includesUntil: false,
      label: 'month 2026-11',
    })
  })

  it('switches month exactly at midnight UTC, across a year end too', () => {
    expect(periodWindow('month', at('2026-11-30T23:59:59.999Z')).label).toBe('month 2026-11')
    expect(periodWindow('month', at('2026-12-01T00:00:00.000Z')).label).toBe('month 2026-12')
    const december = periodWindow('month', at('2026-12-31T23:00:00Z'))
    expect(december.until).toBe(at('2027-01-01T00:00:00Z'))
    expect(isInWindow(december, at('2026-12-31T23:59:59.999Z'))).toBe(true)
    expect(isInWindow(december, at('2027-01-01T00:00:00Z'))).toBe(false)
    expect(periodWindow('month', at('2027-01-01T00:00:00Z')).label).toBe('month 2027-01')
  })

  it('ends a rolling window at now, included, and starts it N days before', () => {
    const now = at('2026-11-20T12:00:00Z')
    const w = periodWindow({ rollingDays: 7 }, now)
    expect(w.from).toBe(at('2026-11-13T12:00:00Z'))
    expect(w.until).toBe(now)
    expect(isInWindow(w, now)).toBe(true)
    expect(isInWindow(w, w.from)).toBe(true)
    expect(isInWindow(w, w.from - 1)).toBe(false)
    expect(w.label).toBe('last 7 days')
  })

  it('reads a fixed window with a date-only until as the whole of that day, and date-times as UTC', () => {
    const q1 = periodWindow({ from: '2026-01-01', until: '2026-03-31' }, 0)
    expect(q1.from).toBe(at('2026-01-01T00:00:00Z'))
    expect(q1.until).toBe(at('2026-04-01T00:00:00Z'))
    expect(isInWindow(q1, at('2026-03-31T23:59:59Z'))).toBe(true)
    expect(q1.label).toBe('2026-01-01..2026-03-31')
    const noOffset = periodWindow({ from: '2026-01-01T06:00', until: '2026-01-02T06:00:00+02:00' }, 0)
    expect(noOffset.from).toBe(at('2026-01-01T06:00:00Z'))
    expect(noOffset.until).toBe(at('2026-01-02T04:00:00Z'))
  })

  it.each([
    [{ from: 'next monday', until: '2026-03-31' }, 'budget period from "next monday" is not an ISO 8601 date'],
    [{ from: '2026-02-30', until: '2026-03-31' }, 'budget period from "2026-02-30" is not a calendar date'],
    [{ from: '2026-01-01', until: '2026-13-01' }, 'budget period until "2026-13-01" is not a calendar date'],
    [{ from: '2026-03-01', until: '2026-01-31' }, 'from "2026-03-01" must come before until "2026-01-31"'],
    [{ rollingDays: 0 }, 'rollingDays must be a positive whole number, got 0'],
    [{ rollingDays: 1.5 }, 'rollingDays must be a positive whole number, got 1.5'],
  ])('refuses %j with a typed error naming the bad value', (period, message) => {
    let caught: unknown
    try {
      periodWindow(period, 0)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(BudgetError)
    expect((caught as BudgetError).code).toBe('budget-period-invalid')
    expect((caught as BudgetError).message).toContain(message)
  })
})

describe('instants', () => {
  it('reads toISOString output exactly as Date.parse does, without Date.parse', () => {
    fc.assert(
      fc.property(fc.integer({ min: -2_208_988_800_000, max: 7_258_118_400_000 }), (ms) => {
        const iso = new Date(ms).toISOString()
        expect(instantOf(iso)).toBe(ms)
        const seconds = `${iso.slice(0, 19)}Z`
        expect(instantOf(seconds)).toBe(Date.parse(seconds))
      }),
    )
  })

  it('falls back to Date.parse for other ISO forms, and names a bad timestamp in a typed error', () => {
    expect(instantOf('2026-11-20T12:00:00+02:00')).toBe(Date.parse('2026-11-20T10:00:00Z'))
    expect(instantOf('2026-11-20')).toBe(Date.parse('2026-11-20T00:00:00Z'))
    expect(instantOf('2026-02-30T00:00:00Z')).toBe(Date.parse('2026-02-30T00:00:00Z'))
    expect(Number.isNaN(instantOf('yesterday'))).toBe(true)
    expect(() => parseInstant('project p deadline', 'yesterday', 'config-invalid')).toThrow(
      expect.objectContaining({
        code: 'config-invalid',
        message: 'project p deadline "yesterday" is not an ISO timestamp',
      }),
    )
  })
})
