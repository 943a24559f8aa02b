/**
 * What every fault test reports: one seeded PRNG (the seed printed, `RPO_FAULT_SEED=<n>` replays
 * it) and one line of figures in a fixed format the lead can quote:
 * `faults: <test> key=value …`.
 */

/** The seed for this process: $RPO_FAULT_SEED when set, else a fresh one (printed by the caller). */
export function faultSeed(): number {
  const fromEnv = process.env.RPO_FAULT_SEED
  if (fromEnv !== undefined && fromEnv !== '') {
    const seed = Number(fromEnv)
    if (!Number.isSafeInteger(seed)) throw new Error(`RPO_FAULT_SEED must be a whole number, got "${fromEnv}"`)
    return seed
  }
  return Math.floor(Math.random() * 2 ** 31)
}

/** mulberry32: a tiny deterministic PRNG, so the same seed draws the same kill moments. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export type Figures = Readonly<Record<string, string | number>>

/** `faults: kill-random seed=1 kills=53 …`, printed to stdout and returned (for assertion messages). */
export function printFigures(test: string, figures: Figures): string {
  const line = `faults: ${test} ${Object.entries(figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`
  process.stdout.write(`${line}\n`)
  return line
}

/** Seconds since `startMs`, whole, with an `s`. */
export function wallSince(startMs: number): string {
  return `${Math.round((Date.now() - startMs) / 1000)}s`
}

/** Raw terminal control characters that must never reach a user's terminal from rpo's output. */
export function rawControlIn(text: string): string[] {
  const found: string[] = []
  ;[...text].forEach((c, i, chars) => {
    if (c === '\u0007' || c === '\u001b' || c === '\u009b')
      found.push(JSON.stringify(chars.slice(Math.max(0, i - 30), i + 10).join('')))
  })
  return found
}
