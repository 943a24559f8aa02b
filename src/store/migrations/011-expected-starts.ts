/**
 * A pending job's start as its scheduler expects it (Slurm: `squeue --start`'s StartTime), kept
 * with its attempt so that a projection read by another process (`rpo status`, the HTTP API) can
 * prefer it to the queue-wait history. Rewritten only when the estimate changes.
 */
import type { Kysely, Migration } from 'kysely'

export const expectedStartsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('attempts').addColumn('expected_start_at', 'text').execute()
  },
}
