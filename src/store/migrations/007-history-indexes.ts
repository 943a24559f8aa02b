/**
 * History queries (src/store/history-queries.ts) read attempts by time window, newest first:
 * durations and outcomes by when they ended, queue waits by when they started. Without these a
 * window is a scan of every attempt ever recorded.
 */
import type { Kysely, Migration } from 'kysely'

export const historyIndexesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.createIndex('attempts_by_end').on('attempts').columns(['ended_at']).execute()
    await db.schema.createIndex('attempts_by_start').on('attempts').columns(['started_at']).execute()
  },
}
