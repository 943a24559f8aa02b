/**
 * Stores written before rpo migrated them itself (kysely's Migrator, same `rpo_migrations` table)
 * open with this rpo and keep their runs, on SQLite and PostgreSQL.
 */

import { mkdirSync } from 'node:fs'
import path from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StoreTarget } from '../../src/config/load-config.js'
import { initialMigration } from '../../src/store/migrations/001-initial.js'
import { tickStatsMigration } from '../../src/store/migrations/002-tick-stats.js'
import { checkpointResumeMigration } from '../../src/store/migrations/003-checkpoint-resume.js'
import { budgetsMigration } from '../../src/store/migrations/004-budgets.js'
import { newRunOf, pipelineOf, T0 } from '../support/fixtures.js'
import { openRunStore, STORE_DIALECTS } from '../support/store-dialects.js'

function kyselyOf(target: StoreTarget): Kysely<unknown> {
  return target.kind === 'sqlite'
    ? new Kysely({ dialect: new SqliteDialect({ database: new SqliteDatabase(target.path) }) })
    : new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: target.url }) }) })
}

describe.each(STORE_DIALECTS.map((make) => ({ make, name: make().name })))(
  'a $name store of an earlier rpo',
  ({ make }) => {
    const harness = make()
    let target: StoreTarget

    beforeAll(async () => {
      target = await harness.setUp()
    })

    afterAll(() => harness.tearDown())

    it('opens with its runs, migrated the way earlier rpo did it', async () => {
      if (target.kind === 'sqlite') mkdirSync(path.dirname(target.path), { recursive: true })
      const dialect = target.kind
      const db = kyselyOf(target)
      const migrator = new Migrator({
        db,
        migrationTableName: 'rpo_migrations',
        migrationLockTableName: 'rpo_migrations_lock',
        provider: {
          async getMigrations() {
            return {
              '001-initial': initialMigration(dialect),
              '002-tick-stats': tickStatsMigration,
              '003-checkpoint-resume': checkpointResumeMigration,
              '004-budgets': budgetsMigration(dialect),
            }
          },
        },
      })
      const { error } = await migrator.migrateToLatest()
      await db.destroy()
      expect(error).toBeUndefined()

      const loaded = pipelineOf('name: old\ntasks:\n  a: { command: a }\n')
      const store = await openRunStore(target)
      try {
        await store.createRun(newRunOf(loaded, 'old-1', new Date(T0).toISOString()))
      } finally {
        await store.close()
      }
      const reopened = await openRunStore(target)
      try {
        expect((await reopened.listRuns()).map((r) => r.id)).toEqual(['old-1'])
      } finally {
        await reopened.close()
      }
    })
  },
)
