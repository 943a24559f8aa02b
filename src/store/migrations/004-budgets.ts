/**
 * Budgets in the store: the double-entry ledger (charges, grants, revokes; append-only, one row per
 * idempotency key), budget changes made at run time (`rpo budget set`, who and when), who started
 * each run (per-user budgets), and what rpo did to an attempt's job for a budget (held, nice).
 */
import type { Kysely, Migration } from 'kysely'
import type { StoreDialect } from './001-initial.js'

export function budgetsMigration(dialect: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      const isPostgres = dialect === 'postgres'
      await db.schema
        .createTable('ledger_entries')
        .addColumn('seq', isPostgres ? 'bigserial' : 'integer', (c) =>
          isPostgres ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('key', 'text', (c) => c.notNull().unique())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('from_account', 'text', (c) => c.notNull())
        .addColumn('to_account', 'text', (c) => c.notNull())
        .addColumn('hours_json', 'text', (c) => c.notNull())
        .addColumn('scope_json', 'text')
        .addColumn('grant_id', 'text')
        .addColumn('expires_at', 'text')
        .addColumn('usage_key', 'text')
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('note', 'text', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('budget_settings')
        .addColumn('seq', isPostgres ? 'bigserial' : 'integer', (c) =>
          isPostgres ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('user_name', 'text')
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('gpu_type', 'text')
        .addColumn('amount', 'double precision', (c) => c.notNull())
        .addColumn('period_json', 'text', (c) => c.notNull())
        .addColumn('cap', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('note', 'text', (c) => c.notNull())
        .execute()
      await db.schema.alterTable('runs').addColumn('user_name', 'text').execute()
      await db.schema.alterTable('attempts').addColumn('held_reason', 'text').execute()
      await db.schema.alterTable('attempts').addColumn('nice', 'integer').execute()
    },
  }
}
