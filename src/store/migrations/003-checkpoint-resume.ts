/**
 * What the failure policy needs to remember per task and attempt: resumes from checkpoints, the
 * escalated memory and excluded nodes (task overrides), and the nodes each attempt ran on.
 */
import type { Kysely, Migration } from 'kysely'

export const checkpointResumeMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('tasks')
      .addColumn('resumes', 'integer', (c) => c.notNull().defaultTo(0))
      .execute()
    await db.schema.alterTable('tasks').addColumn('overrides_json', 'text').execute()
    await db.schema.alterTable('attempts').addColumn('nodes_json', 'text').execute()
  },
}
