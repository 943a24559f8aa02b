/**
 * Notifications and webhooks: `notification_states` remembers what was last notified of each
 * subject (a run's deadline, a run's bottleneck, a budget's level in its period), so a change is
 * said once however many processes tick and however often they restart; `webhook_cursors` keeps
 * each configured webhook's place in the event log, so a restarted dispatcher neither repeats nor
 * skips an event. It also marks the event types this rpo adds (`deadline.at-risk`,
 * `budget.threshold`, `bottleneck.changed`, `webhook.failed`): an older rpo refuses the store
 * rather than misreading them.
 */
import type { Kysely, Migration } from 'kysely'
import type { StoreDialect } from './001-initial.js'

export function notificationsMigration(dialect: StoreDialect): Migration {
  return { up: (db) => up(db, dialect) }
}

async function up(db: Kysely<unknown>, dialect: StoreDialect): Promise<void> {
  await db.schema
    .createTable('notification_states')
    .addColumn('subject', 'text', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .execute()
  await db.schema
    .createTable('webhook_cursors')
    .addColumn('hook', 'text', (c) => c.primaryKey())
    // event ids are bigserial on PostgreSQL
    .addColumn('last_event_id', dialect === 'postgres' ? 'bigint' : 'integer', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .execute()
}
