/**
 * The HTTP API's bearer tokens (migration 008): created with a random 32-byte secret that is
 * returned once and stored only as its SHA-256 hash, listed without secrets, revoked by time
 * stamp, and verified per request by the hash of what the client sent. A token's last use is
 * written at most once a minute per token, so a busy client does not turn reads into writes.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { RpoError } from '../core/errors.js'
import type { ApiTokenTable, Database } from './database.js'
import { storeRead } from './store-calls.js'

export const TOKEN_SCOPES = ['read', 'admin'] as const
export type TokenScope = (typeof TOKEN_SCOPES)[number]

/** Every token starts so, which lets secret scanners and people recognise one. */
export const TOKEN_PREFIX = 'rpo_'

export interface ApiToken {
  readonly id: string
  readonly name: string
  readonly scope: TokenScope
  /** The one project the token may see and change; null: every project. */
  readonly project: string | null
  /** Who created it: admin changes made with it are made as this user. */
  readonly createdBy: string | null
  readonly createdAt: string
  readonly revokedAt: string | null
  readonly lastUsedAt: string | null
}

export interface NewToken {
  readonly name?: string
  readonly scope: TokenScope
  readonly project: string | null
  readonly createdBy: string | null
  readonly now: string
}

const TOUCH_INTERVAL_MS = 60_000
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** The stored form of a secret. */
export function hashTokenSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex')
}

export class TokenStore {
  readonly #db: Kysely<Database>
  readonly #description: string
  readonly #touched = new Map<string, number>()

  constructor(db: Kysely<Database>, description: string) {
    this.#db = db
    this.#description = description
  }

  /** A new token and its secret: the only time the secret exists outside the client. */
  async create(input: NewToken): Promise<{ token: ApiToken; secret: string }> {
    if (!(TOKEN_SCOPES as readonly string[]).includes(input.scope))
      throw new RpoError('usage', `a token's scope is read or admin, got ${JSON.stringify(input.scope)}`)
    const id = `tok-${randomBytes(4).toString('hex')}`
    const name = input.name ?? id
    if (!NAME.test(name))
      throw new RpoError(
        'usage',
        `--name ${JSON.stringify(name)}: a token name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      )
    const secret = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`
    const row: ApiTokenTable = {
      id,
      name,
      scope: input.scope,
      project: input.project,
      secret_hash: hashTokenSecret(secret),
      created_by: input.createdBy,
      created_at: input.now,
      revoked_at: null,
      last_used_at: null,
    }
    await this.#run((db) => db.insertInto('api_tokens').values(row).execute())
    return { token: toToken(row), secret }
  }

  /** Every token ever created, oldest first, without secrets. */
  async list(): Promise<ApiToken[]> {
    const rows = await this.#run((db) =>
      db.selectFrom('api_tokens').selectAll().orderBy('created_at').orderBy('id').execute(),
    )
    return rows.map(toToken)
  }

  /** Revoke a token (again: a no-op that keeps the first time). */
  async revoke(id: string, now: string): Promise<ApiToken> {
    const row = await this.#run(async (db) => {
      await db
        .updateTable('api_tokens')
        .set({ revoked_at: now })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .execute()
      return db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst()
    })
    if (!row)
      throw new RpoError(
        'token-not-found',
        `no API token "${id}" in ${this.#description}; \`rpo token list\` lists them`,
      )
    return toToken(row)
  }

  /**
   * The token a client's secret belongs to (revoked ones too: the caller refuses them), or null.
   * Its last use is recorded on the way.
   */
  async verify(secret: string, now: number): Promise<ApiToken | null> {
    if (!secret.startsWith(TOKEN_PREFIX) || secret.length > 200) return null
    const hash = hashTokenSecret(secret)
    const row = await this.#run((db) =>
      db.selectFrom('api_tokens').selectAll().where('secret_hash', '=', hash).executeTakeFirst(),
    )
    if (!row) return null
    const last = this.#touched.get(row.id)
    if (row.revoked_at === null && (last === undefined || now - last >= TOUCH_INTERVAL_MS || now < last)) {
      this.#touched.set(row.id, now)
      const at = new Date(now).toISOString()
      // bookkeeping: a store busy with a writer must not turn a read request away for it
      const touched = await this.#run((db) =>
        db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', row.id).execute(),
      ).then(
        () => true,
        () => false,
      )
      return touched ? toToken({ ...row, last_used_at: at }) : toToken(row)
    }
    return toToken(row)
  }

  #run<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return storeRead(this.#db, this.#description, fn)
  }
}

function toToken(row: ApiTokenTable): ApiToken {
  return {
    id: row.id,
    name: row.name,
    // an unknown scope grants nothing more than read; it cannot be written through this module
    scope: row.scope === 'admin' ? 'admin' : 'read',
    project: row.project,
    createdBy: row.created_by,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  }
}
