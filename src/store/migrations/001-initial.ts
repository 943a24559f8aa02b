/** The initial schema: runs, tasks, attempts, events and leases. Immutable once released. */
import type { Kysely, Migration } from 'kysely'

export type StoreDialect = 'sqlite' | 'postgres'

export function initialMigration(dialect: StoreDialect): Migration {
  return { up: (db) => up(db, dialect) }
}

async function up(db: Kysely<unknown>, dialect: StoreDialect): Promise<void> {
  await db.schema
    .createTable('runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('pipeline_name', 'text', (c) => c.notNull())
    .addColumn('project', 'text')
    .addColumn('cluster', 'text', (c) => c.notNull())
    .addColumn('spec_hash', 'text', (c) => c.notNull())
    .addColumn('pipeline_json', 'text', (c) => c.notNull())
    .addColumn('source_file', 'text', (c) => c.notNull())
    .addColumn('work_dir', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .execute()
  await db.schema.createIndex('runs_by_pipeline').on('runs').columns(['pipeline_name', 'spec_hash', 'state']).execute()

  await db.schema
    .createTable('tasks')
    .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('group_name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('params_json', 'text', (c) => c.notNull())
    .addColumn('item_json', 'text')
    .addColumn('command', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('next_attempt_at', 'text')
    .addColumn('outputs_json', 'text')
    .addColumn('started_at', 'text')
    .addColumn('ended_at', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('tasks_pk', ['run_id', 'id'])
    .execute()

  await db.schema
    .createTable('attempts')
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('submission_key', 'text', (c) => c.notNull().unique())
    .addColumn('job_id', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('native_state', 'text')
    .addColumn('exit_code', 'integer')
    .addColumn('reason', 'text')
    .addColumn('submitted_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('ended_at', 'text')
    .addColumn('missed_polls', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('usage_json', 'text')
    .addPrimaryKeyConstraint('attempts_pk', ['run_id', 'task_id', 'attempt'])
    .addForeignKeyConstraint('attempts_task_fk', ['run_id', 'task_id'], 'tasks', ['run_id', 'id'], (c) =>
      c.onDelete('cascade'),
    )
    .execute()

  const isPostgres = dialect === 'postgres'
  await db.schema
    .createTable('events')
    .addColumn('id', isPostgres ? 'bigserial' : 'integer', (c) =>
      isPostgres ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('task_id', 'text')
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('data_json', 'text')
    .execute()
  await db.schema.createIndex('events_by_run').on('events').columns(['run_id', 'id']).execute()

  await db.schema
    .createTable('leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute()
}
