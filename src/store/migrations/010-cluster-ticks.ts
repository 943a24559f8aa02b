/**
 * What each cluster's rounds cost, for `/metrics` (src/metrics): `rpo serve` may run on another
 * host than the daemon that ticks, so the figures live in the store, not in the ticking process.
 * One row per cluster: its last round (when, how long, scheduler commands, runs) and running totals
 * (rounds, milliseconds, commands) that only grow, so a scraper derives averages over any window.
 * Totals are bigint: milliseconds of every round ever would pass PostgreSQL's integer in weeks.
 */
import type { Kysely, Migration } from 'kysely'

export const clusterTicksMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('cluster_ticks')
      .addColumn('cluster', 'text', (c) => c.primaryKey())
      .addColumn('last_at', 'text', (c) => c.notNull())
      .addColumn('last_duration_ms', 'bigint', (c) => c.notNull())
      .addColumn('last_commands', 'integer', (c) => c.notNull())
      .addColumn('last_runs', 'integer', (c) => c.notNull())
      .addColumn('rounds', 'bigint', (c) => c.notNull())
      .addColumn('duration_ms_total', 'bigint', (c) => c.notNull())
      .addColumn('commands_total', 'bigint', (c) => c.notNull())
      .execute()
  },
}
