/**
 * The databases' own failures (better-sqlite3, pg, the file system) translated into StoreErrors that
 * say what is wrong with the store and what to do, with stable codes. Only what passes by itself
 * (a locked store, a server that cannot be reached) is retryable.
 */
import { StoreError } from '../core/errors.js'
import { storeWriteRefusal } from './store-writability.js'

/** Where the store is, for messages: the path of a SQLite file, the (password-free) URL of a server. */
export function locationOf(description: string): string {
  return description.replace(/^(SQLite|PostgreSQL) store /, '')
}

export function diskFullError(description: string, cause?: unknown): StoreError {
  return new StoreError(
    'store-disk-full',
    `the store's disk is full: ${locationOf(description)}. Free space on that disk (or point store.url elsewhere) and run the command again; nothing was written.`,
    { cause },
  )
}

export function readOnlyError(description: string, cause?: unknown): StoreError {
  const why = cause === undefined ? '' : ` (${messageOf(cause)})`
  return new StoreError(
    'store-read-only',
    `the store is read-only: ${locationOf(description)}${why}. Make it writable (file permissions, \`chattr -i\`, a read-write mount) or point store.url elsewhere.`,
    { cause },
  )
}

const READ_ONLY_CODES = new Set(['EACCES', 'EPERM', 'EROFS', '25006'])
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'])

/** Map driver errors to StoreErrors; anything unrecognised keeps the driver's words and is not retried. */
export function translateStoreError(error: unknown, description: string): StoreError {
  if (error instanceof StoreError) return error
  const code = String((error as { code?: unknown }).code ?? '')
  const message = messageOf(error)
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || /database is locked/i.test(message)) {
    return new StoreError(
      'store-locked',
      `${description} is locked by another process (another rpo still writing?). Try again, or raise store.busyTimeout.`,
      { cause: error },
    )
  }
  if (code === '55P03') {
    return new StoreError(
      'store-locked',
      `${description}: a row rpo needs stayed locked by another session for too long (another rpo paused or stuck mid-write?). It is tried again next round.`,
      { cause: error },
    )
  }
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === '53100' || /database or disk is full/i.test(message)) {
    return diskFullError(description, error)
  }
  if (code.startsWith('SQLITE_READONLY') || READ_ONLY_CODES.has(code) || /readonly database/i.test(message)) {
    return readOnlyError(description, error)
  }
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || /not a database|malformed/i.test(message)) {
    return new StoreError(
      'store-corrupt',
      `${description} is not a valid SQLite database (corrupted or not an rpo store). Move it aside to start a new store; nothing was changed.`,
      { cause: error },
    )
  }
  if (code.startsWith('SQLITE_CONSTRAINT') || code === '23505' || code === '23503') {
    // a broken invariant (e.g. the same submission key twice) is a bug, and retrying cannot help
    return new StoreError('store-migration', `${description}: constraint violated: ${message}`, { cause: error })
  }
  if (code === 'SQLITE_CANTOPEN') {
    return new StoreError('store-unavailable', `${description} cannot be opened: ${message}`, {
      cause: error,
      retryable: false,
    })
  }
  if (code.startsWith('SQLITE_IOERR')) {
    // a store file made read-only during a transaction fails the write itself with an I/O error
    const refusal = description.startsWith('SQLite store ') ? storeWriteRefusal(locationOf(description)) : null
    if (refusal) return readOnlyError(description, refusal)
    return new StoreError(
      'store-unavailable',
      `${description} could not be read or written (${message}): check the disk and the file system it is on.`,
      { cause: error, retryable: false },
    )
  }
  if (
    CONNECTION_CODES.has(code) ||
    code === '28P01' ||
    code === '3D000' ||
    code.startsWith('08') ||
    code.startsWith('57P') ||
    /connect|timeout|terminated/i.test(message)
  ) {
    return new StoreError('store-unavailable', `${description} is unreachable: ${message}`, {
      cause: error,
      // a wrong password or a database that does not exist do not pass by themselves
      retryable: code !== '28P01' && code !== '3D000',
    })
  }
  return new StoreError('store-unavailable', `${description}: ${message}`, { cause: error, retryable: false })
}

export function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.map(messageOf).join('; ')
  return error instanceof Error ? error.message : String(error)
}
