/**
 * Parsers for command-line values that commander hands over as text. Strict: `5x`, `1e3` or a
 * number past what the store can hold are refused (exit 2) rather than read as something else.
 */
import { InvalidArgumentError } from 'commander'

/** A whole number from 1 to `max`, written in plain digits. */
export function positiveCount(max: number): (text: string) => number {
  return (text: string) => {
    const trimmed = text.trim()
    if (!/^\d+$/.test(trimmed) || Number(trimmed) < 1)
      throw new InvalidArgumentError(`expected a whole number from 1 to ${max}, got "${text}"`)
    const value = Number(trimmed)
    if (value > max) throw new InvalidArgumentError(`at most ${max}, got ${trimmed}`)
    return value
  }
}
