/**
 * The store dialects every store test runs against (kysely's DIALECTS loop): SQLite in a temp file,
 * always; PostgreSQL at RPO_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test), always
 * too. For PostgreSQL each test file gets its own fresh database, created through the server's
 * `postgres` database and dropped afterwards. An unreachable server FAILS the suite, never skips it.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import type { StoreTarget } from '../../src/config/load-config.js'
import { openDatabase } from '../../src/store/open-store.js'
import { RunStore } from '../../src/store/run-store.js'

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test'

export interface StoreDialectHarness {
  readonly name: 'sqlite' | 'postgres'
  /** Prepare an empty database and return its target; throws when the server cannot be reached. */
  setUp(): Promise<StoreTarget>
  tearDown(): Promise<void>
}

export function postgresBaseUrl(): string {
  return process.env.RPO_TEST_PG_URL || DEFAULT_PG_URL
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')
}

export function sqliteHarness(): StoreDialectHarness {
  let dir: string | null = null
  return {
    name: 'sqlite',
    async setUp() {
      dir = mkdtempSync(path.join(tmpdir(), 'rpo-store-test-'))
      return { kind: 'sqlite', path: path.join(dir, 'nested', 'rpo.sqlite'), busyTimeoutMs: 2000 }
    },
    async tearDown() {
      if (dir) rmSync(dir, { recursive: true, force: true })
      dir = null
    },
  }
}

export function postgresHarness(): StoreDialectHarness {
  const base = new URL(postgresBaseUrl())
  const admin = new URL(base.toString())
  admin.pathname = '/postgres'
  const database = `rpo_test_${randomBytes(6).toString('hex')}`
  let created = false

  async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 })
    try {
      await client.connect()
    } catch (error) {
      await client.end().catch(() => undefined)
      throw new Error(
        `PostgreSQL store tests need a server at ${redact(admin.toString())} (set RPO_TEST_PG_URL): ${(error as Error).message}`,
        { cause: error },
      )
    }
    try {
      return await fn(client)
    } finally {
      await client.end()
    }
  }

  return {
    name: 'postgres',
    async setUp() {
      await withAdmin((client) => client.query(`CREATE DATABASE ${database}`))
      created = true
      const url = new URL(base.toString())
      url.pathname = `/${database}`
      return { kind: 'postgres', url: url.toString() }
    },
    async tearDown() {
      if (!created) return
      await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
      created = false
    },
  }
}

export const STORE_DIALECTS: readonly (() => StoreDialectHarness)[] = [sqliteHarness, postgresHarness]

export async function openRunStore(target: StoreTarget): Promise<RunStore> {
  return new RunStore(await openDatabase(target))
}
