// A job concluded before accounting had its record (Slurm: squeue says COMPLETED, sacct lags) is
// charged at the rate it asked for, and accounting's figure trues it up in a later round: the job's
// id rides along in the round's one poll, for charging only — the concluded attempt and task stay
// as they are — until the figure arrives or the grace period after the job's end passes. Real
// engine, store and budget service on the simulated cluster, behind an adapter whose accounting
// lags the way sacct does.
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { SimAdapter, type SimAdapterOptions } from '../../adapters/sim/sim-adapter.js'
import { ACCOUNTING_GRACE_MS, BudgetService } from '../../src/budget/budget-service.js'
import { loadConfig } from '../../src/config/load-config.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { chargedByUsageKey, checkLedger } from '../../src/core/budget/budget-ledger.js'
import { isTerminalJobState } from '../../src/core/job/job-state.js'
import type { App } from '../../src/create-app.js'
import { EventLog } from '../../src/events/event-log.js'
import type { JobObservation, NativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import type { RunStore } from '../../src/store/run-store.js'
import { syncOnce } from '../../src/sync/sync-runs.js'
import { simEngine } from '../support/sim-engine.js'

const START = Date.parse('2026-11-16T08:00:00Z')
const MINUTE = 60_000

// the simulated cluster is named in the config so that `rpo sync` (syncOnce) knows it
const CONFIG = `
defaultCluster: sim
clusters:
  sim: { kind: local, cpus: 1 }
projects:
  p:
    budgets: [{ resource: gpu-hours, amount: 1000 }]
`

// `short` asks for an untyped GPU; the cluster has only A100s, which accounting names
const SHORT = `
  short:
    command: short.sh
    resources: { cpus: 2, memory: 4G, gpus: 1, time: 1h }
    env: { RPO_SIM_DURATION: 10m }`
const PIPELINE = `
name: p
project: p
tasks:${SHORT}
  long:
    command: long.sh
    resources: { cpus: 2, memory: 4G, gpus: 1, time: 4h }
    env: { RPO_SIM_DURATION: 2h }
`

/**
 * The simulated cluster answering like Slurm's squeue + sacct: no allocation while a job runs, and
 * none for `lagMs` after it ended (sacct has no record yet). Records every poll's job ids.
 */
class LaggingAccounting extends SimAdapter {
  readonly polls: string[][] = []
  readonly #lagMs: number
  constructor(options: SimAdapterOptions & { readonly lagMs: number }) {
    super(options)
    this.#lagMs = options.lagMs
  }
  override async poll(jobIds: readonly NativeJobId[]): Promise<readonly JobObservation[]> {
    this.polls.push([...jobIds])
    const now = this.cluster.now()
    return (await super.poll(jobIds)).map((o) => {
      const recorded = isTerminalJobState(o.state) && o.endedAt !== null && now - o.endedAt.getTime() >= this.#lagMs
      if (recorded || !o.usage) return o
      const { allocTres: _withheld, ...usage } = o.usage
      return { ...o, usage }
    })
  }
}

async function scenario(lagMs: number, pipeline = PIPELINE) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rpo-trueup-'))
  writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
  const config = loadConfig({ configPath: path.join(dir, 'rpo.config.yaml') })
  const made: { adapter?: LaggingAccounting; budget?: BudgetService } = {}
  const sim = await simEngine({
    start: START,
    nodes: [{ name: 'g1', cpus: 32, memoryMb: 256_000, gpus: [{ type: 'a100', count: 4 }] }],
    budget: (store) => {
      made.budget = new BudgetService(config, store)
      return made.budget
    },
    adapter: (cluster) => {
      made.adapter = new LaggingAccounting({ cluster, lagMs })
      return made.adapter
    },
  })
  const { adapter, budget } = made
  if (!adapter || !budget) throw new Error('simEngine built no adapter or budget')
  const errors: string[] = []
  sim.engine.events.on('tick:error', (e) => errors.push(`${e.cause.code}: ${e.cause.message}`))
  const runId = (await sim.engine.startRun(loadPipelineText('/sim/p.yaml', pipeline))).run.id
  // what `rpo sync` is given: createApp's parts, with the simulated cluster's engine
  const app: App = {
    config,
    store: sim.store,
    budgets: budget,
    events: new EventLog(sim.store.events),
    engineFor: async () => sim.engine,
    clock: () => sim.clock.now(),
    close: () => sim.close(),
  }
  return {
    ...sim,
    runId,
    errors,
    budget,
    /** One `rpo sync` at `minute` minutes after the start: the job ids of each poll it made. */
    async syncAt(minute: number): Promise<string[][]> {
      sim.clock.advanceTo(START + minute * MINUTE)
      const before = adapter.polls.length
      await syncOnce(app)
      return adapter.polls.slice(before)
    },
    /** One cluster round at `minute` minutes after the start: the job ids of each poll it made. */
    async roundAt(minute: number): Promise<string[][]> {
      sim.clock.advanceTo(START + minute * MINUTE)
      const before = adapter.polls.length
      await sim.engine.tickCluster()
      return adapter.polls.slice(before)
    },
  }
}

