/**
 * Jobs concluded before accounting had their record (Slurm: squeue said COMPLETED, sacct had not
 * caught up): charged provisionally at the rate they asked for, and remembered here until
 * accounting's figure trues them up or a grace period passes. One row per attempt.
 */
import type { Kysely, Migration } from 'kysely'

export const accountingWaitsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('accounting_waits')
      .addColumn('submission_key', 'text', (c) => c.primaryKey())
      .addColumn('cluster', 'text', (c) => c.notNull())
      .addColumn('job_id', 'text', (c) => c.notNull())
      .addColumn('usage_key', 'text', (c) => c.notNull())
      .addColumn('project', 'text', (c) => c.notNull())
      .addColumn('user_name', 'text')
      .addColumn('ended_at', 'text', (c) => c.notNull())
      .addColumn('until', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('accounting_waits_cluster')
      .on('accounting_waits')
      .columns(['cluster', 'until'])
      .execute()
  },
}
