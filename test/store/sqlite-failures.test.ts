/**
 * What a user sees when the store cannot be used: a corrupted file (left untouched), a store locked
 * by another process, a folder that cannot be created, a PostgreSQL server that is not there.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StoreTarget } from '../../src/config/load-config.js'
import type { RpoError } from '../../src/core/errors.js'
import { openDatabase } from '../../src/store/open-store.js'
import { RunStore } from '../../src/store/run-store.js'

let dir: string

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rpo-store-failures-'))
})

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

const sqlite = (file: string, busyTimeoutMs = 200): StoreTarget => ({ kind: 'sqlite', path: file, busyTimeoutMs })

async function rejectionOf(promise: Promise<unknown>): Promise<RpoError> {
  try {
    await promise
  } catch (error) {
    return error as RpoError
  }
  throw new Error('expected a rejection')
}

async function createdStore(name: string): Promise<string> {
  const file = path.join(dir, name)
  const store = new RunStore(await openDatabase(sqlite(file)))
  await store.close()
  return file
}

describe('a corrupted store file', () => {
  it.each([
    ['random bytes', () => randomBytes(16 * 1024)],
    ['a text file', () => Buffer.from('runs:\n  - this is not a database\n'.repeat(200))],
    ['a tiny file', () => Buffer.from('hi')],
  ])('is reported as store-corrupt with its path when it holds %s, and left unchanged', async (_what, content) => {
    const sub = mkdtempSync(path.join(dir, 'corrupt-'))
    const file = path.join(sub, 'rpo.sqlite')
    const bytes = content()
    writeFileSync(file, bytes)
    const error = await rejectionOf(openDatabase(sqlite(file)))
    expect(error.name).toBe('StoreError')
    expect(error.code).toBe('store-corrupt')
    expect(error.message).toContain(file)
    expect(error.message).toContain('nothing was changed')
    expect(error.retryable).toBe(false)
    expect(readFileSync(file).equals(bytes)).toBe(true)
    expect(readdirSync(sub)).toEqual(['rpo.sqlite'])
  })
})

describe('a locked store', () => {
  it('fails a write with store-locked once the busy timeout has passed', async () => {
    const file = await createdStore('locked.sqlite')
    const holder = new SqliteDatabase(file)
    holder.exec('BEGIN EXCLUSIVE')
    try {
      const started = performance.now()
      const error = await rejectionOf(
        (async () => {
          const store = new RunStore(await openDatabase(sqlite(file, 200)))
          try {
            await store.appendEvent(
              'run-x',
              { type: 'run:resumed', taskId: null, message: 'resumed' },
              new Date(0).toISOString(),
            )
          } finally {
            await store.close()
          }
        })(),
      )
      expect(error.code).toBe('store-locked')
      expect(error.message).toMatch(/locked/)
      expect(error.message).toContain(file)
      expect(error.retryable).toBe(true)
      expect(performance.now() - started).toBeGreaterThanOrEqual(150)
    } finally {
      holder.exec('ROLLBACK')
      holder.close()
    }
    const store = new RunStore(await openDatabase(sqlite(file)))
    await store.appendEvent('run-x', { type: 'run:resumed', taskId: null, message: 'after' }, new Date(0).toISOString())
    expect((await store.listEvents('run-x')).map((e) => e.message)).toEqual(['after'])
    await store.close()
  })

  it('waits up to the busy timeout for another process to finish writing, also for read-then-write transactions', async () => {
    const file = await createdStore('busy.sqlite')
    const store = new RunStore(await openDatabase(sqlite(file, 10_000)))
    // another process holds the write lock briefly, as a concurrent `rpo cancel` would
    const script = `
      const Database = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))})
      const db = new Database(${JSON.stringify(file)})
      db.exec('BEGIN EXCLUSIVE')
      process.stdout.write('locked\\n')
      setTimeout(() => { db.exec('COMMIT'); db.close() }, 300)
    `
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    try {
      await new Promise((resolve, reject) => {
        child.stdout.once('data', resolve)
        child.once('error', reject)
      })
      const now = new Date(0).toISOString()
      const later = new Date(60_000).toISOString()
      expect(await store.leases.acquire('run:busy', 'engine', now, later)).toBe(true)
    } finally {
      await exited
      await store.close()
    }
  })
})

describe('an unusable location', () => {
  it('is store-unavailable when the folder cannot be created (a file is in the way)', async () => {
    const blocker = path.join(dir, 'not-a-folder')
    writeFileSync(blocker, 'x')
    const file = path.join(blocker, 'sub', 'rpo.sqlite')
    const error = await rejectionOf(openDatabase(sqlite(file)))
    expect(error.code).toBe('store-unavailable')
    expect(error.message).toContain(file)
  })

  it('is store-unavailable for a PostgreSQL server that is not listening, without leaking the password', async () => {
    const error = await rejectionOf(openDatabase({ kind: 'postgres', url: 'postgres://rpo:s3cret@127.0.0.1:1/rpo' }))
    expect(error.name).toBe('StoreError')
    expect(error.code).toBe('store-unavailable')
    expect(error.retryable).toBe(true)
    expect(error.message).toContain('127.0.0.1:1')
    expect(error.message).not.toContain('s3cret')
  })
})
