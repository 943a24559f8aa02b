/**
 * The history the estimates read, loaded from the store: duration samples of the pipelines asked
 * about (their own stages) and of every pipeline (the same command shape elsewhere), and queue waits
 * of every cluster, over the last 90 days. `EstimateHistoryCache` keeps one load for a minute of
 * the caller's clock, so a daemon ranking runs every round reads history at most once a minute.
 * A run is projected from the other runs' durations only (`durationsWithoutRun`).
 */
import {
  type DurationHistory,
  type DurationSample,
  EMPTY_DURATION_HISTORY,
  indexDurationSamples,
} from '../core/estimate/duration-model.js'
import { EMPTY_QUEUE_WAIT_HISTORY, indexQueueWaits, type QueueWaitHistory } from '../core/estimate/queue-wait-model.js'
import type { RunStore } from '../store/run-store.js'

export interface EstimateHistory {
  readonly durations: DurationHistory
  readonly waits: QueueWaitHistory
  /** The samples behind `durations`: a pipeline's own stages, and every pipeline's shapes. */
  readonly samples: { readonly own: readonly DurationSample[]; readonly everywhere: readonly DurationSample[] }
}

export const NO_HISTORY: EstimateHistory = {
  durations: EMPTY_DURATION_HISTORY,
  waits: EMPTY_QUEUE_WAIT_HISTORY,
  samples: { own: [], everywhere: [] },
}

const withoutRunCache = new WeakMap<EstimateHistory, Map<string, DurationHistory>>()

/** The durations history without one run's own samples (built once per history and run). */
export function durationsWithoutRun(history: EstimateHistory, runId: string): DurationHistory {
  const own = history.samples.own.filter((s) => s.runId === runId).length
  const everywhere = history.samples.everywhere.filter((s) => s.runId === runId).length
  if (own === 0 && everywhere === 0) return history.durations
  let perRun = withoutRunCache.get(history)
  if (!perRun) {
    perRun = new Map()
    withoutRunCache.set(history, perRun)
  }
  const cached = perRun.get(runId)
  if (cached) return cached
  const built = durationsOf(
    history.samples.own.filter((s) => s.runId !== runId),
    history.samples.everywhere.filter((s) => s.runId !== runId),
  )
  perRun.set(runId, built)
  return built
}

function durationsOf(own: readonly DurationSample[], everywhere: readonly DurationSample[]): DurationHistory {
  // a pipeline's own stages from its own query (not crowded out by busier pipelines); shapes from all
  return { byStage: indexDurationSamples(own).byStage, byShape: indexDurationSamples(everywhere).byShape }
}

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
  return { durations: durationsOf(own, everywhere), waits: indexQueueWaits(waits), samples: { own, everywhere } }
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
