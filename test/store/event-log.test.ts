/**
 * The event log against real databases, the same suite on SQLite and PostgreSQL: the events of
 * run, task and attempt changes written with the change (and not when the change is refused),
 * ids in order, filters, resuming after an id, followers woken by this process and by another
 * connection, a damaged payload named, and a store of the previous schema keeping its journal.
 */
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StoreTarget } from '../../src/config/load-config.js'
import type { RpoError } from '../../src/core/errors.js'
import { EventLog } from '../../src/events/event-log.js'
import type { EventType, NewRpoEvent, RpoEvent } from '../../src/events/event-schemas.js'
import { migrateStore } from '../../src/store/migrate-store.js'
import { initialMigration } from '../../src/store/migrations/001-initial.js'
import { tickStatsMigration } from '../../src/store/migrations/002-tick-stats.js'
import { checkpointResumeMigration } from '../../src/store/migrations/003-checkpoint-resume.js'
import { budgetsMigration } from '../../src/store/migrations/004-budgets.js'
import { accountingWaitsMigration } from '../../src/store/migrations/005-accounting-waits.js'
import type { NewRun, RunStore } from '../../src/store/run-store.js'
import { newRunOf, pipelineOf, planWrite, submitting, T0 } from '../support/fixtures.js'
import { openRunStore, STORE_DIALECTS } from '../support/store-dialects.js'

const iso = (offsetSeconds = 0) => new Date(T0 + offsetSeconds * 1000).toISOString()

let counter = 0
function newRun(project: string | null = 'vision'): NewRun {
  counter++
  const loaded = pipelineOf(`
name: events${counter}
${project ? `project: ${project}` : ''}
tasks:
  prep: { command: p }
  train: { command: t, after: [prep] }
`)
  return newRunOf(loaded, `run-${counter}`, iso(), { user: 'ada' })
}

/** type, task and the payload fields that say the change: what a subscriber reads. */
const said = (events: readonly RpoEvent[]) =>
  events.map((e) => {
    const p = e.payload as Record<string, unknown>
    const change = 'from' in p ? `${p.from}->${p.to ?? p.state}` : ''
    return `${e.type}${e.taskId ? ` ${e.taskId}` : ''}${change ? ` ${change}` : ''}`
  })