type Scenario = Awaited<ReturnType<typeof scenario>>

/** The attempt of `task` and what the ledger charged its job run, per GPU type (hours). */
async function charged(store: RunStore, runId: string, task: string) {
  const { snapshot } = await store.loadSnapshot(runId)
  const attempt = snapshot.latestAttempts.find((a) => a.taskId === task)
  if (!attempt) throw new Error(`no attempt of ${task}`)
  const entries = await store.budgets.listEntries()
  const mine = [...chargedByUsageKey(entries)].filter(([key]) => key.startsWith(`${attempt.submissionKey}@`))
  return {
    attempt,
    usageKeys: mine.map(([key]) => key),
    charges: mine.reduce((n, [, c]) => n + c.charges, 0),
    gpu: mine[0]?.[1].hours.gpu ?? {},
    cpu: mine[0]?.[1].hours.cpu ?? 0,
    problems: checkLedger(entries),
  }
}

/** Rounds every minute from `from` until `short` has ended; returns the minute it ended. */
async function untilShortEnds(s: Scenario, from: number): Promise<number> {
  for (let minute = from; minute < 60; minute++) {
    await s.roundAt(minute)
    const { snapshot } = await s.store.loadSnapshot(s.runId)
    if (snapshot.latestAttempts.find((a) => a.taskId === 'short')?.state === 'succeeded') return minute
  }
  throw new Error('short never ended')
}

