/**
 * Bearer tokens of the HTTP API (`rpo token create`, `rpo serve`). Only the SHA-256 hash of a
 * token's secret is stored: a copy of the store does not let anyone call the API. A token is
 * revoked by stamping `revoked_at`, never deleted, so `rpo token list` still says who had one.
 * The hash is unique and indexed: each request finds its token by it.
 */
import type { Kysely, Migration } from 'kysely'

export const apiTokensMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('api_tokens')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('project', 'text')
      .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_by', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'text')
      .addColumn('last_used_at', 'text')
      .execute()
  },
}
