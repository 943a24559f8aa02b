/**
 * Kept snapshots (loadSnapshotsKept) on both databases: a run whose rows did not change is not read
 * again, and every way a task or attempt row is written — a plan, the scheduler's answer, a budget
 * hold, accounting's usage, another process's store — is seen at the next read, because the
 * database stamps the revision (migration 012), not rpo's write paths.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StoreTarget } from '../../src/config/load-config.js'
import { expandForeach } from '../../src/core/pipeline/expand-pipeline.js'
import { openDatabase } from '../../src/store/open-store.js'
import type { NewRun, RunStore } from '../../src/store/run-store.js'
import { SnapshotCache } from '../../src/store/snapshot-cache.js'
import { newRunOf, pipelineOf, planWrite, submitting, T0 } from '../support/fixtures.js'
import { openRunStore, STORE_DIALECTS } from '../support/store-dialects.js'

const iso = (offsetSeconds = 0) => new Date(T0 + offsetSeconds * 1000).toISOString()

let counter = 0
function newRun(): NewRun {
  counter++
  const loaded = pipelineOf(`
name: kept${counter}
tasks:
  prep: { command: p }
  train: { command: "t {{params.lr}}", matrix: { lr: [0.1, 0.01, 0.001] }, after: [prep] }
  each: { command: "e {{item}}", foreach: { task: prep, output: xs } }
`)
  return newRunOf(loaded, `kept-${counter}`, iso())
}

describe.each(STORE_DIALECTS.map((make) => ({ make, name: make().name })))('kept snapshots on $name', ({ make }) => {
  const harness = make()
  let target: StoreTarget
  let store: RunStore
  let other: RunStore

  beforeAll(async () => {
    target = await harness.setUp()
    store = await openRunStore(target)
    other = await openRunStore(target)
  })

  afterAll(async () => {
    await store?.close()
    await other?.close()
    await harness.tearDown()
  })

  /** What the kept read says equals a fresh read, and whether it read the run again. */
  async function keptMatchesFresh(runId: string, before: readonly unknown[] | null) {
    const run = await store.getRun(runId)
    const [kept] = await store.loadSnapshotsKept([run])
    const [fresh] = await store.loadSnapshots([run])
    expect(kept?.snapshot).toEqual(fresh?.snapshot)
    return { tasks: kept?.snapshot.tasks as readonly unknown[], reread: kept?.snapshot.tasks !== before }
  }

  it('reads an unchanged run once, and again after each kind of write to its rows', async () => {
    const run = newRun()
    await store.createRun(run)
    const key = `rpo.${run.id}.prep.1`
    let seen = await keptMatchesFresh(run.id, null)
    expect(seen.reread).toBe(true)
    seen = await keptMatchesFresh(run.id, seen.tasks)
    expect(seen.reread).toBe(false)

    const writes: [string, () => Promise<unknown>][] = [
      [
        'a plan submitting an attempt',
        () => store.applyPlan(run.id, 'running', planWrite({ newAttempts: [submitting(run.id, 'prep')] })),
      ],
      [
        'the scheduler answering it',
        () => store.updateAttempts(new Map([[key, { jobId: '41', state: 'pending' as const }]])),
      ],
      [
        'a budget hold',
        () => store.budgets.markAttempts(new Map([[key, { heldReason: 'over the soft cap', nice: 100 }]])),
      ],
      [
        'a plan ending it',
        () =>
          store.applyPlan(
            run.id,
            'running',
            planWrite({
              attemptUpdates: new Map([[key, { state: 'succeeded' as const, exitCode: 0, endedAt: iso(90) }]]),
              taskUpdates: new Map([['prep', { state: 'succeeded' as const }]]),
            }),
          ),
      ],
      [
        'accounting usage read after the end',
        () => store.recordEndedUsage(new Map([[key, { cpuSeconds: 12, maxRssMb: 300 }]])),
      ],
      ['another process writing', () => other.updateAttempts(new Map([[key, { missedPolls: 2 }]]))],
      [
        'a fan-out adding tasks',
        () => {
          const template = run.pipeline.tasks.find((t) => t.name === 'each')
          if (!template) throw new Error('the pipeline has no fan-out')
          return store.applyPlan(run.id, 'running', planWrite({ newTasks: expandForeach(template, ['a', 'b']) }))
        },
      ],
      [
        'a second attempt',
        () => store.applyPlan(run.id, 'running', planWrite({ newAttempts: [submitting(run.id, 'prep', 2)] })),
      ],
      ['a late write to the first attempt', () => store.recordEndedUsage(new Map([[key, { cpuSeconds: 13 }]]))],
    ]
    for (const [what, write] of writes) {
      await write()
      seen = await keptMatchesFresh(run.id, seen.tasks)
      expect(seen.reread, what).toBe(true)
      seen = await keptMatchesFresh(run.id, seen.tasks)
      expect(seen.reread, `${what}, read twice`).toBe(false)
    }
    const [attempt] = (await store.loadSnapshotsKept([await store.getRun(run.id)]))[0]?.snapshot.latestAttempts ?? []
    // the latest attempt of prep is the second, whatever was written to the first after it
    expect(attempt).toMatchObject({ attempt: 2, state: 'submitting' })
    const tasks = (await store.loadSnapshotsKept([await store.getRun(run.id)]))[0]?.snapshot.tasks ?? []
    expect(tasks.map((t) => t.id).slice(-2)).toEqual(['each.0', 'each.1'])
  })

  it('keeps the run state from the record it is given, never from what it kept', async () => {
    const run = newRun()
    await store.createRun(run)
    const record = await store.getRun(run.id)
    await store.loadSnapshotsKept([record])
    const [again] = await store.loadSnapshotsKept([{ ...record, state: 'cancelling' }])
    expect(again?.snapshot.state).toBe('cancelling')
  })

  it('drops the runs used least long ago past its bound of tasks kept', async () => {
    const opened = await openDatabase(target)
    try {
      const cache = new SnapshotCache(opened.db, opened.description, {
        incremental: opened.dialect === 'sqlite',
        maxTasks: 6,
      })
      const a = newRun()
      const b = newRun()
      await store.createRun(a)
      await store.createRun(b)
      const [runA, runB] = [await store.getRun(a.id), await store.getRun(b.id)]
      const [first] = await cache.load([runA])
      const [kept] = await cache.load([runA])
      expect(kept?.snapshot.tasks).toBe(first?.snapshot.tasks)
      await cache.load([runB]) // 5 + 5 tasks > 6: runA goes
      const [reread] = await cache.load([runA])
      expect(reread?.snapshot.tasks).not.toBe(first?.snapshot.tasks)
      expect(reread?.snapshot.tasks).toEqual(first?.snapshot.tasks)
      // one call asking for more than the bound still answers every run, changed or not
      await store.updateAttempts(new Map([[`rpo.${b.id}.prep.1`, { missedPolls: 1 }]]))
      const both = await cache.load([runA, runB])
      const fresh = await store.loadSnapshots([runA, runB])
      expect(both.map((r) => r.snapshot.tasks.length)).toEqual([5, 5])
      expect(both.map((r) => r.snapshot)).toEqual(fresh.map((r) => r.snapshot))
    } finally {
      await opened.db.destroy()
    }
  })
})
