/**
 * Whether a failed attempt is tried again, and after how long. Pure: exponential backoff without
 * jitter, so the same failure history always gives the same schedule.
 */
import type { RetryableEnding, RetryPolicy } from '../pipeline/resolved-pipeline.js'

export type RetryDecision =
  | { readonly kind: 'retry'; readonly delaySeconds: number }
  | { readonly kind: 'give-up'; readonly reason: 'not-retryable' | 'max-attempts' }

/** @param failures failed attempts so far, including the one that just ended (≥ 1) */
export function decideRetry(ending: RetryableEnding, failures: number, policy: RetryPolicy): RetryDecision {
  if (!policy.on.includes(ending)) return { kind: 'give-up', reason: 'not-retryable' }
  if (failures > policy.maxRetries) return { kind: 'give-up', reason: 'max-attempts' }
  const delaySeconds = Math.min(policy.maxBackoffSeconds, policy.backoffSeconds * policy.factor ** (failures - 1))
  return { kind: 'retry', delaySeconds }
}
