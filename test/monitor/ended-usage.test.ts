/**
 * Accounting read after the end (fillEndedUsage) against a real SQLite store: ended Slurm/PBS attempts
 * without a CPU figure are polled once per cluster with `accountingOf`, what comes back is stored and
 * not asked again; local attempts, running ones and measured ones are not asked; a cluster that
 * cannot be reached is a problem in words, not an error. The adapter here answers as scripted (the
 * live test, test/cluster/slurm-efficiency.test.ts, has the testbed's sacct answer).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { ResolvedConfig } from '../../src/config/load-config.js'
import { TransportError } from '../../src/core/errors.js'
import type { ResourceUsage } from '../../src/core/job/job-observation.js'
import type { App } from '../../src/create-app.js'
import { fillEndedUsage } from '../../src/monitor/ended-usage.js'
import { catchUpEndedUsage, startUsageCatchUp } from '../../src/monitor/usage-catch-up.js'
import { asNativeJobId, type NativeJobId, type PollOptions } from '../../src/scheduler/scheduler-adapter.js'
import type { RunStore } from '../../src/store/run-store.js'
import { attemptOf, newRunOf, pipelineOf, T0 } from '../support/fixtures.js'
import { openRunStore, sqliteHarness } from '../support/store-dialects.js'

const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString()

const PIPELINE = pipelineOf(`
name: mixed
tasks:
  a: { command: a.sh, cluster: hpc }
  b: { command: b.sh, cluster: hpc }
  c: { command: c.sh, cluster: box }
  d: { command: d.sh, cluster: pbs1 }
  e: { command: e.sh, cluster: hpc }
`)

const CONFIG = {
  clusters: { hpc: { kind: 'slurm' }, box: { kind: 'local' }, pbs1: { kind: 'pbs' } },
} as unknown as ResolvedConfig

/** An engine whose scheduler answers every job it is polled for as completed, having used `usageOf(id)`. */
function answeringEngine(
  usageOf: (id: string) => ResourceUsage,
  onPoll: (ids: readonly NativeJobId[], options?: PollOptions) => void,
): Awaited<ReturnType<App['engineFor']>> {
  return {
    adapter: {
      poll: async (ids: readonly NativeJobId[], options?: PollOptions) => {
        onPoll(ids, options)
        return ids.map((id) => ({
          jobId: asNativeJobId(id),
          state: 'succeeded' as const,
          nativeState: 'COMPLETED',
          exitCode: 0,
          startedAt: null,
          endedAt: null,
          usage: usageOf(id),
        }))
      },
    },
  } as unknown as Awaited<ReturnType<App['engineFor']>>
}

describe('fillEndedUsage', () => {
  const harness = sqliteHarness()
  let store: RunStore
  const polls: { cluster: string; ids: readonly NativeJobId[]; accountingOf: readonly NativeJobId[] }[] = []

  beforeAll(async () => {
    store = await openRunStore(await harness.setUp())
    await store.createRun(newRunOf(PIPELINE, 'r1', at(0), { cluster: 'hpc', user: 'alice' }))
    const ended = (taskId: string, jobId: string) =>
      attemptOf(taskId, 1, {
        submissionKey: `rpo.r1.${taskId}.1`,
        jobId,
        state: 'succeeded',
        submittedAt: at(0),
        startedAt: at(10),
        endedAt: at(100),
      })
    expect(
      await store.applyPlan('r1', 'running', {
        taskUpdates: new Map(),
        attemptUpdates: new Map(),
        newTasks: [],
        newAttempts: [
          ended('a', '101'),
          ended('b', '102'),
          ended('c', 'rpo.r1.c.1'),
          ended('d', '7.pbs'),
          attemptOf('e', 1, { submissionKey: 'rpo.r1.e.1', jobId: '103', state: 'running', startedAt: at(10) }),
        ],
        events: [],
        runState: 'running',
        now: at(200),
      }),
    ).toBe(true)
    // b already has its figure (a tick that asked sacct)
    await store.recordEndedUsage(new Map([['rpo.r1.b.1', { elapsedSeconds: 90, cpuSeconds: 80 }]]))
  })

  afterAll(async () => {
    if (store) await store.close()
    await harness.tearDown()
  })

  const app = (): Pick<App, 'config' | 'engineFor' | 'store'> => ({
    config: CONFIG,
    store,
    engineFor: async (cluster) => {
      if (cluster === 'pbs1') throw new TransportError('ssh-timeout', 'cannot reach pbs1.example:22')
      return answeringEngine(
        () => ({ elapsedSeconds: 90, cpuSeconds: 45, maxRssMb: 12, allocTres: { cpu: 4 } }),
        (ids, options) => polls.push({ cluster: cluster as string, ids, accountingOf: options?.accountingOf ?? [] }),
      )
    },
  })

  it('asks each cluster once for the ended jobs it never measured, stores the answers and reports the rest', async () => {
    const attempts = await store.history.attempts({})
    const result = await fillEndedUsage(app(), attempts)
    expect(polls).toEqual([{ cluster: 'hpc', ids: ['101'], accountingOf: ['101'] }])
    expect(result).toMatchObject({ asked: 2, filled: 1 })
    expect(result.problems).toEqual([
      'accounting of 1 job(s) on pbs1 not read: cannot reach pbs1.example:22 (ssh-timeout)',
    ])
    expect(result.attempts.find((a) => a.taskId === 'a')?.usage).toMatchObject({ cpuSeconds: 45, maxRssMb: 12 })
    const stored = await store.history.attempts({})
    expect(stored.find((a) => a.taskId === 'a')?.usage).toMatchObject({ cpuSeconds: 45 })
    expect(stored.find((a) => a.taskId === 'b')?.usage).toEqual({ elapsedSeconds: 90, cpuSeconds: 80 })

    // stored: a second look asks only what is still unmeasured (the unreachable PBS job)
    polls.length = 0
    const again = await fillEndedUsage(app(), stored)
    expect(polls).toEqual([])
    expect(again).toMatchObject({ asked: 1, filled: 0 })
  })
})