describe('a job concluded before accounting had its record', () => {
  it('is trued up to accounting’s figure in a later round, polled with the live jobs in one call, state untouched', async () => {
    const s = await scenario(3 * MINUTE)
    try {
      const ended = await untilShortEnds(s, 0)
      const shortJob = (await charged(s.store, s.runId, 'short')).attempt.jobId as string
      const longJob = (await charged(s.store, s.runId, 'long')).attempt.jobId as string
      // concluded from the queue's word: charged at the rate it asked for, an untyped GPU for 10 minutes
      const provisional = await charged(s.store, s.runId, 'short')
      expect(provisional.gpu).toEqual({ untyped: expect.closeTo(10 / 60, 9) })
      const concluded = await s.store.loadSnapshot(s.runId)
      const eventsBefore = await s.store.listEvents(s.runId)

      // accounting has no record yet: the job is asked about in the same one poll as the live job
      expect(await s.roundAt(ended + 1)).toEqual([[longJob, shortJob]])
      expect((await charged(s.store, s.runId, 'short')).gpu).toEqual(provisional.gpu)
      // accounting's record is in (3 minutes after the end): the A100 hours reach the ledger
      expect(await s.roundAt(ended + 3)).toEqual([[longJob, shortJob]])
      const trued = await charged(s.store, s.runId, 'short')
      expect(trued.gpu).toEqual({ untyped: expect.closeTo(10 / 60, 9), a100: expect.closeTo(10 / 60, 9) })
      expect(trued.usageKeys).toHaveLength(1)
      expect(trued.problems).toEqual([])
      // and it is asked about no more
      expect(await s.roundAt(ended + 4)).toEqual([[longJob]])

      // charging only: the concluded attempt, its task and the run's events are as they were
      const after = await s.store.loadSnapshot(s.runId)
      expect(after.snapshot.tasks.find((t) => t.id === 'short')).toEqual(
        concluded.snapshot.tasks.find((t) => t.id === 'short'),
      )
      expect(after.snapshot.latestAttempts.find((a) => a.taskId === 'short')).toEqual(
        concluded.snapshot.latestAttempts.find((a) => a.taskId === 'short'),
      )
      const eventsAfter = await s.store.listEvents(s.runId)
      expect(eventsAfter.filter((e) => e.taskId === 'short')).toEqual(eventsBefore.filter((e) => e.taskId === 'short'))
      expect(s.errors).toEqual([])
    } finally {
      await s.close()
    }
  })

  it('charges nothing twice: later rounds, a repeated report and the run’s end leave its figure as it was', async () => {
    const s = await scenario(3 * MINUTE)
    try {
      const ended = await untilShortEnds(s, 0)
      const concluded = await charged(s.store, s.runId, 'short')
      for (let minute = ended + 1; minute <= ended + 5; minute++) await s.roundAt(minute)
      const trued = await charged(s.store, s.runId, 'short')
      expect(trued.gpu.a100).toBeCloseTo(10 / 60, 9)
      // one true-up entry over what the job's end was charged
      expect(trued.charges).toBe(concluded.charges + 1)

      // the same accounting report handed to charging again adds nothing
      const { attempt } = trued
      const job = s.cluster.observe([attempt.jobId as NativeJobId])[0] as JobObservation
      const wait = {
        submissionKey: attempt.submissionKey,
        cluster: 'sim',
        jobId: attempt.jobId as string,
        usageKey: trued.usageKeys[0] as string,
        project: 'p',
        user: null,
        endedAt: new Date(START).toISOString(),
        until: new Date(START + 3_600_000).toISOString(),
      }
      const entries = (await s.store.budgets.listEntries()).length
      await s.budget.charge([], s.clock.now(), [{ wait, job }])
      await s.budget.charge([], s.clock.now(), [{ wait, job }])
      expect((await s.store.budgets.listEntries()).length).toBe(entries)

      // the long job runs out its two hours, ends, and is trued up in turn; the short one is untouched
      for (let minute = ended + 6; minute <= 130; minute += 1) await s.roundAt(minute)
      expect((await s.store.getRun(s.runId)).state).toBe('succeeded')
      const after = await charged(s.store, s.runId, 'short')
      expect(after.charges).toBe(trued.charges)
      expect(after.gpu).toEqual(trued.gpu)
      expect((await charged(s.store, s.runId, 'long')).gpu.a100).toBeCloseTo(2, 9)
      // nothing left to ask about: a round of an idle cluster polls nothing
      expect(await s.roundAt(140)).toEqual([])
      expect(after.problems).toEqual([])
      expect(s.errors).toEqual([])
    } finally {
      await s.close()
    }
  })

  it('is asked about no more once the grace period after its end has passed; its provisional charge stands', async () => {
    const s = await scenario(Number.POSITIVE_INFINITY)
    try {
      const ended = await untilShortEnds(s, 0)
      const concluded = await charged(s.store, s.runId, 'short')
      const shortJob = concluded.attempt.jobId as string
      const graceMinutes = ACCOUNTING_GRACE_MS / MINUTE
      const endedAt = Date.parse((await charged(s.store, s.runId, 'short')).attempt.endedAt as string)
      const lastAsked = Math.ceil((endedAt + ACCOUNTING_GRACE_MS - START) / MINUTE) - 1
      expect(lastAsked).toBeGreaterThan(ended)
      expect(lastAsked).toBeLessThanOrEqual(ended + graceMinutes)
      for (let minute = ended + 1; minute <= lastAsked; minute++) {
        const polls = await s.roundAt(minute)
        expect(polls).toHaveLength(1)
        expect(polls[0]).toContain(shortJob)
      }
      for (let minute = lastAsked + 1; minute <= lastAsked + 3; minute++) {
        const polls = await s.roundAt(minute)
        expect(polls).toHaveLength(1)
        expect(polls[0]).not.toContain(shortJob)
      }
      const { gpu, charges } = await charged(s.store, s.runId, 'short')
      expect(gpu).toEqual({ untyped: expect.closeTo(10 / 60, 9) })
      expect(charges).toBe(concluded.charges)
    } finally {
      await s.close()
    }
  })

  it('is not awaited when its ending already carried accounting’s figure', async () => {
    const s = await scenario(0)
    try {
      const ended = await untilShortEnds(s, 0)
      const longJob = (await charged(s.store, s.runId, 'long')).attempt.jobId as string
      expect(await s.roundAt(ended + 1)).toEqual([[longJob]])
      // accounting's figure came with the ending itself
      expect((await charged(s.store, s.runId, 'short')).gpu.a100).toBeCloseTo(10 / 60, 9)
    } finally {
      await s.close()
    }
  })
})

