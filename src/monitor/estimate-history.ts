/**
 * The history the estimates read, loaded from the store: duration samples of the pipelines asked
 * about (their own stages) and of every pipeline (the same command shape elsewhere), and queue waits
 * of every cluster, over the last 90 days. `EstimateHistoryCache` keeps one load for a minute of
 * the caller's clock, so a daemon ranking runs every round reads history at most once a minute.
 */
import { type DurationHistory, EMPTY_DURATION_HISTORY, indexDurationSamples } from '../core/estimate/duration-model.js'
import { EMPTY_QUEUE_WAIT_HISTORY, indexQueueWaits, type QueueWaitHistory } from '../core/estimate/queue-wait-model.js'
import type { RunStore } from '../store/run-store.js'

export interface EstimateHistory {
  readonly durations: DurationHistory
  readonly waits: QueueWaitHistory
}

export const NO_HISTORY: EstimateHistory = { durations: EMPTY_DURATION_HISTORY, waits: EMPTY_QUEUE_WAIT_HISTORY }

const WINDOW_MS = 90 * 86_400_000
/** Newest samples read per query: enough for every stage's 50 newest in all but the largest stores. */
const SAMPLES_READ = 5_000

export async function loadEstimateHistory(
  store: Pick<RunStore, 'history'>,
  pipelines: readonly string[],
  now: number,
): Promise<EstimateHistory> {
  const since = new Date(now - WINDOW_MS).toISOString()
  const [own, everywhere, waits] = await Promise.all([
    pipelines.length > 0
      ? store.history.durationSamples({ since, pipeline: [...new Set(pipelines)], limit: SAMPLES_READ })
      : Promise.resolve([]),
    store.history.durationSamples({ since, limit: SAMPLES_READ }),
    store.history.queueWaitSamples({ since, limit: SAMPLES_READ }),
  ])
  return {
    // a pipeline's own stages from its own query (not crowded out by busier pipelines); shapes from all
    durations: { byStage: indexDurationSamples(own).byStage, byShape: indexDurationSamples(everywhere).byShape },
    waits: indexQueueWaits(waits),
  }
}

export class EstimateHistoryCache {
  readonly #store: Pick<RunStore, 'history'>
  readonly #maxAgeMs: number
  #loaded: { at: number; pipelines: ReadonlySet<string>; history: EstimateHistory } | null = null

  constructor(store: Pick<RunStore, 'history'>, maxAgeMs = 60_000) {
    this.#store = store
    this.#maxAgeMs = maxAgeMs
  }

  async get(pipelines: readonly string[], now: number): Promise<EstimateHistory> {
    const loaded = this.#loaded
    const fresh = loaded !== null && now - loaded.at < this.#maxAgeMs && now >= loaded.at
    if (fresh && pipelines.every((p) => loaded.pipelines.has(p))) return loaded.history
    const wanted = new Set([...(fresh ? loaded.pipelines : []), ...pipelines])
    const history = await loadEstimateHistory(this.#store, [...wanted], now)
    this.#loaded = { at: now, pipelines: wanted, history }
    return history
  }
}
