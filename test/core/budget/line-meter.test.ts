/** LineMeter reads the same number off TRES-hours as meterAmount, to the bit, for every kind of rule. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { BookLine } from '../../../src/core/budget/budget-admission.js'
import type { BudgetStatus } from '../../../src/core/budget/budget-status.js'
import { LineMeter } from '../../../src/core/budget/line-meter.js'
import { ANY_GPU, type BudgetResource, meterAmount, type TresHours } from '../../../src/core/budget/tres-hours.js'

const TYPES = ['a100', 'h100', 'v100', 'untyped', ANY_GPU] as const

function lineOf(resource: BudgetResource, gpuType: string | null, gpuWeights: Record<string, number>): BookLine {
  const status = { resource, gpuType, gpuWeights } as unknown as BudgetStatus
  return { status, used: 0, committed: 0 }
}

const hoursArb: fc.Arbitrary<TresHours> = fc.record({
  gpu: fc.dictionary(fc.constantFrom(...TYPES), fc.double({ min: 0, max: 1e4, noNaN: true })),
  cpu: fc.double({ min: 0, max: 1e4, noNaN: true }),
  memoryGb: fc.double({ min: 0, max: 1e4, noNaN: true }),
  billing: fc.double({ min: 0, max: 1e4, noNaN: true }),
})

const linesArb = fc.array(
  fc.record({
    resource: fc.constantFrom<BudgetResource>('gpu-hours', 'cpu-hours', 'memory-gb-hours', 'billing'),
    gpuType: fc.option(fc.constantFrom(...TYPES), { nil: null }),
    weights: fc.dictionary(fc.constantFrom(...TYPES), fc.double({ min: 0, max: 4, noNaN: true })),
  }),
  { maxLength: 6 },
)

describe('LineMeter', () => {
  it('meters as meterAmount does, line by line, at an offset', () => {
    fc.assert(
      fc.property(hoursArb, linesArb, (hours, specs) => {
        const lines = specs.map((s) => lineOf(s.resource, s.gpuType, s.weights))
        const out = new Float64Array(lines.length + 2)
        new LineMeter().meter(hours, lines, out, 2)
        const expected = lines.map((l) => meterAmount(l.status, hours, l.status.gpuWeights))
        expect(Array.from(out.subarray(2))).toEqual(expected)
      }),
    )
  })

  it('meters TRES-hours with more GPU types than it buffers as meterAmount does', () => {
    const gpu = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`type${i}`, 1 + i / 3]))
    const hours: TresHours = { gpu, cpu: 2, memoryGb: 3, billing: 4 }
    const weights = { type3: 2.5, type19: 0.25 }
    const lines = [lineOf('gpu-hours', null, weights), lineOf('gpu-hours', 'type17', {}), lineOf('cpu-hours', null, {})]
    const out = new Float64Array(3)
    new LineMeter().meter(hours, lines, out)
    expect(Array.from(out)).toEqual(lines.map((l) => meterAmount(l.status, hours, l.status.gpuWeights)))
  })
})