describe('the last jobs of a finished run', () => {
  const LAST = `
name: last
project: p
tasks:${SHORT}
`

  it('are still asked about by rpo sync, though no run is left running, until accounting trues them up', async () => {
    const s = await scenario(3 * MINUTE, LAST)
    try {
      let ended = -1
      for (let minute = 0; minute < 30 && ended < 0; minute++) {
        await s.syncAt(minute)
        if ((await s.store.getRun(s.runId)).state === 'succeeded') ended = minute
      }
      expect(ended).toBeGreaterThan(0)
      const job = (await charged(s.store, s.runId, 'short')).attempt.jobId as string
      expect((await charged(s.store, s.runId, 'short')).gpu).toEqual({ untyped: expect.closeTo(10 / 60, 9) })

      // the run is over; its cluster still has a job awaiting accounting: sync polls it alone
      expect(await s.syncAt(ended + 1)).toEqual([[job]])
      expect(await s.syncAt(ended + 3)).toEqual([[job]])
      const trued = await charged(s.store, s.runId, 'short')
      expect(trued.gpu).toEqual({ untyped: expect.closeTo(10 / 60, 9), a100: expect.closeTo(10 / 60, 9) })
      expect(trued.problems).toEqual([])
      // nothing left to ask about: sync leaves the cluster alone
      expect(await s.syncAt(ended + 4)).toEqual([])
      expect((await s.store.getRun(s.runId)).state).toBe('succeeded')
      expect(s.errors).toEqual([])
    } finally {
      await s.close()
    }
  })

  it('are asked about by rpo sync only until the grace period after their end has passed', async () => {
    const s = await scenario(Number.POSITIVE_INFINITY, LAST)
    try {
      let ended = -1
      for (let minute = 0; minute < 30 && ended < 0; minute++) {
        await s.syncAt(minute)
        if ((await s.store.getRun(s.runId)).state === 'succeeded') ended = minute
      }
      const { attempt } = await charged(s.store, s.runId, 'short')
      const lastAsked = Math.ceil((Date.parse(attempt.endedAt as string) + ACCOUNTING_GRACE_MS - START) / MINUTE) - 1
      expect(lastAsked).toBeGreaterThan(ended)
      for (let minute = ended + 1; minute <= lastAsked; minute++)
        expect(await s.syncAt(minute)).toEqual([[attempt.jobId as string]])
      for (let minute = lastAsked + 1; minute <= lastAsked + 3; minute++) expect(await s.syncAt(minute)).toEqual([])
      expect((await charged(s.store, s.runId, 'short')).gpu).toEqual({ untyped: expect.closeTo(10 / 60, 9) })
    } finally {
      await s.close()
    }
  })
})
