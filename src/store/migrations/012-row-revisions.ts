/**
 * Every task and attempt row carries the revision of its last write, set by the database itself, so
 * that a reader which keeps runs' snapshots (the HTTP API, the metrics scrape) can ask "which of
 * these runs changed since I read them?" in one indexed query instead of re-reading every row.
 * Triggers, not rpo's write paths, set it: a write path added later cannot forget it, and a store
 * written by another process (the daemon) is seen changing by the server.
 *
 * PostgreSQL draws revisions from a sequence in a BEFORE trigger: no shared row is locked, so two
 * writers never wait on each other for it (a counter row would add a lock to every write, and with it
 * deadlocks). SQLite has one writer at a time and cannot assign NEW in a trigger: an AFTER trigger
 * advances a one-row counter and stamps the row (recursive triggers are off, and the WHEN guard
 * keeps the stamping update from firing the trigger again even if they were on).
 */
import { type Kysely, type Migration, sql } from 'kysely'
import type { StoreDialect } from './001-initial.js'

const TABLES = ['tasks', 'attempts'] as const

export function rowRevisionsMigration(dialect: StoreDialect): Migration {
  return { up: (db) => (dialect === 'postgres' ? upPostgres(db) : upSqlite(db)) }
}

async function addColumns(db: Kysely<unknown>, type: 'bigint' | 'integer'): Promise<void> {
  for (const table of TABLES) {
    await db.schema
      .alterTable(table)
      .addColumn('revision', type, (col) => col.notNull().defaultTo(0))
      .execute()
    await db.schema.createIndex(`${table}_by_revision`).on(table).columns(['run_id', 'revision']).execute()
  }
}

async function upPostgres(db: Kysely<unknown>): Promise<void> {
  await addColumns(db, 'bigint')
  await sql`create sequence rpo_row_revision`.execute(db)
  await sql`create function rpo_stamp_row_revision() returns trigger language plpgsql as $$
    begin
      new.revision := nextval('rpo_row_revision');
      return new;
    end
  $$`.execute(db)
  for (const table of TABLES) {
    await sql`create trigger ${sql.raw(`${table}_revision`)} before insert or update on ${sql.table(table)}
      for each row execute function rpo_stamp_row_revision()`.execute(db)
  }
}

async function upSqlite(db: Kysely<unknown>): Promise<void> {
  await addColumns(db, 'integer')
  await sql`create table row_revision (id integer primary key check (id = 1), value integer not null)`.execute(db)
  await sql`insert into row_revision (id, value) values (1, 0)`.execute(db)
  for (const table of TABLES) {
    const stamp = sql.raw(`
      update row_revision set value = value + 1 where id = 1;
      update ${table} set revision = (select value from row_revision where id = 1) where rowid = new.rowid;`)
    await sql`create trigger ${sql.raw(`${table}_revision_insert`)} after insert on ${sql.table(table)}
      begin ${stamp} end`.execute(db)
    await sql`create trigger ${sql.raw(`${table}_revision_update`)} after update on ${sql.table(table)}
      when new.revision = old.revision begin ${stamp} end`.execute(db)
  }
}
