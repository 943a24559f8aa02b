/**
 * The queue-wait model: how long a job is expected to wait between submission and start, per
 * cluster, partition and GPU type, from history. Pure and deterministic given the samples.
 *
 * Lookup, most specific first: (cluster, partition, GPU type) → (cluster, partition, any GPU type)
 * → (cluster, anything) → none (0 s, source `none`). Expected = the median of the newest
 * `maxSamples` waits of the key (default 50), p90 beside it, with the sample count.
 * The GPU type of a task is the first type it accepts, `any` for GPUs of no named type, null
 * without GPUs (`queueKeyOf`); history samples are keyed the same way from the task that waited.
 */
import type { ResolvedTask } from '../pipeline/resolved-pipeline.js'
import { DEFAULT_MAX_SAMPLES, summarizeNewest } from './duration-model.js'
import { estimateFromHistory, type SampleSummary } from './sample-summary.js'

export interface QueueKey {
  readonly cluster: string
  readonly partition: string | null
  readonly gpuType: string | null
}

/** One attempt that started: submitted → started. */
export interface QueueWaitSample extends QueueKey {
  readonly seconds: number
  /** When it started (ms since the epoch): newer samples are preferred. */
  readonly startedAt: number
}

export interface QueueWaitEstimate {
  readonly seconds: number
  readonly p90Seconds: number
  readonly samples: number
  readonly source: 'history' | 'none'
  /** How closely the history matched. */
  readonly basis: 'exact' | 'partition' | 'cluster' | null
}

export interface QueueWaitHistory {
  readonly exact: ReadonlyMap<string, SampleSummary>
  readonly partition: ReadonlyMap<string, SampleSummary>
  readonly cluster: ReadonlyMap<string, SampleSummary>
}

export const EMPTY_QUEUE_WAIT_HISTORY: QueueWaitHistory = { exact: new Map(), partition: new Map(), cluster: new Map() }

const NO_WAIT: QueueWaitEstimate = { seconds: 0, p90Seconds: 0, samples: 0, source: 'none', basis: null }

export function queueKeyOf(task: Pick<ResolvedTask, 'resources' | 'cluster'>, runCluster: string): QueueKey {
  const gpus = task.resources.gpus
  return {
    cluster: task.cluster ?? runCluster,
    partition: task.resources.partition,
    gpuType: gpus ? (gpus.types[0] ?? 'any') : null,
  }
}

const exactKey = (k: QueueKey) => `${k.cluster}\u0000${k.partition ?? ''}\u0000${k.gpuType ?? ''}`
const partitionKey = (k: QueueKey) => `${k.cluster}\u0000${k.partition ?? ''}`
const startedAt = (s: QueueWaitSample) => s.startedAt

export function indexQueueWaits(
  samples: readonly QueueWaitSample[],
  maxSamples: number = DEFAULT_MAX_SAMPLES,
): QueueWaitHistory {
  return {
    exact: summarizeNewest(samples, exactKey, maxSamples, startedAt),
    partition: summarizeNewest(samples, partitionKey, maxSamples, startedAt),
    cluster: summarizeNewest(samples, (s) => s.cluster, maxSamples, startedAt),
  }
}

export function estimateQueueWait(history: QueueWaitHistory, key: QueueKey): QueueWaitEstimate {
  const found: [SampleSummary | undefined, QueueWaitEstimate['basis']][] = [
    [history.exact.get(exactKey(key)), 'exact'],
    [history.partition.get(partitionKey(key)), 'partition'],
    [history.cluster.get(key.cluster), 'cluster'],
  ]
  for (const [summary, basis] of found) {
    if (summary) return estimateFromHistory(summary, basis)
  }
  return NO_WAIT
}