describe.each(STORE_DIALECTS.map((make) => ({ make, name: make().name })))(
  'the event log on $name',
  ({ make, name }) => {
    const harness = make()
    let target: StoreTarget
    let store: RunStore
    let log: EventLog

    beforeAll(async () => {
      target = await harness.setUp()
      store = await openRunStore(target)
      log = new EventLog(store.events, { pollIntervalMs: 60_000 })
    })

    afterAll(async () => {
      if (store) await store.close()
      await harness.tearDown()
    })

    it('writes the events of a run, its tasks and attempts with the writes that change them', async () => {
      const run = newRun()
      const before = await log.lastId()
      await store.createRun(run)
      const key = `rpo.${run.id}.prep.1`
      await store.applyPlan(
        run.id,
        'running',
        planWrite({
          taskUpdates: new Map([['prep', { state: 'active', attempts: 1 }]]),
          newAttempts: [submitting(run.id, 'prep')],
        }),
      )
      await store.updateAttempts(new Map([[key, { jobId: '42', state: 'pending' }]]), iso(61))
      await store.applyPlan(
        run.id,
        'running',
        planWrite({
          now: iso(120),
          attemptUpdates: new Map([[key, { state: 'node_fail', nodes: ['n7'], reason: 'node n7 failed' }]]),
          taskUpdates: new Map([['prep', { state: 'retry_wait', resumes: 1, reason: 'node failure' }]]),
          events: [
            {
              type: 'task:resuming',
              taskId: 'prep',
              message: 'node failure: resuming from its checkpoint (resume 1/3)',
              data: { exitCode: null, state: 'node_fail', nodes: ['n7'] },
            },
          ],
        }),
      )
      await store.applyPlan(run.id, 'running', planWrite({ now: iso(180), runState: 'failed' }))

      const events = await log.list({ afterId: before })
      expect(said(events)).toEqual([
        'run.started',
        'attempt.state prep null->submitting',
        'task.state prep pending->active',
        'attempt.state prep submitting->pending',
        'attempt.state prep pending->node_fail',
        'node.failed prep',
        'task.state prep active->retry_wait',
        'attempt.resumed prep',
        'run.finished running->failed',
      ])
      expect(events.every((e) => e.project === 'vision' && e.runId === run.id)).toBe(true)
      const ids = events.map((e) => e.id)
      expect(ids).toEqual([...ids].sort((a, b) => a - b))
      expect(new Set(ids).size).toBe(ids.length)
      expect(events[0]).toMatchObject({
        at: iso(0),
        payload: { pipeline: run.pipeline.name, cluster: 'local', tasks: 2, user: 'ada' },
      })
      expect(events.find((e) => e.type === 'node.failed')).toMatchObject({
        at: iso(120),
        payload: { nodes: ['n7'], jobId: '42', attempt: 1, submissionKey: key },
      })
      expect(events.find((e) => e.type === 'attempt.resumed')?.payload).toEqual({
        resumes: 1,
        endedAs: 'node_fail',
        exitCode: null,
        reason: 'node failure: resuming from its checkpoint (resume 1/3)',
      })
      // the task's change carries the planner's words for it
      expect(events.find((e) => e.type === 'task.state' && e.payload.to === 'retry_wait')?.payload).toMatchObject({
        reason: 'node failure: resuming from its checkpoint (resume 1/3)',
      })
    })

    it('writes nothing when the store refuses a stale plan', async () => {
      const run = newRun()
      await store.createRun(run)
      await store.applyPlan(run.id, 'running', planWrite({ runState: 'cancelling' }))
      const before = await log.lastId()
      const applied = await store.applyPlan(
        run.id,
        'running',
        planWrite({ taskUpdates: new Map([['prep', { state: 'active' }]]), newAttempts: [submitting(run.id, 'prep')] }),
      )
      expect(applied).toBe(false)
      expect(await log.list({ afterId: before })).toEqual([])
    })

    it('says budget actions and checkpoint warnings appended to a run journal, with the run’s project', async () => {
      const run = newRun('nlp')
      await store.createRun(run)
      const before = await log.lastId()
      await store.appendEvent(
        run.id,
        {
          type: 'budget:hold' as never,
          taskId: 'train',
          message: 'hold job 77: over the hard cap',
          data: { jobId: '77', attempt: 2, reason: 'over the hard cap' },
        },
        iso(300),
      )
      await store.appendEvent(
        run.id,
        {
          type: 'task:checkpoint',
          taskId: 'train',
          message: 'attempt 2 skipped a checkpoint (ckpt-9.pt, step 9): sha256 mismatch',
          data: { event: 'checkpoint:skipped', attempt: 2, file: 'ckpt-9.pt', step: 9, reason: 'sha256 mismatch' },
        },
        iso(301),
      )
      // a journal entry that only puts a change into words stands for no event of its own
      await store.appendEvent(run.id, { type: 'task:started', taskId: 'train', message: 'started' }, iso(302))
      const events = await log.list({ afterId: before })
      expect(events.map((e) => [e.type, e.project, e.taskId, e.payload])).toEqual([
        ['budget.action', 'nlp', 'train', { action: 'hold', jobId: '77', attempt: 2, reason: 'over the hard cap' }],
        [
          'checkpoint.skipped',
          'nlp',
          'train',
          {
            attempt: 2,
            file: 'ckpt-9.pt',
            step: 9,
            reason: 'sha256 mismatch',
            message: 'attempt 2 skipped a checkpoint (ckpt-9.pt, step 9): sha256 mismatch',
          },
        ],
      ])
      // the journal keeps every entry
      expect((await store.listEvents(run.id)).map((e) => e.type)).toEqual([
        'run:created',
        'budget:hold',
        'task:checkpoint',
        'task:started',
      ])
    })

    it('filters by type, project and run, pages after an id and reads the newest', async () => {
      const a = newRun('alpha')
      const b = newRun('beta')
      const start = await log.lastId()
      await store.createRun(a)
      await store.createRun(b)
      await log.record([
        {
          at: iso(400),
          type: 'tick.error',
          project: null,
          runId: null,
          taskId: null,
          payload: { cluster: 'gpu', step: 'observe', code: 'ssh-timeout', message: 'poll timed out' },
        },
        {
          at: iso(401),
          type: 'tick.error',
          project: null,
          runId: b.id,
          taskId: null,
          payload: { cluster: 'gpu', step: 'report', code: 'store-locked', message: 'locked' },
        },
      ])
      const all = await log.list({ afterId: start })
      expect(all.map((e) => [e.type, e.project, e.runId])).toEqual([
        ['run.started', 'alpha', a.id],
        ['run.started', 'beta', b.id],
        ['tick.error', null, null],
        // a run's event that does not say its project is given the run's
        ['tick.error', 'beta', b.id],
      ])
      expect((await log.list({ afterId: start, types: ['tick.error'] })).length).toBe(2)
      expect((await log.list({ afterId: start, projects: ['beta'] })).map((e) => e.type)).toEqual([
        'run.started',
        'tick.error',
      ])
      expect((await log.list({ afterId: start, runId: a.id })).map((e) => e.type)).toEqual(['run.started'])
      const page1 = await log.list({ afterId: start, limit: 3 })
      const page2 = await log.list({ afterId: page1.at(-1)?.id ?? 0, limit: 3 })
      expect([...page1, ...page2]).toEqual(all)
      expect(await log.list({ newest: true, limit: 2 })).toEqual(all.slice(-2))
      await expect(log.list({ afterId: -1 })).rejects.toMatchObject({ code: 'usage' })
    })

    it('reads several types of several projects in id order, paged and newest, as a filter of all would', async () => {
      const start = await log.lastId()
      const types = ['tick.error', 'webhook.failed', 'bottleneck.changed'] as const
      // interleaved, so that no type's or project's events are contiguous
      const payloads = {
        'tick.error': (i: number) => ({ cluster: 'gpu', step: 'observe', code: `c${i}`, message: `event ${i}` }),
        'webhook.failed': (i: number) => ({
          hook: 'ops',
          eventId: i + 1,
          eventType: 'run.finished',
          attempts: 3,
          status: null,
          error: 'refused',
        }),
        'bottleneck.changed': () => ({ from: 'prep', to: 'train', remainingCriticalPathSeconds: 60 }),
      }
      await log.record(
        Array.from({ length: 36 }, (_, i) => {
          const type = types[i % 3] as (typeof types)[number]
          return {
            at: iso(500 + i),
            type,
            project: ['alpha', 'beta', 'gamma', null][i % 4] ?? null,
            runId: null,
            taskId: null,
            payload: payloads[type](i),
          } as NewRpoEvent
        }),
      )
      const mixed = await log.list({ afterId: start })
      expect(mixed).toHaveLength(36)
      const asked = { types: ['tick.error', 'webhook.failed'] as EventType[], projects: ['alpha', 'gamma'] }
      const expected = mixed.filter((e) => asked.types.includes(e.type) && asked.projects.includes(e.project as string))
      expect(expected).toHaveLength(12)
      const paged = []
      for (let after = start; ; ) {
        const page = await log.list({ ...asked, afterId: after, limit: 4 })
        paged.push(...page)
        if (page.length < 4) break
        after = page.at(-1)?.id as number
      }
      expect(paged).toEqual(expected)
      expect(await log.list({ ...asked, afterId: start, newest: true, limit: 5 })).toEqual(expected.slice(-5))
      expect(await log.list({ types: ['webhook.failed', 'run.finished'], afterId: start })).toEqual(
        mixed.filter((e) => e.type === 'webhook.failed'),
      )
    })

    it('follows: the events after an id first, then new ones as this process commits them', async () => {
      const run = newRun()
      await store.createRun(run)
      const resumeFrom = (await log.list({ runId: run.id }))[0]?.id as number
      const abort = new AbortController()
      const seen: RpoEvent[] = []
      // a poll interval of a minute: only the in-process wake-up can deliver within the test
      const following = (async () => {
        for await (const event of log.follow({
          fromId: resumeFrom - 1,
          filter: { runId: run.id },
          signal: abort.signal,
        })) {
          seen.push(event)
          if (seen.length === 3) abort.abort()
        }
      })()
      await until(() => seen.length === 1)
      expect(seen[0]?.type).toBe('run.started')
      await store.applyPlan(run.id, 'running', planWrite({ newAttempts: [submitting(run.id, 'prep')] }))
      await store.applyPlan(run.id, 'running', planWrite({ runState: 'succeeded' }))
      await following
      expect(said(seen)).toEqual([
        'run.started',
        'attempt.state prep null->submitting',
        'run.finished running->succeeded',
      ])
    })

    it('wakes a follower on another connection by polling, and ends on abort', async () => {
      const other = await openRunStore(target)
      try {
        const otherLog = new EventLog(other.events, { pollIntervalMs: 50 })
        const abort = new AbortController()
        const seen: RpoEvent[] = []
        const iterator = otherLog.follow({ signal: abort.signal })
        const following = (async () => {
          for await (const event of iterator) seen.push(event)
        })()
        // give the follower its starting point (the newest id) before writing
        await new Promise((resolve) => setTimeout(resolve, 200))
        const run = newRun()
        await store.createRun(run)
        await until(() => seen.length === 1)
        expect(seen[0]).toMatchObject({ type: 'run.started', runId: run.id })
        abort.abort()
        await following
      } finally {
        await other.close()
      }
    })

    // PostgreSQL draws ids at insert and commits in any order: the case the events lock is for. (SQLite
    // serializes writers; two of its connections in one process would block each other's event loop.)
    // defined for PostgreSQL alone (not skipped on SQLite: there it is no case at all)
    if (name === 'postgres')
      it('gives a follower every event of two writers appending at once, none skipped', async () => {
        const second = await openRunStore(target)
        const third = await openRunStore(target)
        try {
          // on a connection of its own: only polling finds what the writers commit
          const follower = new EventLog(third.events, { pollIntervalMs: 10 })
          const start = await log.lastId()
          const abort = new AbortController()
          const seen: number[] = []
          const following = (async () => {
            for await (const event of follower.follow({ fromId: start, signal: abort.signal })) seen.push(event.id)
          })()
          const write = (writer: RunStore, name: string) =>
            (async () => {
              for (let i = 0; i < 100; i++)
                await writer.events.append([
                  {
                    at: iso(i),
                    type: 'tick.error',
                    project: null,
                    runId: null,
                    taskId: null,
                    payload: { cluster: name, step: 'observe', code: 'x', message: String(i) },
                  },
                ])
            })()
          await Promise.all([write(store, 'one'), write(second, 'two')])
          const stored = (await log.list({ afterId: start, limit: 1000 })).map((e) => e.id)
          expect(stored).toHaveLength(200)
          await until(() => seen.length >= stored.length)
          abort.abort()
          await following
          expect(seen).toEqual(stored)
        } finally {
          await second.close()
          await third.close()
        }
      })

    it('names the event whose payload was damaged', async () => {
      const run = newRun()
      await store.createRun(run)
      const [event] = await log.list({ runId: run.id })
      const db = kyselyOf(target)
      try {
        await sql`update events set payload = ${'{"pipeline": 1}'} where id = ${event?.id}`.execute(db)
      } finally {
        await db.destroy()
      }
      const error = (await log.list({ runId: run.id }).catch((e: unknown) => e)) as RpoError
      expect(error.code).toBe('store-corrupt')
      expect(error.message).toContain(`event ${event?.id}`)
      expect(error.message).toContain('pipeline')
      const db2 = kyselyOf(target)
      try {
        await sql`delete from events where id = ${event?.id}`.execute(db2)
      } finally {
        await db2.destroy()
      }
    })
  },
)

