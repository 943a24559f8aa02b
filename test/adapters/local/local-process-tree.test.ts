// Every process a local task started ends with it, including those that left its process group:
// a `setsid` child and a double-forked daemon, whether the task ended by itself, was cancelled or
// ran past its time limit, or its launcher was killed.
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { asNativeJobId } from '../../../src/scheduler/scheduler-adapter.js'
import { isProcessAlive } from '../../support/cli-harness.js'
import { localSetup, until } from './local-job-setup.js'

// a setsid child, and a daemon whose parent exits at once (reparented away from the task)
const ESCAPE = [
  'setsid sleep 300 & echo $! > escaped.pid',
  "(setsid bash -c 'sleep 300 & echo $! > daemon.pid' &)",
  'while [ ! -s daemon.pid ]; do sleep 0.05; done',
  'touch started',
].join('; ')
// a child that cleared its environment (no marker): found as a child of the task's shell while it runs
const CLEARED = 'env -i /usr/bin/setsid /bin/sleep 300 & echo $! > cleared.pid'
const ended = (state: string) => state !== 'running' && state !== 'pending'

function escapees(dir: string, files = ['escaped.pid', 'daemon.pid']): number[] {
  return files.map((file) => Number(readFileSync(path.join(dir, file), 'utf8')))
}

describe('local process tree', () => {
  it('ends processes that left the process group when the task ends by itself', async () => {
    const { dir, adapter, job } = localSetup()
    await adapter.submit([job('done', ESCAPE)])
    const o = await until(adapter, 'done', (x) => ended(x.state))
    expect(o.state).toBe('succeeded')
    const pids = escapees(dir)
    expect(pids.filter(isProcessAlive)).toEqual([])
  })

  it('ends them on cancel', async () => {
    const { dir, adapter, job } = localSetup()
    await adapter.submit([job('cancelled', `${CLEARED}; ${ESCAPE}; sleep 300`)])
    await until(adapter, 'cancelled', (x) => existsSync(path.join(dir, 'started')) || ended(x.state))
    await adapter.cancel([asNativeJobId('cancelled')])
    const o = await until(adapter, 'cancelled', (x) => ended(x.state))
    expect(o.state).toBe('cancelled')
    expect(escapees(dir, ['escaped.pid', 'daemon.pid', 'cleared.pid']).filter(isProcessAlive)).toEqual([])
  })

  it('ends them at the time limit', async () => {
    const { dir, adapter, job } = localSetup()
    await adapter.submit([
      job('late', `${CLEARED}; ${ESCAPE}; sleep 300`, {
        resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 2, gpus: null, nodes: 1 },
      }),
    ])
    const o = await until(adapter, 'late', (x) => ended(x.state))
    expect(o.state).toBe('timeout')
    expect(escapees(dir, ['escaped.pid', 'daemon.pid', 'cleared.pid']).filter(isProcessAlive)).toEqual([])
  })

  it('ends them, and the task, when its launcher was killed and the job is reported node_fail', async () => {
    const { dir, jobsRoot, adapter, job } = localSetup()
    await adapter.submit([job('orphaned', `${ESCAPE}; sleep 300`)])
    await until(adapter, 'orphaned', (x) => existsSync(path.join(dir, 'started')) || ended(x.state))
    const status = JSON.parse(readFileSync(path.join(jobsRoot, 'orphaned/status.json'), 'utf8'))
    process.kill(status.launcherPid, 'SIGKILL')
    const o = await until(adapter, 'orphaned', (x) => ended(x.state))
    expect(o.state).toBe('node_fail')
    expect([status.pid, ...escapees(dir)].filter(isProcessAlive)).toEqual([])
  })
})
