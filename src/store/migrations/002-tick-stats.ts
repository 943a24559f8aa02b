/** What the last tick of a run cost the scheduler, for `rpo status` (admins watch slurmctld load). */
import type { Kysely, Migration } from 'kysely'

export const tickStatsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('runs').addColumn('last_tick_at', 'text').execute()
    await db.schema.alterTable('runs').addColumn('last_tick_commands', 'integer').execute()
  },
}
