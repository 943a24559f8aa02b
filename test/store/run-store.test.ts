/**
 * The run repository against real databases: the same suite on SQLite and PostgreSQL. Runs,
 * snapshots, atomic plan writes that refuse stale plans, submission-key uniqueness, leases, events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RpoError } from '../../src/core/errors.js'
import { expandForeach } from '../../src/core/pipeline/expand-pipeline.js'
import type { NewRun, RunStore } from '../../src/store/run-store.js'
import { newRunOf, pipelineOf, planWrite, submitting, T0 } from '../support/fixtures.js'
import { openRunStore, STORE_DIALECTS } from '../support/store-dialects.js'

const iso = (offsetSeconds = 0) => new Date(T0 + offsetSeconds * 1000).toISOString()

let counter = 0
function newRun(overrides: Partial<NewRun> & { name?: string } = {}): NewRun {
  counter++
  const name = overrides.name ?? `pipe${counter}`
  const loaded = pipelineOf(`
name: ${name}
tasks:
  prep: { command: p }
  train: { command: "t {{params.lr}}", matrix: { lr: [0.1, 0.01] }, after: [prep] }
  list: { command: l }
  each: { command: "e {{item}}", foreach: { task: list, output: xs } }
`)
  return newRunOf(loaded, `run-${counter}`, iso(), overrides)
}

async function rejectionOf(promise: Promise<unknown>): Promise<RpoError> {
  try {
    await promise
  } catch (error) {
    return error as RpoError
  }
  throw new Error('expected a rejection')
}

describe.each(STORE_DIALECTS.map((make) => ({ make, name: make().name })))('RunStore on $name', ({ make }) => {
  const harness = make()
  let store: RunStore

  beforeAll(async () => {
    store = await openRunStore(await harness.setUp())
  })

  afterAll(async () => {
    if (store) await store.close()
    await harness.tearDown()
  })

  it('creates a run and loads it back as a snapshot with tasks in order, params and templates', async () => {
    const run = newRun()
    await store.createRun(run)
    const { run: record, snapshot } = await store.loadSnapshot(run.id)
    expect(record).toMatchObject({
      id: run.id,
      pipelineName: run.pipeline.name,
      cluster: 'local',
      specHash: run.specHash,
      state: 'running',
      createdAt: iso(),
      finishedAt: null,
    })
    expect(record.pipeline).toEqual(run.pipeline)
    expect(snapshot.state).toBe('running')
    expect(snapshot.tasks.map((t) => t.id)).toEqual(run.instances.map((i) => i.id))
    expect(snapshot.tasks.find((t) => t.id === 'train.1')).toMatchObject({
      group: 'train',
      params: { lr: 0.01 },
      command: 't 0.01',
    })
    expect(snapshot.tasks.find((t) => t.id === 'each')).toMatchObject({
      kind: 'foreach-template',
      state: 'pending',
      item: null,
    })
    expect(snapshot.tasks.every((t) => t.attempts === 0 && t.outputs === null)).toBe(true)
    expect(snapshot.latestAttempts).toEqual([])
    expect((await store.listEvents(run.id)).map((e) => e.type)).toEqual(['run:created'])
  })

  it('says which run is missing', async () => {
    const error = await rejectionOf(store.getRun('no-such-run'))
    expect(error.code).toBe('run-not-found')
    expect(error.message).toContain('no-such-run')
  })

  it('finds the newest running or interrupted run of the same pipeline, hash and cluster — never a finished one', async () => {
    const a = newRun({ name: 'resumable', now: iso(0) })
    const b = newRun({ name: 'resumable', now: iso(60) })
    const c = newRun({ name: 'resumable', now: iso(120) })
    const other = newRun({ name: 'resumable', now: iso(180), cluster: 'slurm' })
    for (const run of [a, b, c, other]) await store.createRun(run)
    expect(await store.applyPlan(b.id, 'running', planWrite({ runState: 'succeeded' }))).toBe(true)
    expect(await store.applyPlan(c.id, 'running', planWrite({ runState: 'interrupted' }))).toBe(true)

    expect((await store.findResumableRun('resumable', a.specHash, 'local'))?.id).toBe(c.id)
    expect((await store.findResumableRun('resumable', a.specHash, 'slurm'))?.id).toBe(other.id)
    expect(await store.findResumableRun('resumable', 'another-hash', 'local')).toBeNull()

    expect(await store.applyPlan(c.id, 'interrupted', planWrite({ runState: 'failed' }))).toBe(true)
    expect((await store.findResumableRun('resumable', a.specHash, 'local'))?.id).toBe(a.id)
    const finished = await store.listRuns({ states: ['succeeded', 'failed'], limit: 100 })
    expect(finished.map((r) => r.id)).toEqual(expect.arrayContaining([b.id, c.id]))
    expect(finished.map((r) => r.id)).not.toContain(a.id)
  })

  it('persists task and attempt updates, foreach tasks, new attempts, events, run state and finished_at', async () => {
    const run = newRun()
    await store.createRun(run)
    const key = `rpo.${run.id}.list.1`
    expect(
      await store.applyPlan(
        run.id,
        'running',
        planWrite({
          taskUpdates: new Map([['list', { state: 'active', attempts: 1 }]]),
          newAttempts: [submitting(run.id, 'list')],
          events: [{ type: 'task:started', taskId: 'list', message: 'attempt 1 started' }],
          now: iso(10),
        }),
      ),
    ).toBe(true)
    let { snapshot } = await store.loadSnapshot(run.id)
    expect(snapshot.tasks.find((t) => t.id === 'list')).toMatchObject({ state: 'active', attempts: 1 })
    expect(snapshot.latestAttempts).toEqual([submitting(run.id, 'list')])

    const template = run.pipeline.tasks.find((t) => t.name === 'each')!
    const items = [{ path: 'a b.txt', size: 3 }, 'plain', 7]
    expect(
      await store.applyPlan(
        run.id,
        'running',
        planWrite({
          taskUpdates: new Map([
            ['list', { state: 'succeeded', outputs: { xs: items }, endedAt: iso(20) }],
            ['each', { state: 'expanded', reason: 'fanned out into 3 tasks', endedAt: iso(20) }],
          ]),
          attemptUpdates: new Map([
            [key, { jobId: '4242', state: 'succeeded', exitCode: 0, endedAt: iso(20), usage: { elapsedSeconds: 12 } }],
          ]),
          newTasks: expandForeach(template, items),
          events: [
            { type: 'task:succeeded', taskId: 'list', message: 'succeeded on attempt 1' },
            { type: 'task:expanded', taskId: 'each', message: 'fanned out into 3 tasks', data: { count: 3 } },
          ],
          now: iso(20),
        }),
      ),
    ).toBe(true)
    ;({ snapshot } = await store.loadSnapshot(run.id))
    expect(snapshot.tasks.slice(-3).map((t) => [t.id, t.group, t.kind, t.item, t.state])).toEqual([
      ['each.0', 'each', 'task', { path: 'a b.txt', size: 3 }, 'pending'],
      ['each.1', 'each', 'task', 'plain', 'pending'],
      ['each.2', 'each', 'task', 7, 'pending'],
    ])
    expect(snapshot.tasks.find((t) => t.id === 'list')?.outputs).toEqual({ xs: items })
    expect(snapshot.tasks.find((t) => t.id === 'each')).toMatchObject({
      state: 'expanded',
      reason: 'fanned out into 3 tasks',
    })
    expect(snapshot.latestAttempts[0]).toMatchObject({
      jobId: '4242',
      state: 'succeeded',
      exitCode: 0,
      endedAt: iso(20),
    })
    const [attempt] = await store.listAttempts(run.id, 'list')
    expect(attempt).toMatchObject({ runId: run.id, usage: { elapsedSeconds: 12 } })
    const events = await store.listEvents(run.id)
    expect(events.map((e) => e.type)).toEqual(['run:created', 'task:started', 'task:succeeded', 'task:expanded'])
    expect(events[3]).toMatchObject({ taskId: 'each', at: iso(20), data: { count: 3 } })

    expect(await store.applyPlan(run.id, 'running', planWrite({ runState: 'succeeded', now: iso(30) }))).toBe(true)
    expect(await store.getRun(run.id)).toMatchObject({ state: 'succeeded', updatedAt: iso(30), finishedAt: iso(30) })
  })

  it('keeps the latest attempt of each task in the snapshot', async () => {
    const run = newRun()
    await store.createRun(run)
    await store.applyPlan(run.id, 'running', planWrite({ newAttempts: [submitting(run.id, 'prep', 1)] }))
    await store.applyPlan(run.id, 'running', planWrite({ newAttempts: [submitting(run.id, 'prep', 2)] }))
    const { snapshot } = await store.loadSnapshot(run.id)
    expect(snapshot.latestAttempts.map((a) => [a.taskId, a.attempt])).toEqual([['prep', 2]])
    expect(await store.countSubmissions(run.id)).toBe(2)
  })

  it('refuses a stale plan (run state changed) and writes nothing of it', async () => {
    const run = newRun()
    await store.createRun(run)
    expect(await store.applyPlan(run.id, 'running', planWrite({ runState: 'cancelled', now: iso(5) }))).toBe(true)
    const stale = planWrite({
      taskUpdates: new Map([['prep', { state: 'active', attempts: 1 }]]),
      newAttempts: [submitting(run.id, 'prep')],
      events: [{ type: 'task:started', taskId: 'prep', message: 'should not be written' }],
      runState: 'running',
    })
    expect(await store.applyPlan(run.id, 'running', stale)).toBe(false)
    const { run: record, snapshot } = await store.loadSnapshot(run.id)
    expect(record.state).toBe('cancelled')
    expect(snapshot.tasks.find((t) => t.id === 'prep')?.state).toBe('pending')
    expect(snapshot.latestAttempts).toEqual([])
    expect((await store.listEvents(run.id)).map((e) => e.type)).toEqual(['run:created'])
  })

  it('never stores two attempts under one submission key, and rolls the whole plan back', async () => {
    const run = newRun()
    await store.createRun(run)
    await store.applyPlan(run.id, 'running', planWrite({ newAttempts: [submitting(run.id, 'prep')] }))
    const again = await rejectionOf(
      store.applyPlan(
        run.id,
        'running',
        planWrite({
          taskUpdates: new Map([['list', { state: 'active', attempts: 1 }]]),
          newAttempts: [submitting(run.id, 'list'), submitting(run.id, 'prep')],
          events: [{ type: 'task:started', taskId: 'list', message: 'rolled back' }],
        }),
      ),
    )
    expect(again.name).toBe('StoreError')
    const sameKeyOtherAttempt = { ...submitting(run.id, 'prep', 2), submissionKey: `rpo.${run.id}.prep.1` }
    expect(
      (await rejectionOf(store.applyPlan(run.id, 'running', planWrite({ newAttempts: [sameKeyOtherAttempt] })))).name,
    ).toBe('StoreError')
    const { snapshot } = await store.loadSnapshot(run.id)
    expect(snapshot.latestAttempts.map((a) => a.submissionKey)).toEqual([`rpo.${run.id}.prep.1`])
    expect(snapshot.tasks.find((t) => t.id === 'list')?.state).toBe('pending')
    expect((await store.listEvents(run.id)).map((e) => e.message)).not.toContain('rolled back')
  })

  it('records what the scheduler answered to a submission whatever the run state', async () => {
    const run = newRun()
    await store.createRun(run)
    await store.applyPlan(
      run.id,
      'running',
      planWrite({ newAttempts: [submitting(run.id, 'prep')], runState: 'interrupted' }),
    )
    await store.updateAttempts(new Map([[`rpo.${run.id}.prep.1`, { jobId: '99', state: 'pending' as const }]]))
    const [attempt] = await store.listAttempts(run.id)
    expect(attempt).toMatchObject({ jobId: '99', state: 'pending' })
  })

  it('grants a lease to one owner at a time until it expires, renews it for its owner, and releases it', async () => {
    const lease = `run:lease-${counter++}`
    expect(await store.leases.acquire(lease, 'alice', iso(0), iso(30))).toBe(true)
    expect(await store.leases.acquire(lease, 'bob', iso(10), iso(40))).toBe(false)
    expect(await store.leases.holder(lease, iso(10))).toBe('alice')
    expect(await store.leases.acquire(lease, 'alice', iso(20), iso(50))).toBe(true)
    expect(await store.leases.acquire(lease, 'bob', iso(40), iso(70))).toBe(false)
    expect(await store.leases.holder(lease, iso(51))).toBeNull()
    expect(await store.leases.acquire(lease, 'bob', iso(51), iso(80))).toBe(true)
    expect(await store.leases.holder(lease, iso(60))).toBe('bob')
    await store.leases.release(lease, 'alice')
    expect(await store.leases.holder(lease, iso(60))).toBe('bob')
    await store.leases.release(lease, 'bob')
    expect(await store.leases.holder(lease, iso(60))).toBeNull()
    expect(await store.leases.acquire(lease, 'carol', iso(61), iso(90))).toBe(true)
  })

  it('pages through a run’s events with afterId, in order, without other runs’ events', async () => {
    const run = newRun()
    const other = newRun()
    await store.createRun(run)
    await store.createRun(other)
    const events = Array.from({ length: 5 }, (_, i) => ({
      type: 'task:started' as const,
      taskId: 'prep',
      message: `e${i}`,
    }))
    await store.applyPlan(run.id, 'running', planWrite({ events }))
    await store.applyPlan(
      other.id,
      'running',
      planWrite({ events: [{ type: 'task:started', taskId: 'prep', message: 'other' }] }),
    )
    const seen: string[] = []
    const ids: number[] = []
    let afterId = 0
    for (;;) {
      const page = await store.listEvents(run.id, afterId, 2)
      if (page.length === 0) break
      expect(page.length).toBeLessThanOrEqual(2)
      seen.push(...page.map((e) => e.message))
      ids.push(...page.map((e) => e.id))
      afterId = page[page.length - 1]!.id
    }
    expect(seen.slice(1)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4'])
    expect(ids).toEqual([...ids].sort((x, y) => x - y))
    expect(new Set(ids).size).toBe(6)
    expect(typeof ids[0]).toBe('number')
  })
})
