/**
 * The event log: every significant thing rpo did or saw (run, task and attempt transitions, resumes,
 * checkpoint warnings, budget actions, tick errors, node failures), one row each under a
 * monotonically increasing id that subscribers resume from. Events outlive their runs (no foreign
 * key) and some concern no run at all (a cluster's tick error), so `project` and `run_id` may be
 * null.
 *
 * The table 001 called `events` is each run's journal of human-readable messages (`rpo explain`
 * reads it); it keeps its rows and becomes `run_journal`, so that `events` names the typed log.
 * Its index, and on PostgreSQL its sequence and primary key, are renamed with it: those names are
 * schema-wide and the new table's own would collide with them.
 */
import { type Kysely, type Migration, sql } from 'kysely'
import type { StoreDialect } from './001-initial.js'

export function eventsMigration(dialect: StoreDialect): Migration {
  return { up: (db) => up(db, dialect) }
}

async function up(db: Kysely<unknown>, dialect: StoreDialect): Promise<void> {
  const isPostgres = dialect === 'postgres'
  await db.schema.alterTable('events').renameTo('run_journal').execute()
  if (isPostgres) {
    await sql`alter index events_by_run rename to run_journal_by_run`.execute(db)
    await sql`alter index events_pkey rename to run_journal_pkey`.execute(db)
    await sql`alter sequence events_id_seq rename to run_journal_id_seq`.execute(db)
  } else {
    // SQLite cannot rename an index
    await db.schema.dropIndex('events_by_run').execute()
    await db.schema.createIndex('run_journal_by_run').on('run_journal').columns(['run_id', 'id']).execute()
  }

  await db.schema
    .createTable('events')
    .addColumn('id', isPostgres ? 'bigserial' : 'integer', (c) =>
      isPostgres ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('project', 'text')
    .addColumn('run_id', 'text')
    .addColumn('task_id', 'text')
    .addColumn('payload', 'text', (c) => c.notNull())
    .execute()
  // reading after an id is the primary key; these serve the filters subscribers and `rpo events` use
  await db.schema.createIndex('events_by_type').on('events').columns(['type', 'id']).execute()
  await db.schema.createIndex('events_by_project_type').on('events').columns(['project', 'type', 'id']).execute()
  await db.schema.createIndex('events_by_run').on('events').columns(['run_id', 'id']).execute()
}
