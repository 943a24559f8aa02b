/**
 * Where the shared scheduler fixtures are: `../shared/fixtures` beside the checkout (as laid out for
 * developers and CI), or $RPO_SHARED_FIXTURES. Missing fixtures fail the suites that need them.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'

export const SHARED_FIXTURES =
  process.env.RPO_SHARED_FIXTURES ?? path.resolve(import.meta.dirname, '../../../shared/fixtures')

if (!existsSync(SHARED_FIXTURES)) {
  throw new Error(`shared scheduler fixtures not found at ${SHARED_FIXTURES} (set RPO_SHARED_FIXTURES)`)
}

export function sharedFixture(...parts: string[]): string {
  return path.join(SHARED_FIXTURES, ...parts)
}
