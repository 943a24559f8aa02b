/**
 * How every part of the store talks to its database: a read, a write in one transaction, or any
 * other call, each with the driver's failures turned into StoreErrors that name the store
 * (store-errors.ts). One place, so no store method can let a raw driver error reach the user.
 */
import type { Kysely, Transaction } from 'kysely'
import type { Database } from './database.js'
import { translateStoreError } from './store-errors.js'

/** `fn`, with whatever it throws as a StoreError about the store `description` names. */
export async function storeCall<T>(description: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    throw translateStoreError(error, description)
  }
}

/** A read (one statement or several, no transaction of its own). */
export function storeRead<T>(
  db: Kysely<Database>,
  description: string,
  fn: (db: Kysely<Database>) => Promise<T>,
): Promise<T> {
  return storeCall(description, () => fn(db))
}

/** Writes in one transaction: all of them or none. */
export function storeWrite<T>(
  db: Kysely<Database>,
  description: string,
  fn: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  return storeCall(description, () => db.transaction().execute(fn))
}
