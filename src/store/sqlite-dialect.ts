/**
 * kysely's SQLite dialect as the store needs it: write transactions that take the write lock up front,
 * a rollback only when a transaction is still open, and no store access once a store file can no
 * longer be written.
 *
 * Why the last one: in WAL mode SQLite writes its shared index (`<store>-shm`) through a shared memory
 * map. When that file turns immutable (`chattr +i`) or its file system read-only under a running rpo,
 * the kernel answers the next write to the map with SIGBUS, which kills the process with no message.
 * So before each use of the connection, and before closing it (closing checkpoints, which writes the
 * map), the store's files are checked for writability: a store that cannot be written is reported as
 * read-only and the map is never touched again. Such a database is never closed either: it is kept
 * referenced (a garbage-collected connection closes itself) and the process leaves without the
 * driver's exit-time close; the next rpo recovers the store from its WAL. A change between the check
 * and the write (within one transaction) is not caught.
 */
import type SqliteDatabase from 'better-sqlite3'
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely'
import type { StoreError } from '../core/errors.js'
import { readOnlyError } from './store-errors.js'
import { storeWriteRefusal } from './store-writability.js'

/** Null when every file of the store can be written; otherwise the StoreError to report. */
export function unwritableStore(file: string, description: string): StoreError | null {
  const refusal = storeWriteRefusal(file)
  return refusal ? readOnlyError(description, refusal) : null
}

const abandoned = new Set<SqliteDatabase.Database>()

function abandon(database: SqliteDatabase.Database): void {
  // exiting from the 'exit' event skips the exit-time cleanup in which better-sqlite3 closes open databases
  if (abandoned.size === 0) process.once('exit', (code) => process.exit(code))
  abandoned.add(database)
}

class StoreSqliteDriver extends SqliteDriver {
  readonly #database: SqliteDatabase.Database
  readonly #file: string
  readonly #description: string
  #unwritable = false

  constructor(config: SqliteDialectConfig & { database: SqliteDatabase.Database }, description: string) {
    super(config)
    this.#database = config.database
    this.#file = config.database.name
    this.#description = description
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const unwritable = unwritableStore(this.#file, this.#description)
    if (unwritable) {
      this.#unwritable = true
      throw unwritable
    }
    return super.acquireConnection()
  }

  // a deferred BEGIN that reads first cannot wait for a writer (SQLite returns SQLITE_BUSY at once when it
  // upgrades to a write), so write transactions take the write lock up front and honour busy_timeout
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'))
  }

  // SQLite ends a transaction itself on some errors (a full disk, I/O errors); a ROLLBACK then fails
  // with "no transaction is active" and would hide the error that ended it
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (this.#database.inTransaction) await super.rollbackTransaction(connection)
  }

  override async destroy(): Promise<void> {
    // closing checkpoints the WAL through the shared map: a store that turned read-only is left open
    if (this.#unwritable || unwritableStore(this.#file, this.#description)) abandon(this.#database)
    else await super.destroy()
  }
}

export class StoreSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig & { database: SqliteDatabase.Database }
  readonly #description: string

  constructor(config: SqliteDialectConfig & { database: SqliteDatabase.Database }, description: string) {
    super(config)
    this.#config = config
    this.#description = description
  }

  override createDriver(): Driver {
    return new StoreSqliteDriver(this.#config, this.#description)
  }
}

/** Statements kept prepared per database; enough for every query shape rpo issues in a round. */
const PREPARED_STATEMENTS = 256

/**
 * The database as kysely's SQLite connection uses it (`prepare` and `close`), with prepared
 * statements kept by their SQL text. kysely prepares every query anew, and preparing is a good part
 * of a small query's cost (reading one run row by id: 66–87 µs of CPU prepared anew, 22–55 µs kept). better-sqlite3's
 * statements are reusable and never run concurrently (its API is synchronous); SQLite recompiles a
 * kept statement itself after a schema change. Oldest use goes first past the bound (`in (…)` lists
 * of varying length make one-off texts).
 */
export function withPreparedStatements(database: SqliteDatabase.Database): SqliteDatabase.Database {
  const kept = new Map<string, SqliteDatabase.Statement>()
  const prepare = (sql: string): SqliteDatabase.Statement => {
    let statement = kept.get(sql)
    if (statement) kept.delete(sql)
    else {
      statement = database.prepare(sql)
      if (kept.size >= PREPARED_STATEMENTS) kept.delete(kept.keys().next().value as string)
    }
    kept.set(sql, statement)
    return statement
  }
  return new Proxy(database, {
    get: (target, property) => {
      if (property === 'prepare') return prepare
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
