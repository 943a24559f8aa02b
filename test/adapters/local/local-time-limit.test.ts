// Time limits of the local executor: long ones (beyond setTimeout's 2^31-1 ms, about 24.8 days) must not
// fire at once, short ones still stop the task, and a checkpointing task's warning before a long limit
// must not arrive at once either.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { asNativeJobId } from '../../../src/scheduler/scheduler-adapter.js'
import { localSetup, until, untilFileOrEnd } from './local-job-setup.js'

const DAY = 86_400

describe('local time limits', () => {
  it('a task with a 30-day limit keeps running', async () => {
    const { dir, adapter, job } = localSetup()
    await adapter.submit([
      job('long', 'sleep 1; touch alive; sleep 300', {
        resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 30 * DAY, gpus: null, nodes: 1 },
      }),
    ])
    const o = await untilFileOrEnd(adapter, 'long', path.join(dir, 'alive'))
    expect(o.state).toBe('running')
    await adapter.cancel([asNativeJobId('long')])
    await until(adapter, 'long', (x) => x.state === 'cancelled')
  })

  it('a checkpointing task with a 30-day limit is not warned at once', async () => {
    const { dir, adapter, job } = localSetup()
    await adapter.submit([
      job('warned', "trap 'touch warned; exit 85' USR2; sleep 1; touch alive; sleep 300 & wait", {
        resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 30 * DAY, gpus: null, nodes: 1 },
        checkpoint: { signal: 'USR2', leadSeconds: 120, maxRestarts: 3 },
      }),
    ])
    const o = await untilFileOrEnd(adapter, 'warned', path.join(dir, 'alive'))
    expect(o.state).toBe('running')
    await adapter.cancel([asNativeJobId('warned')])
    await until(adapter, 'warned', (x) => x.state === 'cancelled')
  })

  it('a short limit still stops the task', async () => {
    const { adapter, job } = localSetup()
    await adapter.submit([
      job('short', 'sleep 300', { resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 1, gpus: null, nodes: 1 } }),
    ])
    const o = await until(adapter, 'short', (x) => x.state !== 'running' && x.state !== 'pending')
    expect(o.state).toBe('timeout')
    expect(o.reason).toBe('ran past its time limit of 1s and was stopped')
  })
})

describe('local kill grace', () => {
  it('a kill grace beyond 24.8 days does not turn the SIGTERM at the limit into an immediate SIGKILL', async () => {
    const { dir, adapter, job, jobsRoot } = localSetup({ killGraceMs: 30 * DAY * 1000 })
    await adapter.submit([
      job('graceful', "trap 'touch termed' TERM; while :; do [ -f termed ] && touch survived; sleep 0.1; done", {
        resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 1, gpus: null, nodes: 1 },
      }),
    ])
    const o = await untilFileOrEnd(adapter, 'graceful', path.join(dir, 'survived'))
    const status = JSON.parse(readFileSync(path.join(jobsRoot, 'graceful/status.json'), 'utf8'))
    process.kill(-status.pid, 'SIGKILL')
    expect(o.state).toBe('running')
    await until(adapter, 'graceful', (x) => x.state === 'timeout')
  })
})

describe('local waitForChange', () => {
  it('a wait beyond 24.8 days does not return at once', async () => {
    const { adapter } = localSetup()
    let returned = false
    const wait = adapter.waitForChange(30 * DAY * 1000).then(() => {
      returned = true
    })
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(returned).toBe(false)
    await adapter.close()
    await wait
  })
})
