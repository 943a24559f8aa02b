/**
 * A store that is damaged or cannot be written, seen through the RunStore: each fault is reported
 * with its real cause and a stable code, at once (not retryable), never as a JSON parse error or
 * "cannot rollback". Rows corrupted behind rpo's back, a store written by a newer rpo and list
 * limits beyond any table run on SQLite and PostgreSQL; a full disk and read-only files on SQLite.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { sql } from 'kysely'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { RpoError } from '../../src/core/errors.js'
import { openDatabase } from '../../src/store/open-store.js'
import { type NewRun, RunStore } from '../../src/store/run-store.js'
import { translateStoreError } from '../../src/store/store-errors.js'
import { newRunOf, pipelineOf, T0 } from '../support/fixtures.js'
import { openRunStore, STORE_DIALECTS } from '../support/store-dialects.js'

async function rejectionOf(promise: Promise<unknown>): Promise<RpoError> {
  try {
    await promise
  } catch (error) {
    return error as RpoError
  }
  throw new Error('expected a rejection')
}

let counter = 0
function newRun(): NewRun {
  counter++
  const loaded = pipelineOf(`
name: faults${counter}
tasks:
  a: { command: "a {{params.x}}", matrix: { x: [1, 2] } }
`)
  return newRunOf(loaded, `faulty-${counter}`, new Date(T0 + counter * 1000).toISOString())
}

describe.each(STORE_DIALECTS.map((make) => ({ make, name: make().name })))('a damaged $name store', ({ make }) => {
  const harness = make()
  let target: Awaited<ReturnType<typeof harness.setUp>>
  let store: RunStore

  beforeAll(async () => {
    target = await harness.setUp()
    store = await openRunStore(target)
  })

  afterAll(async () => {
    await store?.close()
    await harness.tearDown()
  })

  /** Change a stored value behind rpo's back, as a bit flip or a hand edit would. */
  async function corrupt(table: 'runs' | 'tasks', column: string, value: string, runId: string): Promise<void> {
    const opened = await openDatabase(target)
    try {
      const idColumn = table === 'runs' ? 'id' : 'run_id'
      await sql`update ${sql.table(table)} set ${sql.ref(column)} = ${value} where ${sql.ref(idColumn)} = ${runId}`.execute(
        opened.db,
      )
    } finally {
      await opened.db.destroy()
    }
  }

  /** Remove a damaged run, so that the next tests list a sound store. */
  async function forget(runId: string): Promise<void> {
    const opened = await openDatabase(target)
    try {
      for (const table of ['events', 'run_journal', 'attempts', 'tasks']) {
        await sql`delete from ${sql.table(table)} where run_id = ${runId}`.execute(opened.db)
      }
      await sql`delete from runs where id = ${runId}`.execute(opened.db)
    } finally {
      await opened.db.destroy()
    }
  }

  it.each([
    ['tasks', 'params_json', '{"x": 1', 'not JSON'],
    ['tasks', 'params_json', '{"x": 1]', 'not JSON'],
    ['tasks', 'params_json', '[1, 2]', 'an array'],
    ['tasks', 'outputs_json', 'tru', 'not JSON'],
    ['runs', 'pipeline_json', 'null', 'null'],
    ['runs', 'pipeline_json', '"a string"', 'a string'],
  ] as const)('names the run and the column when %s.%s holds %s', async (table, column, value, found) => {
    const run = newRun()
    await store.createRun(run)
    await corrupt(table, column, value, run.id)
    const reads: (() => Promise<unknown>)[] = [() => store.loadSnapshot(run.id)]
    if (table === 'runs')
      reads.push(
        () => store.listRuns({ limit: 1000 }),
        () => store.getRun(run.id),
      )
    try {
      for (const read of reads) {
        const error = await rejectionOf(read())
        expect(error.name).toBe('StoreCorrupted')
        expect(error.code).toBe('store-corrupt')
        expect(error.retryable).toBe(false)
        expect(error.message).toContain(`store corrupted: run ${run.id}, column ${column}`)
        expect(error.message).toContain(found)
      }
    } finally {
      await forget(run.id)
    }
  })

  it('refuses a store written by a newer rpo, naming both schema versions, and changes nothing', async () => {
    const opened = await openDatabase(target)
    await sql`insert into rpo_migrations (name, timestamp) values ('099-from-the-future', ${new Date(T0).toISOString()})`.execute(
      opened.db,
    )
    await opened.db.destroy()
    try {
      const error = await rejectionOf(openDatabase(target))
      expect(error.code).toBe('store-newer-schema')
      expect(error.retryable).toBe(false)
      expect(error.message).toMatch(/written by a newer rpo \(schema version 99; this rpo knows up to \d+\)/)
      expect(error.message).not.toMatch(/corrupt/)
    } finally {
      const cleanup = await openDatabase(target).catch(() => null)
      expect(cleanup).toBeNull()
      // remove the future migration through a raw connection, so the other tests keep their store
      await removeFutureMigration()
    }
  })

  async function removeFutureMigration(): Promise<void> {
    if (target.kind === 'sqlite') {
      const Database = (await import('better-sqlite3')).default
      const db = new Database(target.path)
      db.prepare("delete from rpo_migrations where name = '099-from-the-future'").run()
      db.close()
      return
    }
    const pg = (await import('pg')).default
    const client = new pg.Client({ connectionString: target.url })
    await client.connect()
    await client.query("delete from rpo_migrations where name = '099-from-the-future'")
    await client.end()
  }

  it('lists runs with a limit larger than any table holds, instead of a datatype mismatch', async () => {
    const run = newRun()
    await store.createRun(run)
    for (const limit of [1e20, Number.MAX_SAFE_INTEGER, 2 ** 31, 2 ** 63]) {
      const runs = await store.listRuns({ limit })
      expect(runs.map((r) => r.id)).toContain(run.id)
    }
    expect((await store.listEvents(run.id, 0, 1e20)).length).toBeGreaterThan(0)
  })

  it('refuses a limit that is not a positive whole number, naming it', async () => {
    for (const limit of [0, -1, Number.NaN, 1.5]) {
      const error = await rejectionOf(store.listRuns({ limit }))
      expect(error.code).toBe('usage')
      expect(error.message).toContain(String(limit))
    }
  })
})

