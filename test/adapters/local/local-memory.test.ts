// The local executor enforces a task's memory like a cluster does: a task whose processes together
// hold more than its `memory` is killed and reported out_of_memory; a task under it is left alone.
import { describe, expect, it } from 'vitest'
import { localSetup, until } from './local-job-setup.js'

const allocate = (mb: number, seconds: number) =>
  `/usr/bin/python3 -c "import time; b = b'x' * (${mb} << 20); time.sleep(${seconds})"`
const ended = (state: string) => state !== 'running' && state !== 'pending'

describe('local memory limit', () => {
  it('kills a task that holds more than its memory and reports out_of_memory with what it used', async () => {
    const { adapter, job } = localSetup()
    await adapter.submit([
      job('big', allocate(400, 60), {
        resources: { cpus: 1, memoryMb: 64, timeLimitSeconds: 120, gpus: null, nodes: 1 },
      }),
    ])
    const o = await until(adapter, 'big', (x) => ended(x.state))
    expect(o.state).toBe('out_of_memory')
    expect(o.reason).toMatch(/^used \d+ MB, over its 64 MB limit$/)
    expect(Number(/used (\d+)/.exec(o.reason ?? '')?.[1])).toBeGreaterThan(64)
  })

  it("counts all of a task's processes, also one that left its process group", async () => {
    const { adapter, job } = localSetup()
    await adapter.submit([
      job('many', `setsid ${allocate(60, 60)} & ${allocate(60, 60)}`, {
        resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 120, gpus: null, nodes: 1 },
      }),
    ])
    const o = await until(adapter, 'many', (x) => ended(x.state))
    expect(o.state).toBe('out_of_memory')
    expect(o.reason).toMatch(/over its 100 MB limit$/)
  })

  it('counts pages that forked workers share with their parent once, as a cgroup would', async () => {
    const { adapter, job } = localSetup()
    // four processes with 60 MB resident each, but one copy of it: RSS sums to 240 MB, PSS to 60 MB
    const forked = [
      'import os, time',
      "b = b'x' * (60 << 20)",
      'kids = [os.fork() for _ in range(1)] + [os.fork()]',
      'time.sleep(2)',
    ].join('; ')
    await adapter.submit([
      job('workers', `/usr/bin/python3 -c "${forked}"`, {
        resources: { cpus: 1, memoryMb: 150, timeLimitSeconds: 120, gpus: null, nodes: 1 },
      }),
    ])
    const o = await until(adapter, 'workers', (x) => ended(x.state))
    expect(o.state).toBe('succeeded')
  })

  it('leaves a task under its memory alone and reports the most it used', async () => {
    const { adapter, job } = localSetup()
    await adapter.submit([
      job('small', allocate(40, 1), {
        resources: { cpus: 1, memoryMb: 200, timeLimitSeconds: 120, gpus: null, nodes: 1 },
      }),
    ])
    const o = await until(adapter, 'small', (x) => ended(x.state))
    expect(o.state).toBe('succeeded')
    expect(o.usage?.maxRssMb).toBeGreaterThanOrEqual(40)
    expect(o.usage?.maxRssMb).toBeLessThan(200)
  })
})
