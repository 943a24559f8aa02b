/**
 * Opening the store: SQLite (better-sqlite3, the embedded default) or PostgreSQL (pg), migrated to
 * the latest schema, with the databases' own failures translated into StoreErrors a user can act on.
 */
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely'

import pg from 'pg'
import type { StoreTarget } from '../config/load-config.js'
import { StoreError } from '../core/errors.js'
import type { Database } from './database.js'
import { initialMigration, type StoreDialect } from './migrations/001-initial.js'
import { tickStatsMigration } from './migrations/002-tick-stats.js'
import { checkpointResumeMigration } from './migrations/003-checkpoint-resume.js'
import { budgetsMigration } from './migrations/004-budgets.js'

// a deferred BEGIN that reads first cannot wait for a writer (SQLite returns SQLITE_BUSY at once when it
// upgrades to a write), so write transactions take the write lock up front and honour busy_timeout
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'))
  }
}
class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig
  constructor(config: SqliteDialectConfig) {
    super(config)
    this.#config = config
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config)
  }
}
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
    database = new SqliteDatabase(target.path, { timeout: target.busyTimeoutMs })
    // WAL lets `rpo status` read while a run writes; busy_timeout waits for a writer instead of failing
    database.pragma(`busy_timeout = ${Math.floor(target.busyTimeoutMs)}`)
    database.pragma('journal_mode = WAL')
    database.pragma('foreign_keys = ON')
    database.pragma('synchronous = NORMAL')
  } catch (error) {
    throw translateStoreError(error, description)
  }
  return {
    db: new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database }) }),
    dialect: 'sqlite',
    description,
  }
}

function openPostgres(url: string): OpenedDatabase {
  const safeUrl = url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000 })
  // an idle client that loses its server must not crash the process
  pool.on('error', () => undefined)
  return {
    db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
    dialect: 'postgres',
    description: `PostgreSQL store ${safeUrl}`,
  }
}

async function migrateToLatest(opened: OpenedDatabase): Promise<void> {
  const provider: MigrationProvider = {
    async getMigrations(): Promise<Record<string, Migration>> {
      return {
        '001-initial': initialMigration(opened.dialect),
        '002-tick-stats': tickStatsMigration,
        '003-checkpoint-resume': checkpointResumeMigration,
        '004-budgets': budgetsMigration(opened.dialect),
      }
    },
  }
  const migrator = new Migrator({
    db: opened.db,
    provider,
    migrationTableName: 'rpo_migrations',
    migrationLockTableName: 'rpo_migrations_lock',
  })
  const { error, results } = await migrator.migrateToLatest()
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')
    const translated = translateStoreError(error, opened.description)
    if (failed && translated.code === 'store-unavailable') {
      throw new StoreError(
        'store-migration',
        `${opened.description}: migration ${failed.migrationName} failed: ${messageOf(error)}`,
        {
          cause: error,
        },
      )
    }
    throw translated
  }
}

/** Map driver errors to StoreErrors; anything unrecognised becomes store-unavailable with the driver's words. */
export function translateStoreError(error: unknown, description: string): StoreError {
  if (error instanceof StoreError) return error
  const code = (error as { code?: string }).code ?? ''
  const message = messageOf(error)
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || /database is locked/i.test(message)) {
    return new StoreError(
      'store-locked',
      `${description} is locked by another process (another rpo still writing?). Try again, or raise store.busyTimeout.`,
      { cause: error },
    )
  }
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || /not a database|malformed/i.test(message)) {
    return new StoreError(
      'store-corrupt',
      `${description} is not a valid SQLite database (corrupted or not an rpo store). Move it aside to start a new store; nothing was changed.`,
      { cause: error },
    )
  }
  if (code.startsWith('SQLITE_CONSTRAINT') || code === '23505' || code === '23503') {
    // a broken invariant (e.g. the same submission key twice) is a bug, and retrying cannot help
    return new StoreError('store-migration', `${description}: constraint violated: ${message}`, { cause: error })
  }
  if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code === 'EACCES') {
    return new StoreError('store-unavailable', `${description} cannot be opened for writing: ${message}`, {
      cause: error,
    })
  }
  if (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === '28P01' ||
    code === '3D000' ||
    /connect|timeout/i.test(message)
  ) {
    return new StoreError('store-unavailable', `${description} is unreachable: ${message}`, { cause: error })
  }
  return new StoreError('store-unavailable', `${description}: ${message}`, { cause: error })
}

function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.map(messageOf).join('; ')
  return error instanceof Error ? error.message : String(error)
}
