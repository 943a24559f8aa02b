/** TRES-hours from the adapters' allocTres keys, their arithmetic, and what each kind of rule counts. */
import { describe, expect, it } from 'vitest'
import {
  addTresHours,
  excessTresHours,
  meterAmount,
  scaleTresHours,
  subtractTresHours,
  tresHoursForScope,
  tresHoursOf,
  zeroTresHours,
} from '../../../src/core/budget/tres-hours.js'

describe('tresHoursOf', () => {
  it('counts typed GPUs per type, cpu, memory in GB (from MB) and billing, per hour held', () => {
    const h = tresHoursOf(
      { cpu: 8, mem: 65_536, node: 1, billing: 20, 'gres/gpu': 2, 'gres/gpu:a100': 2, energy: 5 },
      90 * 60,
    )
    expect(h).toEqual({ gpu: { a100: 3 }, cpu: 12, memoryGb: 96, billing: 30 })
  })

  it("puts GPUs the scheduler did not type under 'untyped', and the rest of a partly typed count too", () => {
    expect(tresHoursOf({ 'gres/gpu': 4 }, 3600).gpu).toEqual({ untyped: 4 })
    expect(tresHoursOf({ 'gres/gpu': 3, 'gres/gpu:v100': 2 }, 3600).gpu).toEqual({ v100: 2, untyped: 1 })
    expect(tresHoursOf({ 'gres/gpu:h100': 1, 'gres/gpu:a100': 2 }, 1800).gpu).toEqual({ h100: 0.5, a100: 1 })
  })

  it('gives zero for no time and never negative hours', () => {
    expect(tresHoursOf({ cpu: 4, 'gres/gpu': 1 }, -10)).toEqual({
      gpu: { untyped: 0 },
      cpu: 0,
      memoryGb: 0,
      billing: 0,
    })
  })
})

describe('arithmetic', () => {
  const a = { gpu: { a100: 2, v100: 1 }, cpu: 10, memoryGb: 4, billing: 1 }
  const b = { gpu: { a100: 0.5, h100: 3 }, cpu: 4, memoryGb: 6, billing: 0 }

  it('adds, subtracts and scales per meter and per GPU type', () => {
    expect(addTresHours(a, b)).toEqual({ gpu: { a100: 2.5, v100: 1, h100: 3 }, cpu: 14, memoryGb: 10, billing: 1 })
    expect(subtractTresHours(a, b)).toEqual({ gpu: { a100: 1.5, v100: 1, h100: -3 }, cpu: 6, memoryGb: -2, billing: 1 })
    expect(scaleTresHours(a, 2)).toEqual({ gpu: { a100: 4, v100: 2 }, cpu: 20, memoryGb: 8, billing: 2 })
    expect(addTresHours(zeroTresHours(), a)).toEqual(a)
  })

  it('takes only what grew in the excess, never a negative', () => {
    expect(excessTresHours(a, b)).toEqual({ gpu: { a100: 1.5, v100: 1 }, cpu: 6, memoryGb: 0, billing: 1 })
  })
})

describe('meterAmount', () => {
  const hours = { gpu: { a100: 10, v100: 4, untyped: 1 }, cpu: 100, memoryGb: 400, billing: 55 }
  const weights = { a100: 2, v100: 0.5 }

  it('counts one type raw for a typed gpu-hours rule', () => {
    expect(meterAmount({ resource: 'gpu-hours', gpuType: 'a100' }, hours, weights)).toBe(10)
    expect(meterAmount({ resource: 'gpu-hours', gpuType: 'h100' }, hours, weights)).toBe(0)
  })

  it('weights every type (1 when absent) for an all-types gpu-hours rule', () => {
    expect(meterAmount({ resource: 'gpu-hours', gpuType: null }, hours, weights)).toBe(10 * 2 + 4 * 0.5 + 1)
    expect(meterAmount({ resource: 'gpu-hours', gpuType: null }, hours)).toBe(15)
  })

  it('reads cpu-hours, memory-gb-hours and billing off their meters', () => {
    expect(meterAmount({ resource: 'cpu-hours', gpuType: null }, hours)).toBe(100)
    expect(meterAmount({ resource: 'memory-gb-hours', gpuType: null }, hours)).toBe(400)
    expect(meterAmount({ resource: 'billing', gpuType: null }, hours)).toBe(55)
  })

  it('reads back a grant amount of any scope exactly, whatever the weights', () => {
    const any = tresHoursForScope({ resource: 'gpu-hours', gpuType: null }, 7)
    expect(meterAmount({ resource: 'gpu-hours', gpuType: null }, any, weights)).toBe(7)
    expect(meterAmount({ resource: 'gpu-hours', gpuType: 'a100' }, any, weights)).toBe(0)
    const typed = tresHoursForScope({ resource: 'gpu-hours', gpuType: 'a100' }, 3)
    expect(meterAmount({ resource: 'gpu-hours', gpuType: 'a100' }, typed)).toBe(3)
    expect(
      meterAmount({ resource: 'billing', gpuType: null }, tresHoursForScope({ resource: 'billing', gpuType: null }, 9)),
    ).toBe(9)
  })
})
