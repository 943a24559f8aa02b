/**
 * A summary of observed durations (seconds): how many, the median and the 90th percentile. What both
 * the duration model and the queue-wait model report, so a reader can judge how much to trust a
 * figure. Pure.
 *
 *   median = the middle value of the sorted samples; the mean of the two middle ones for an even count
 *   p90    = nearest rank: the ⌈0.9 · n⌉-th smallest sample (for n < 10 that is the largest)
 */

export interface SampleSummary {
  readonly medianSeconds: number
  readonly p90Seconds: number
  readonly samples: number
}

/** null for no samples; non-finite or negative values are not samples and are left out. */
export function summarizeSamples(values: readonly number[]): SampleSummary | null {
  const sorted = values.filter((v) => Number.isFinite(v) && v >= 0).sort((a, b) => a - b)
  const n = sorted.length
  if (n === 0) return null
  const middle = Math.floor(n / 2)
  const median =
    n % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
  const p90 = sorted[Math.max(0, Math.ceil(0.9 * n) - 1)] as number
  return { medianSeconds: median, p90Seconds: p90, samples: n }
}

/** An estimate read from history: the summary's figures, said to come from history on `basis`. */
export function estimateFromHistory<B>(
  summary: SampleSummary,
  basis: B,
): { seconds: number; p90Seconds: number; samples: number; source: 'history'; basis: B } {
  return {
    seconds: summary.medianSeconds,
    p90Seconds: summary.p90Seconds,
    samples: summary.samples,
    source: 'history',
    basis,
  }
}

/**
 * The nearest-rank percentile of the values: the ⌈q · n⌉-th smallest (q in (0, 1]); null for none.
 * The p90 of `summarizeSamples` is `percentile(values, 0.9)`.
 */
export function percentile(values: readonly number[], q: number): number | null {
  const sorted = values.filter((v) => Number.isFinite(v) && v >= 0).sort((a, b) => a - b)
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number
}
