/**
 * Checks on the values a batch-script renderer puts into a script: names, NUL bytes, numbers. Each
 * scheduler gets the same rules with its own prefix in the message (`Slurm script: …`).
 */
import { RpoError } from '../core/errors.js'
import { isSafeName } from './shell-quote.js'

export interface ScriptValueChecks {
  invalid(message: string): RpoError
  safeName(what: string, value: string): string
  noNul(what: string, value: string): string
  positive(what: string, value: number): number
  positiveInteger(what: string, value: number): number
  nonNegativeInteger(what: string, value: number): number
}

/** @param prefix names the script in messages, e.g. `Slurm script` */
export function scriptValueChecks(prefix: string): ScriptValueChecks {
  const invalid = (message: string) => new RpoError('spec-invalid', `${prefix}: ${message}`)
  return {
    invalid,
    safeName(what, value) {
      if (!isSafeName(value)) throw invalid(`${what} must match [A-Za-z0-9._-]+, got ${JSON.stringify(value)}`)
      return value
    },
    noNul(what, value) {
      if (value.includes('\0')) throw invalid(`${what} contains a NUL byte`)
      return value
    },
    positive(what, value) {
      if (!Number.isFinite(value) || value <= 0) throw invalid(`${what} must be positive, got ${value}`)
      return value
    },
    positiveInteger(what, value) {
      if (!Number.isInteger(value) || value <= 0) throw invalid(`${what} must be a positive integer, got ${value}`)
      return value
    },
    nonNegativeInteger(what, value) {
      if (!Number.isInteger(value) || value < 0) throw invalid(`${what} must be a whole number, got ${value}`)
      return value
    },
  }
}