describe.each(STORE_DIALECTS.map((make) => ({ make, name: make().name })))(
  'a $name store of schema 5 (before the event log)',
  ({ make }) => {
    const harness = make()
    let target: StoreTarget

    beforeAll(async () => {
      target = await harness.setUp()
    })

    afterAll(() => harness.tearDown())

    it('keeps its run journal and starts an empty event log', async () => {
      if (target.kind === 'sqlite') mkdirSync(path.dirname(target.path), { recursive: true })
      const db = kyselyOf(target)
      try {
        await migrateStore(db, target.kind, 'old store', [
          { name: '001-initial', migration: initialMigration(target.kind) },
          { name: '002-tick-stats', migration: tickStatsMigration },
          { name: '003-checkpoint-resume', migration: checkpointResumeMigration },
          { name: '004-budgets', migration: budgetsMigration(target.kind) },
          { name: '005-accounting-waits', migration: accountingWaitsMigration },
        ])
        await sql`insert into runs (id, pipeline_name, cluster, spec_hash, pipeline_json, source_file, work_dir, state, created_at, updated_at)
          values ('old-1', 'old', 'local', 'h', ${JSON.stringify(pipelineOf('name: old\ntasks:\n  a: { command: a }\n').pipeline)}, 'p.yaml', '/w', 'running', ${iso()}, ${iso()})`.execute(
          db,
        )
        for (const message of ['first', 'second'])
          await sql`insert into events (run_id, task_id, type, at, message) values ('old-1', null, 'run:created', ${iso()}, ${message})`.execute(
            db,
          )
      } finally {
        await db.destroy()
      }
      const store = await openRunStore(target)
      try {
        expect((await store.listEvents('old-1')).map((e) => [e.id, e.message])).toEqual([
          [1, 'first'],
          [2, 'second'],
        ])
        expect(await store.events.list()).toEqual([])
        await store.appendEvent('old-1', { type: 'task:started', taskId: null, message: 'third' }, iso(5))
        expect((await store.listEvents('old-1')).map((e) => e.id)).toEqual([1, 2, 3])
        await store.createRun(newRun())
        expect((await store.events.list()).map((e) => [e.id, e.type])).toEqual([[1, 'run.started']])
      } finally {
        await store.close()
      }
    })
  },
)

function kyselyOf(target: StoreTarget): Kysely<unknown> {
  return target.kind === 'sqlite'
    ? new Kysely({ dialect: new SqliteDialect({ database: new SqliteDatabase(target.path) }) })
    : new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: target.url }) }) })
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the follower')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