describe('a SQLite store that cannot be written', () => {
  let dir: string

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'rpo-store-faults-'))
  })

  const immutable: string[] = []
  afterEach(() => {
    for (const file of immutable.splice(0)) execFileSync('chattr', ['-i', file])
  })

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('reports a full disk as such at once, not as "cannot rollback", and is not retried', async () => {
    const file = path.join(dir, 'full.sqlite')
    const opened = await openDatabase({ kind: 'sqlite', path: file, busyTimeoutMs: 1000 })
    // SQLite's own size cap gives the same SQLITE_FULL as a full disk
    const { rows } = await sql<{ page_count: number }>`pragma page_count`.execute(opened.db)
    await sql.raw(`pragma max_page_count = ${Number(rows[0]?.page_count) + 2}`).execute(opened.db)
    const store = new RunStore(opened)
    try {
      const error = await rejectionOf(
        (async () => {
          for (let i = 0; i < 100; i++) await store.createRun(newRun())
        })(),
      )
      expect(error.code).toBe('store-disk-full')
      expect(error.message).toContain(`the store's disk is full: ${file}`)
      expect(error.message).not.toMatch(/rollback/)
      expect(error.retryable).toBe(false)
    } finally {
      await store.close()
    }
  })

  it.each(['', '-wal', '-shm'])(
    'reports the store as read-only when its file%s turns immutable while it is open, and closes without a crash',
    async (suffix) => {
      const file = path.join(dir, `immutable${suffix || '-main'}.sqlite`)
      const store = await openRunStore({ kind: 'sqlite', path: file, busyTimeoutMs: 1000 })
      await store.createRun(newRun())
      expect(existsSync(`${file}${suffix}`)).toBe(true)
      execFileSync('chattr', ['+i', `${file}${suffix}`])
      immutable.push(`${file}${suffix}`)
      for (const use of [() => store.createRun(newRun()), () => store.listRuns()]) {
        const error = await rejectionOf(use())
        expect(error.code).toBe('store-read-only')
        expect(error.message).toContain(`the store is read-only: ${file}`)
        expect(error.message).not.toMatch(/rollback/)
        expect(error.retryable).toBe(false)
      }
      await store.close()
    },
  )

  it('calls the I/O error of a write that a file turned immutable mid-transaction refused "read-only"', async () => {
    const file = path.join(dir, 'mid-transaction.sqlite')
    const store = await openRunStore({ kind: 'sqlite', path: file, busyTimeoutMs: 1000 })
    await store.createRun(newRun())
    // what SQLite reports when the WAL write itself is refused: the check before the transaction passed
    const ioError = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' })
    expect(translateStoreError(ioError, store.description).code).toBe('store-unavailable')
    execFileSync('chattr', ['+i', `${file}-wal`])
    immutable.push(`${file}-wal`)
    const error = translateStoreError(ioError, store.description)
    expect(error.code).toBe('store-read-only')
    expect(error.message).toContain(`the store is read-only: ${file}`)
    expect(error.retryable).toBe(false)
    await store.close()
  })

  it('refuses to open an immutable store file, saying it is read-only', async () => {
    const file = path.join(dir, 'closed-immutable.sqlite')
    await (await openRunStore({ kind: 'sqlite', path: file, busyTimeoutMs: 1000 })).close()
    execFileSync('chattr', ['+i', file])
    immutable.push(file)
    const error = await rejectionOf(openDatabase({ kind: 'sqlite', path: file, busyTimeoutMs: 1000 }))
    expect(error.code).toBe('store-read-only')
    expect(error.message).toContain(`the store is read-only: ${file}`)
  })
})