describe('the daemon’s accounting catch-up', () => {
  const harness = sqliteHarness()
  let store: RunStore
  const asked: string[][] = []
  const HOUR = 3600
  // "now" is 7 hours after T0: a's job ended an hour ago, d's (PBS) just now, e's 7 hours ago
  const now = T0 + 7 * HOUR * 1000

  beforeAll(async () => {
    store = await openRunStore(await harness.setUp())
    await store.createRun(newRunOf(PIPELINE, 'r2', at(0), { cluster: 'hpc', user: 'alice' }))
    const ended = (taskId: string, jobId: string, endedAt: number) =>
      attemptOf(taskId, 1, {
        submissionKey: `rpo.r2.${taskId}.1`,
        jobId,
        state: 'succeeded',
        submittedAt: at(0),
        startedAt: at(1),
        endedAt: at(endedAt),
      })
    await store.applyPlan('r2', 'running', {
      taskUpdates: new Map(),
      attemptUpdates: new Map(),
      newTasks: [],
      newAttempts: [
        ended('a', '201', 6 * HOUR),
        ended('c', 'rpo.r2.c.1', 6 * HOUR),
        ended('d', '9.pbs', 7 * HOUR),
        ended('e', '203', 10),
      ],
      events: [],
      runState: 'running',
      now: at(7 * HOUR),
    })
  })

  afterAll(async () => {
    if (store) await store.close()
    await harness.tearDown()
  })

  const app = (answer: (id: string) => number | undefined) => ({
    config: CONFIG,
    store,
    clock: () => now,
    engineFor: async () =>
      answeringEngine(
        (id) => ({ elapsedSeconds: 60, ...(answer(id) === undefined ? {} : { cpuSeconds: answer(id) }) }),
        (ids) => asked.push([...ids]),
      ),
  })

  it('asks each Slurm and PBS cluster about its jobs ended within 6 hours, never local ones or older ones', async () => {
    // the PBS job's accounting has no CPU figure yet (as slurmdbd before it has the steps)
    const pass = await catchUpEndedUsage(
      app((id) => (id === '201' ? 30 : undefined)),
      now,
    )
    expect(asked.flat().sort()).toEqual(['201', '9.pbs'])
    expect(pass).toEqual({ asked: 2, filled: 1, problems: [] })
    const stored = await store.history.attempts({ runId: 'r2' })
    expect(stored.find((a) => a.taskId === 'a')?.usage).toMatchObject({ cpuSeconds: 30 })
    expect(stored.find((a) => a.taskId === 'd')?.usage?.cpuSeconds).toBeUndefined()
    expect(stored.find((a) => a.taskId === 'e')?.usage?.cpuSeconds).toBeUndefined()
  })

  it('runs a pass at start and every interval, says what it measured, and stops after the pass in flight', async () => {
    asked.length = 0
    const lines: string[] = []
    const catchUp = startUsageCatchUp(
      app(() => 12),
      { intervalMs: 20, report: (line) => lines.push(line) },
    )
    await vi.waitFor(() => expect(lines).toContain('accounting catch-up: 1 of 1 ended job(s) measured'))
    await catchUp.stop()
    // the first pass measured the PBS job; the passes after it find nothing left to ask
    expect(asked).toEqual([['9.pbs']])
    const count = lines.length
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(lines).toHaveLength(count)
  })
})
