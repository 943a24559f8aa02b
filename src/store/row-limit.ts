/**
 * How many rows a list may ask for. A limit beyond any table is the same as no limit, so it is
 * capped to what both databases bind as an integer (a larger number reached SQLite as a float:
 * "datatype mismatch"); a limit that is not a positive whole number is refused, named.
 */
import { RpoError } from '../core/errors.js'

const LARGEST_LIMIT = 2 ** 31 - 1

export function rowLimit(limit: number): number {
  if (!Number.isFinite(limit) && limit > 0) return LARGEST_LIMIT
  if (!Number.isInteger(limit) || limit <= 0)
    throw new RpoError('usage', `a list limit must be a positive whole number, got ${limit}`)
  return Math.min(limit, LARGEST_LIMIT)
}
