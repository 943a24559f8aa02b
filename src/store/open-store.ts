/**
 * Opening the store: SQLite (better-sqlite3, the embedded default) or PostgreSQL (pg), migrated to
 * the latest schema, with the databases' own failures translated into StoreErrors a user can act on.
 */
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { StoreTarget } from '../config/load-config.js'
import { StoreError } from '../core/errors.js'
import type { Database } from './database.js'
import { MigrationFailed, migrateStore, type NamedMigration } from './migrate-store.js'
import { initialMigration, type StoreDialect } from './migrations/001-initial.js'
import { tickStatsMigration } from './migrations/002-tick-stats.js'
import { checkpointResumeMigration } from './migrations/003-checkpoint-resume.js'
import { budgetsMigration } from './migrations/004-budgets.js'
import { accountingWaitsMigration } from './migrations/005-accounting-waits.js'
import { eventsMigration } from './migrations/006-events.js'
import { historyIndexesMigration } from './migrations/007-history-indexes.js'
import { apiTokensMigration } from './migrations/008-api-tokens.js'
import { notificationsMigration } from './migrations/009-notifications.js'
import { clusterTicksMigration } from './migrations/010-cluster-ticks.js'
import { expectedStartsMigration } from './migrations/011-expected-starts.js'
import { rowRevisionsMigration } from './migrations/012-row-revisions.js'
import { StoreSqliteDialect, unwritableStore, withPreparedStatements } from './sqlite-dialect.js'
import { messageOf, translateStoreError } from './store-errors.js'

export interface OpenedDatabase {
  readonly db: Kysely<Database>
  readonly dialect: StoreDialect
  readonly description: string
}

export async function openDatabase(target: StoreTarget): Promise<OpenedDatabase> {
  const opened = target.kind === 'sqlite' ? openSqlite(target) : openPostgres(target.url)
  try {
    await migrateToLatest(opened)
  } catch (error) {
    await opened.db.destroy().catch(() => undefined)
    throw translateStoreError(error, opened.description)
  }
  return opened
}

function openSqlite(target: Extract<StoreTarget, { kind: 'sqlite' }>): OpenedDatabase {
  const description = `SQLite store ${target.path}`
  let database: SqliteDatabase.Database
  try {
    if (target.path !== ':memory:') mkdirSync(path.dirname(target.path), { recursive: true })
    // opening in WAL mode writes the shared index through a memory map: see sqlite-dialect.ts
    const unwritable = unwritableStore(target.path, description)
    if (unwritable) throw unwritable
    database = new SqliteDatabase(target.path, { timeout: target.busyTimeoutMs })
    // WAL lets `rpo status` read while a run writes; busy_timeout waits for a writer instead of failing
    database.pragma(`busy_timeout = ${Math.floor(target.busyTimeoutMs)}`)
    enterWalMode(database, target.busyTimeoutMs)
    database.pragma('foreign_keys = ON')
    database.pragma('synchronous = NORMAL')
  } catch (error) {
    throw translateStoreError(error, description)
  }
  return {
    db: new Kysely<Database>({
      dialect: new StoreSqliteDialect({ database: withPreparedStatements(database) }, description),
    }),
    dialect: 'sqlite',
    description,
  }
}

/**
 * Switching a brand-new store to WAL takes an exclusive lock after reading the schema, and SQLite
 * answers SQLITE_BUSY at once, without its busy handler, when another process opening the same store
 * holds a lock in between (it would otherwise deadlock). So the switch is retried here, within the
 * same busy timeout the rest of the store honours.
 */
function enterWalMode(database: SqliteDatabase.Database, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs
  const pause = new Int32Array(new SharedArrayBuffer(4))
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    try {
      database.pragma('journal_mode = WAL')
      return
    } catch (error) {
      const busy = (error as { code?: unknown }).code === 'SQLITE_BUSY'
      if (!busy || Date.now() >= deadline) throw error
      // opening is synchronous in better-sqlite3; a short blocking pause is all it can do here
      Atomics.wait(pause, 0, 0, wait)
    }
  }
}

const PG_IDLE_IN_TRANSACTION_MS = 10_000
const PG_LOCK_TIMEOUT_MS = 60_000

function openPostgres(url: string): OpenedDatabase {
  const safeUrl = url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    connectionTimeoutMillis: 5000,
    // a process paused inside a transaction (SIGSTOP, a stalled VM) would keep its row locks, and
    // everyone after it (a lease's successor first) would wait on them forever: the server ends such
    // a session well within a cluster lease (20 s), and no lock is waited for without end
    idle_in_transaction_session_timeout: PG_IDLE_IN_TRANSACTION_MS,
    lock_timeout: PG_LOCK_TIMEOUT_MS,
  })
  // a client that loses its server must not crash the process: idle ones report through the pool;
  // one checked out between two queries (a transaction awaiting other work) emits on itself, and an
  // 'error' event without a listener kills Node. The query in flight still rejects with the error
  pool.on('error', () => undefined)
  pool.on('connect', (client) => client.on('error', () => undefined))
  return {
    db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
    dialect: 'postgres',
    description: `PostgreSQL store ${safeUrl}`,
  }
}

function migrationsFor(dialect: StoreDialect): NamedMigration[] {
  return [
    { name: '001-initial', migration: initialMigration(dialect) },
    { name: '002-tick-stats', migration: tickStatsMigration },
    { name: '003-checkpoint-resume', migration: checkpointResumeMigration },
    { name: '004-budgets', migration: budgetsMigration(dialect) },
    { name: '005-accounting-waits', migration: accountingWaitsMigration },
    { name: '006-events', migration: eventsMigration(dialect) },
    { name: '007-history-indexes', migration: historyIndexesMigration },
    { name: '008-api-tokens', migration: apiTokensMigration },
    { name: '009-notifications', migration: notificationsMigration(dialect) },
    { name: '010-cluster-ticks', migration: clusterTicksMigration },
    { name: '011-expected-starts', migration: expectedStartsMigration },
    { name: '012-row-revisions', migration: rowRevisionsMigration(dialect) },
  ]
}

async function migrateToLatest(opened: OpenedDatabase): Promise<void> {
  try {
    await migrateStore(opened.db, opened.dialect, opened.description, migrationsFor(opened.dialect))
  } catch (error) {
    if (!(error instanceof MigrationFailed)) throw translateStoreError(error, opened.description)
    const translated = translateStoreError(error.cause, opened.description)
    if (translated.code !== 'store-unavailable' || translated.retryable) throw translated
    throw new StoreError('store-migration', `${opened.description}: ${messageOf(error)}`, { cause: error.cause })
  }
}

export { translateStoreError } from './store-errors.js'
