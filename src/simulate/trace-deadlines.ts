/**
 * Deadlines for trace jobs, which carry none: deadline = submit + k × duration, k drawn per job
 * from [minFactor, maxFactor) by a seeded hash of the job's id — the same seed gives the same
 * deadlines whatever the policy, the limit or the order rows are read in. Pure.
 */
import type { TraceJob } from './trace-job.js'

export interface DeadlineRule {
  readonly seed: number
  /** @default 2 */
  readonly minFactor?: number
  /** @default 5 */
  readonly maxFactor?: number
}

export interface DeadlinedJob extends TraceJob {
  /** Seconds from the trace's start. */
  readonly deadlineSeconds: number
}

export const DEFAULT_DEADLINE_FACTORS = { min: 2, max: 5 } as const

export function withDeadlines(jobs: readonly TraceJob[], rule: DeadlineRule): DeadlinedJob[] {
  const min = rule.minFactor ?? DEFAULT_DEADLINE_FACTORS.min
  const max = rule.maxFactor ?? DEFAULT_DEADLINE_FACTORS.max
  return jobs.map((job) => ({
    ...job,
    deadlineSeconds: job.submitSeconds + (min + (max - min) * seededUnit(rule.seed, job.id)) * job.durationSeconds,
  }))
}

/** FNV-1a of `seed:key`, as a number in [0, 1). */
export function seededUnit(seed: number, key: string): number {
  let hash = 0x811c9dc5
  const text = `${seed}:${key}`
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  // one more mixing round: FNV's low bits alone follow the last characters too closely
  hash ^= hash >>> 15
  hash = Math.imul(hash, 0x2c1b3c6d) >>> 0
  hash ^= hash >>> 12
  return hash / 2 ** 32
}
