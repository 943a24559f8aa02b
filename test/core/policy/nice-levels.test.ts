/** The nice mapping: bounded, monotone in rank, and over-soft work always after in-budget work. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { NICE_MAX, NICE_OVER_SOFT, niceForRank } from '../../../src/core/policy/nice-levels.js'

describe('niceForRank', () => {
  it('maps in-budget ranks onto 0..5000 and over-soft ranks onto 5100..10000, in steps of 100', () => {
    expect([0, 1, 50, 99].map((rank) => niceForRank(rank, 100, false))).toEqual([0, 0, 2500, 5000])
    expect([0, 1, 50, 99].map((rank) => niceForRank(rank, 100, true))).toEqual([5100, 5100, 7600, 10_000])
    expect(niceForRank(0, 1, false)).toBe(0)
    expect(niceForRank(1, 2, false)).toBe(2500)
  })

  it('is bounded and never decreases with rank, and any over-soft value is above any in-budget value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.nat(), fc.nat(), (count, a, b) => {
        const [low, high] = [Math.min(a, b) % count, Math.max(a, b) % count].sort((x, y) => x - y) as [number, number]
        for (const overSoft of [false, true]) {
          const first = niceForRank(low, count, overSoft)
          const second = niceForRank(high, count, overSoft)
          expect(second).toBeGreaterThanOrEqual(first)
          expect(first % 100).toBe(0)
          expect(second).toBeLessThanOrEqual(NICE_MAX)
        }
        expect(niceForRank(high, count, false)).toBeLessThan(NICE_OVER_SOFT)
        expect(niceForRank(low, count, true)).toBeGreaterThanOrEqual(NICE_OVER_SOFT)
      }),
    )
  })
})
