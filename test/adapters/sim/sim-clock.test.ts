import { describe, expect, it } from 'vitest'
import { SimClock } from '../../../adapters/sim/sim-clock.js'

describe('SimClock', () => {
  it('runs events in time order, same-time events in the order they were scheduled, each at its own time', () => {
    const clock = new SimClock(1000)
    const seen: string[] = []
    clock.at(3000, () => seen.push(`c@${clock.now()}`))
    clock.at(2000, () => seen.push(`a@${clock.now()}`))
    clock.at(2000, () => seen.push(`b@${clock.now()}`))
    clock.advanceTo(2500)
    expect(seen).toEqual(['a@2000', 'b@2000'])
    expect(clock.now()).toBe(2500)
    clock.advanceBy(500)
    expect(seen).toEqual(['a@2000', 'b@2000', 'c@3000'])
  })

  it('runs events that events schedule, when they fall inside the advance', () => {
    const clock = new SimClock()
    const seen: number[] = []
    clock.at(10, () => {
      seen.push(clock.now())
      clock.after(5, () => seen.push(clock.now()))
      // a nested advance (a scenario step calling into the cluster) must not recurse
      clock.advanceTo(clock.now())
    })
    clock.advanceTo(100)
    expect(seen).toEqual([10, 15])
  })

  it('never goes back in time, and schedules "in the past" at now', () => {
    const clock = new SimClock(50)
    expect(() => clock.advanceTo(10)).toThrow(expect.objectContaining({ code: 'usage' }))
    const timer = clock.at(0, () => undefined)
    expect(timer.atMs).toBe(50)
  })

  it('skips cancelled events', () => {
    const clock = new SimClock()
    const seen: string[] = []
    const timer = clock.at(5, () => seen.push('cancelled'))
    clock.at(6, () => seen.push('kept'))
    timer.cancel()
    expect(clock.nextEventAt()).toBe(6)
    clock.runUntilIdle()
    expect(seen).toEqual(['kept'])
    expect(clock.now()).toBe(6)
  })

  it('runs until idle, or until a given time, and gives up on a scenario that never settles', () => {
    const clock = new SimClock()
    clock.at(10, () => undefined)
    clock.at(20, () => undefined)
    expect(clock.runUntilIdle({ untilMs: 15 })).toBe(15)
    expect(clock.runUntilIdle()).toBe(20)
    const forever = () => {
      clock.after(1, forever)
    }
    forever()
    expect(() => clock.runUntilIdle({ maxEvents: 1000 })).toThrow(expect.objectContaining({ code: 'internal' }))
  })

  it('keeps a large number of events in order', () => {
    const clock = new SimClock()
    const seen: number[] = []
    // a fixed permutation of 0..999 (multiplication by a unit mod 1000)
    for (let i = 0; i < 1000; i++) {
      const at = (i * 337) % 1000
      clock.at(at, () => seen.push(at))
    }
    clock.runUntilIdle()
    expect(seen).toEqual([...seen].sort((a, b) => a - b))
    expect(seen).toHaveLength(1000)
    expect(clock.eventsRun).toBe(1000)
  })
})
