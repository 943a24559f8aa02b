/**
 * The duration model: how long one instance of a task is expected to run, from history when there
 * is some, else from what the pipeline declares. Pure and deterministic given the samples.
 *
 * Order of sources (the first that has a figure wins; the estimate names it):
 *   1. history, same pipeline + stage: past successful attempts of the same pipeline name and task
 *      name (matrix/fan-out instances `train.3` count as stage `train`);
 *   2. history, same shape: successful attempts of any pipeline whose task had the same command
 *      template (placeholders kept, whitespace collapsed) and the same resources (cpus, memory, GPUs,
 *      nodes, partition, time limit) — `taskShape`;
 *   3. declared: the task's `expected`;
 *   4. limit: the task's time limit (the longest it can run).
 * From history: expected = the median of the newest `maxSamples` samples (default 50, so a pipeline
 * that got faster is believed within a few dozen runs), p90 beside it, with the sample count.
 * Declared and limit estimates have p90 = expected and 0 samples.
 * A run is estimated from the other runs' history only: its own finished tasks are already
 * actual, and an "expected" made of a task's own duration would compare it with itself.
 *
 * Known gap: a task resumed from checkpoints is sampled by its last (successful) attempt only, which
 * ran the remainder of the work; such tasks are estimated short.
 */
import type { ResolvedTask } from '../pipeline/resolved-pipeline.js'
import { estimateFromHistory, type SampleSummary, summarizeSamples } from './sample-summary.js'

export type EstimateSource = 'history' | 'declared' | 'limit'

/** One past successful attempt. */
export interface DurationSample {
  readonly pipeline: string
  /** The task name in the pipeline file (the group of an instance). */
  readonly stage: string
  /** `taskShape` of the task the attempt ran. */
  readonly shape: string
  readonly seconds: number
  /** When the attempt ended (ms since the epoch): newer samples are preferred. */
  readonly endedAt: number
  /** The run it belongs to: a run is estimated from other runs only (`withoutRun`). */
  readonly runId?: string
}

export interface DurationEstimate {
  /** Seconds one instance is expected to run (the median from history). */
  readonly seconds: number
  readonly p90Seconds: number
  readonly samples: number
  readonly source: EstimateSource
  /** Which history matched, when source is history. */
  readonly basis: 'pipeline-task' | 'command-shape' | null
}

/** Samples grouped for lookup; build once per set of samples (`indexDurationSamples`). */
export interface DurationHistory {
  readonly byStage: ReadonlyMap<string, SampleSummary>
  readonly byShape: ReadonlyMap<string, SampleSummary>
}

export const DEFAULT_MAX_SAMPLES = 50

export const EMPTY_DURATION_HISTORY: DurationHistory = { byStage: new Map(), byShape: new Map() }

export function stageKey(pipeline: string, stage: string): string {
  return `${pipeline}\u0000${stage}`
}

/**
 * What makes two tasks "the same work" across pipelines: the command template with placeholders
 * kept (`{{params.lr}}` stays, whatever value it takes) and runs of whitespace collapsed, and the
 * resources asked for.
 */
export function taskShape(task: Pick<ResolvedTask, 'command' | 'resources'>): string {
  const r = task.resources
  const gpus = r.gpus ? `${r.gpus.count}x${[...r.gpus.types].sort().join('|') || 'any'}` : '0'
  const command = task.command.trim().replace(/\s+/g, ' ')
  return `${command}\u0000cpus=${r.cpus} mem=${r.memoryMb} gpus=${gpus} nodes=${r.nodes} partition=${r.partition ?? '-'} time=${r.timeLimitSeconds}`
}

export function indexDurationSamples(
  samples: readonly DurationSample[],
  maxSamples: number = DEFAULT_MAX_SAMPLES,
): DurationHistory {
  return {
    byStage: summarizeNewest(samples, (s) => stageKey(s.pipeline, s.stage), maxSamples, endedAt),
    byShape: summarizeNewest(samples, (s) => s.shape, maxSamples, endedAt),
  }
}

export interface DurationQuestion {
  readonly pipeline: string
  readonly stage: string
  readonly shape: string
  readonly declaredSeconds: number | null
  readonly limitSeconds: number
}

export function estimateDuration(history: DurationHistory, q: DurationQuestion): DurationEstimate {
  const own = history.byStage.get(stageKey(q.pipeline, q.stage))
  if (own) return fromHistory(own, 'pipeline-task')
  const alike = history.byShape.get(q.shape)
  if (alike) return fromHistory(alike, 'command-shape')
  if (q.declaredSeconds !== null && Number.isFinite(q.declaredSeconds) && q.declaredSeconds >= 0) {
    return { seconds: q.declaredSeconds, p90Seconds: q.declaredSeconds, samples: 0, source: 'declared', basis: null }
  }
  return { seconds: q.limitSeconds, p90Seconds: q.limitSeconds, samples: 0, source: 'limit', basis: null }
}

/** The estimate of one task of `pipeline` (every instance of a stage shares it). */
export function estimateTaskDuration(
  history: DurationHistory,
  pipeline: string,
  task: Pick<ResolvedTask, 'name' | 'command' | 'resources' | 'expectedSeconds'>,
): DurationEstimate {
  return estimateDuration(history, {
    pipeline,
    stage: task.name,
    shape: taskShape(task),
    declaredSeconds: task.expectedSeconds,
    limitSeconds: task.resources.timeLimitSeconds,
  })
}

const endedAt = (s: DurationSample) => s.endedAt

function fromHistory(summary: SampleSummary, basis: DurationEstimate['basis']): DurationEstimate {
  return estimateFromHistory(summary, basis)
}

/** Per key, the summary of the newest `maxSamples` samples (ties in time: the larger value first, so the order is total). */
export function summarizeNewest<T extends { readonly seconds: number }>(
  samples: readonly T[],
  keyOf: (sample: T) => string,
  maxSamples: number,
  timeOf: (sample: T) => number,
): Map<string, SampleSummary> {
  const grouped = new Map<string, T[]>()
  for (const sample of samples) {
    const key = keyOf(sample)
    const list = grouped.get(key)
    if (list) list.push(sample)
    else grouped.set(key, [sample])
  }
  const summaries = new Map<string, SampleSummary>()
  for (const [key, list] of grouped) {
    list.sort((a, b) => timeOf(b) - timeOf(a) || b.seconds - a.seconds)
    const summary = summarizeSamples(list.slice(0, Math.max(1, maxSamples)).map((s) => s.seconds))
    if (summary) summaries.set(key, summary)
  }
  return summaries
}
