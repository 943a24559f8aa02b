/**
 * Right-sizing: the memory and time to ask for in a stage's next run, from what its past attempts
 * used. Pure.
 *
 *   memory = p95 of the successful attempts' MaxRSS × 1.2, rounded up to a multiple of 64 MB;
 *            never below the largest MaxRSS that succeeded, and above any amount the stage ran out
 *            of memory with (its asked memory on an out_of_memory ending)
 *   time   = p95 of the successful attempts' elapsed × 1.5, rounded up to whole minutes; never below
 *            the longest elapsed that succeeded
 *
 * p95 is nearest-rank (sample-summary.ts). With no successful attempt measured there is no
 * suggestion for that figure (null), never a guess; the sample counts say how much to trust one.
 */
import type { AttemptEfficiency } from './efficiency.js'
import { percentile } from './sample-summary.js'

export const MEMORY_HEADROOM = 1.2
export const TIME_HEADROOM = 1.5
const MEMORY_STEP_MB = 64
const TIME_STEP_SECONDS = 60

export interface RightSizing {
  /** Suggested memory per node, MB; null without a measured success. */
  readonly memoryMb: number | null
  readonly memorySamples: number
  /** What the stage's newest attempt asked for, MB per node. */
  readonly askedMemoryMb: number | null
  /** Suggested time limit, seconds; null without a measured success. */
  readonly timeLimitSeconds: number | null
  readonly timeSamples: number
  readonly askedTimeLimitSeconds: number | null
}

export interface SizingAttempt {
  readonly state: string
  readonly efficiency: AttemptEfficiency
  readonly askedTimeLimitSeconds: number | null
}

/** The suggestion for one stage from its attempts, newest first. */
export function suggestRightSizing(attempts: readonly SizingAttempt[]): RightSizing {
  const succeeded = attempts.filter((a) => a.state === 'succeeded')
  const rss = succeeded.flatMap((a) => (a.efficiency.maxRssMb === null ? [] : [a.efficiency.maxRssMb]))
  const elapsed = succeeded.flatMap((a) => (a.efficiency.elapsedSeconds === null ? [] : [a.efficiency.elapsedSeconds]))
  const oomAsked = attempts.flatMap((a) =>
    a.state === 'out_of_memory' && a.efficiency.askedMemoryMb !== null ? [a.efficiency.askedMemoryMb] : [],
  )
  let memoryMb: number | null = null
  const rss95 = percentile(rss, 0.95)
  if (rss95 !== null) {
    memoryMb = roundUp(Math.max(rss95 * MEMORY_HEADROOM, Math.max(...rss)), MEMORY_STEP_MB)
    const ranOut = oomAsked.length > 0 ? Math.max(...oomAsked) : 0
    if (memoryMb <= ranOut) memoryMb = roundUp(ranOut + 1, MEMORY_STEP_MB)
  }
  let timeLimitSeconds: number | null = null
  const elapsed95 = percentile(elapsed, 0.95)
  if (elapsed95 !== null)
    timeLimitSeconds = Math.max(
      TIME_STEP_SECONDS,
      roundUp(Math.max(elapsed95 * TIME_HEADROOM, Math.max(...elapsed)), TIME_STEP_SECONDS),
    )
  const newest = attempts[0]
  return {
    memoryMb,
    memorySamples: rss.length,
    askedMemoryMb: newest?.efficiency.askedMemoryMb ?? null,
    timeLimitSeconds,
    timeSamples: elapsed.length,
    askedTimeLimitSeconds: newest?.askedTimeLimitSeconds ?? null,
  }
}

function roundUp(value: number, step: number): number {
  return Math.max(step, Math.ceil(value / step) * step)
}
