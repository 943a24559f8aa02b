// The waiting line the scheduling pass walks: priority order, and snapshots that stay put while the
// line changes under them (a pass starts jobs, ends requeue jobs, while it walks the snapshot).
import { describe, expect, it } from 'vitest'
import type { SimJob } from '../../../adapters/sim/sim-job.js'
import { SimQueue } from '../../../adapters/sim/sim-queue.js'

// only what the queue reads: its priority (nice) and submission order
const job = (submitSeq: number, nice = 0) => ({ id: `j${submitSeq}`, submitSeq, nice }) as unknown as SimJob
const ids = (jobs: readonly SimJob[]) => jobs.map((j) => j.id)

describe('SimQueue', () => {
  it('keeps lower nice first, then submission order, whatever the order of arrival', () => {
    const queue = new SimQueue()
    for (const j of [job(3), job(1), job(4, -1), job(2), job(5, 2)]) queue.add(j)
    expect(ids(queue.jobs())).toEqual(['j4', 'j1', 'j2', 'j3', 'j5'])
    const j1 = queue.jobs()[1] as SimJob
    queue.renice(j1, 5)
    expect(ids(queue.jobs())).toEqual(['j4', 'j2', 'j3', 'j5', 'j1'])
  })

  it('hands out snapshots that do not change when the queue does', () => {
    const queue = new SimQueue()
    const [a, b, c] = [job(1), job(2), job(3)] as [SimJob, SimJob, SimJob]
    queue.add(a)
    queue.add(b)
    const before = queue.jobs()
    queue.add(c)
    queue.remove(a)
    expect(ids(before)).toEqual(['j1', 'j2'])
    const middle = queue.jobs()
    queue.removeAll(new Set([b]))
    expect(ids(middle)).toEqual(['j2', 'j3'])
    expect(ids(queue.jobs())).toEqual(['j3'])
    expect(queue.size).toBe(1)
    expect(queue.has(c)).toBe(true)
    expect(queue.has(a)).toBe(false)
  })

  it('adds a job once, and ignores removing one it does not hold', () => {
    const queue = new SimQueue()
    const a = job(1)
    queue.add(a)
    queue.add(a)
    queue.remove(job(9))
    expect(ids(queue.jobs())).toEqual(['j1'])
  })
})
