/**
 * The one escalation rule of the failure policy: an attempt that ran out of a resource it asked for
 * (memory: out of memory; time: its time limit, for a task without a checkpoint) is retried asking
 * for more of it, and one that ran out at the ceiling is not retried. Pure.
 *
 *   next = min(ceil(current × factor), ceiling)      (no ceiling: ceil(current × factor))
 *   current ≥ ceiling → at the ceiling: give up
 *
 * So the amounts asked never exceed the ceiling (unless the declared amount already did) and never
 * go down; `factor` 1 retries with the same amount.
 */
import type { ResolvedTask, RetryableEnding } from '../pipeline/resolved-pipeline.js'
import type { TaskOverrides } from '../scheduling/run-snapshot.js'

export type EscalationStep = { readonly kind: 'escalated'; readonly next: number } | { readonly kind: 'at-ceiling' }

export function escalate(current: number, factor: number, ceiling: number | null): EscalationStep {
  if (ceiling !== null && current >= ceiling) return { kind: 'at-ceiling' }
  const next = Math.max(current, Math.ceil(current * factor))
  return { kind: 'escalated', next: ceiling === null ? next : Math.min(next, ceiling) }
}

/** What an ending escalates: the resource, its settings, and how its amounts read. */
export interface EscalationRule {
  /** The override the next attempts carry. */
  readonly override: keyof Pick<TaskOverrides, 'memoryMb' | 'timeLimitSeconds'>
  readonly factor: number
  readonly ceiling: number | null
  /** The setting a user changes, named when the ceiling stops the retries. */
  readonly ceilingSetting: string
  /** e.g. `4096 MB`, `a time limit of 60 s`. */
  readonly describe: (amount: number) => string
}

/**
 * The escalation an ending calls for, or null. Only the retry path asks: a task with a checkpoint
 * resumes after a time limit instead, from where it was, with the same limit.
 */
export function escalationFor(ending: RetryableEnding, definition: ResolvedTask): EscalationRule | null {
  const retry = definition.retry
  switch (ending) {
    case 'out_of_memory':
      return {
        override: 'memoryMb',
        factor: retry.oomMemoryFactor,
        ceiling: retry.oomMaxMemoryMb,
        ceilingSetting: 'retries.oomMaxMemory',
        describe: (mb) => `${mb} MB`,
      }
    case 'timeout':
      return {
        override: 'timeLimitSeconds',
        factor: retry.timeFactor,
        ceiling: retry.maxTimeSeconds,
        ceilingSetting: 'retries.maxTime',
        describe: (seconds) => `a time limit of ${seconds} s`,
      }
    default:
      return null
  }
}
