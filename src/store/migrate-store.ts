/**
 * Bringing a store to the schema this rpo knows. Several rpo processes may open a brand-new store at
 * the same instant, so reading what is applied and applying the rest is one step under a store-wide
 * lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), and the applied list
 * is read only once the lock is held. Both dialects have transactional DDL: a failed migration leaves
 * the store as it was. A migration this rpo does not know means a newer rpo wrote the store.
 */
import { type Kysely, type Migration, sql } from 'kysely'
import { StoreError } from '../core/errors.js'
import type { StoreDialect } from './migrations/001-initial.js'

export interface NamedMigration {
  /** `NNN-what`: the number is the schema version the migration brings the store to. */
  readonly name: string
  readonly migration: Migration
}

// the table kysely's Migrator kept in stores written before: same name and columns, so they carry on
const MIGRATIONS_TABLE = 'rpo_migrations'
const PG_MIGRATION_LOCK = 'rpo:migrations'

export async function migrateStore(
  // biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
  db: Kysely<any>,
  dialect: StoreDialect,
  description: string,
  migrations: readonly NamedMigration[],
): Promise<void> {
  await db.connection().execute(async (connection) => {
    await sql.raw(dialect === 'sqlite' ? 'begin immediate' : 'begin').execute(connection)
    try {
      if (dialect === 'postgres')
        await sql`select pg_advisory_xact_lock(hashtext(${PG_MIGRATION_LOCK}))`.execute(connection)
      await sql`create table if not exists ${sql.table(MIGRATIONS_TABLE)} (name varchar(255) not null primary key, timestamp varchar(255) not null)`.execute(
        connection,
      )
      const applied = new Set(
        (await sql<{ name: string }>`select name from ${sql.table(MIGRATIONS_TABLE)}`.execute(connection)).rows.map(
          (row) => row.name,
        ),
      )
      refuseNewerSchema(applied, migrations, description)
      for (const { name, migration } of migrations) {
        if (applied.has(name)) continue
        try {
          await migration.up(connection)
        } catch (error) {
          throw new MigrationFailed(name, error)
        }
        await sql`insert into ${sql.table(MIGRATIONS_TABLE)} (name, timestamp) values (${name}, ${new Date().toISOString()})`.execute(
          connection,
        )
      }
      await sql.raw('commit').execute(connection)
    } catch (error) {
      // the original error is what the user needs; a rollback that finds no transaction adds nothing
      await sql
        .raw('rollback')
        .execute(connection)
        .catch(() => undefined)
      throw error
    }
  })
}

/** A migration that failed, with its name; the caller turns the cause into a StoreError. */
export class MigrationFailed extends Error {
  readonly migrationName: string
  constructor(migrationName: string, cause: unknown) {
    super(`migration ${migrationName} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
    this.name = 'MigrationFailed'
    this.migrationName = migrationName
  }
}

function refuseNewerSchema(applied: ReadonlySet<string>, known: readonly NamedMigration[], description: string): void {
  const knownNames = new Set(known.map((m) => m.name))
  const unknown = [...applied].filter((name) => !knownNames.has(name))
  if (unknown.length === 0) return
  const newest = Math.max(...unknown.map(schemaVersionOf))
  const ours = Math.max(0, ...known.map((m) => schemaVersionOf(m.name)))
  throw new StoreError(
    'store-newer-schema',
    `${description} was written by a newer rpo (schema version ${Number.isFinite(newest) ? newest : `unknown: ${unknown.join(', ')}`}; this rpo knows up to ${ours}). Upgrade rpo to use this store; nothing was changed.`,
  )
}

function schemaVersionOf(name: string): number {
  const match = /^(\d+)/.exec(name)
  return match ? Number(match[1]) : Number.NaN
}
