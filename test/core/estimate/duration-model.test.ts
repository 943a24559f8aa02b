// The duration and queue-wait models: history → estimate, and the fallbacks a user sees named
// (history, declared, limit) with how many samples stood behind a figure.
import { describe, expect, it } from 'vitest'
import { loadPipelineText } from '../../../src/config/load-pipeline.js'
import {
  type DurationSample,
  EMPTY_DURATION_HISTORY,
  estimateTaskDuration,
  indexDurationSamples,
  taskShape,
} from '../../../src/core/estimate/duration-model.js'
import {
  EMPTY_QUEUE_WAIT_HISTORY,
  estimateQueueWait,
  indexQueueWaits,
  type QueueWaitSample,
  queueKeyOf,
} from '../../../src/core/estimate/queue-wait-model.js'
import { summarizeSamples } from '../../../src/core/estimate/sample-summary.js'
import type { ResolvedTask } from '../../../src/core/pipeline/resolved-pipeline.js'
import { T0 } from './estimate-fixtures.js'

const PIPELINE = `
name: vision
tasks:
  prep: { command: prep.sh, expected: 10m, resources: { time: 1h } }
  train:
    command: python train.py --lr {{params.lr}}
    matrix: { lr: [0.1, 0.01] }
    after: [prep]
    resources: { gpus: { count: 1, type: a100 }, partition: gpu, time: 4h }
  report: { command: report.sh, after: [train], resources: { time: 30m } }
`
const pipeline = loadPipelineText('/tmp/vision.yaml', PIPELINE).pipeline
const task = (name: string) => pipeline.tasks.find((t) => t.name === name) as ResolvedTask

function samples(stage: string, seconds: readonly number[], pipelineName = 'vision', shape = 'x'): DurationSample[] {
  return seconds.map((s, i) => ({ pipeline: pipelineName, stage, shape, seconds: s, endedAt: T0 - i * 1000 }))
}

describe('sample summaries', () => {
  it('takes the middle value (mean of the two middle ones) and the nearest-rank 90th percentile', () => {
    expect(summarizeSamples([30, 10, 20])).toEqual({ medianSeconds: 20, p90Seconds: 30, samples: 3 })
    expect(summarizeSamples([40, 10, 20, 30])).toEqual({ medianSeconds: 25, p90Seconds: 40, samples: 4 })
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(summarizeSamples(hundred)).toEqual({ medianSeconds: 50.5, p90Seconds: 90, samples: 100 })
  })

  it('has no summary without samples, and ignores values that are not durations', () => {
    expect(summarizeSamples([])).toBeNull()
    expect(summarizeSamples([Number.NaN, -5])).toBeNull()
    expect(summarizeSamples([Number.POSITIVE_INFINITY, 12])?.samples).toBe(1)
  })
})

describe('the duration model', () => {
  it("takes the median of the same pipeline's past successes of the stage, with p90 and the count", () => {
    const history = indexDurationSamples(samples('train', [3000, 3600, 4200, 3300, 9000]))
    expect(estimateTaskDuration(history, 'vision', task('train'))).toEqual({
      seconds: 3600,
      p90Seconds: 9000,
      samples: 5,
      source: 'history',
      basis: 'pipeline-task',
    })
  })

  it('falls back to another pipeline with the same command template and resources', () => {
    const shape = taskShape(task('train'))
    const history = indexDurationSamples(samples('fit', [1200, 1800], 'other-pipeline', shape))
    expect(estimateTaskDuration(history, 'vision', task('train'))).toMatchObject({
      seconds: 1500,
      samples: 2,
      source: 'history',
      basis: 'command-shape',
    })
  })

  it('does not take a task with other resources as the same shape', () => {
    const lessTime = { ...task('train'), resources: { ...task('train').resources, timeLimitSeconds: 3600 } }
    const other = { ...task('train'), command: 'python train.py   --lr {{params.lr}} ' }
    expect(taskShape(lessTime)).not.toBe(taskShape(task('train')))
    // whitespace does not make another shape
    expect(taskShape(other)).toBe(taskShape(task('train')))
    const history = indexDurationSamples(samples('fit', [1200], 'other', taskShape(lessTime)))
    expect(estimateTaskDuration(history, 'vision', task('train')).source).toBe('limit')
  })

  it('falls back to the declared `expected`, then to the time limit, naming the source', () => {
    expect(estimateTaskDuration(EMPTY_DURATION_HISTORY, 'vision', task('prep'))).toEqual({
      seconds: 600,
      p90Seconds: 600,
      samples: 0,
      source: 'declared',
      basis: null,
    })
    expect(estimateTaskDuration(EMPTY_DURATION_HISTORY, 'vision', task('report'))).toMatchObject({
      seconds: 1800,
      source: 'limit',
    })
  })

  it('prefers history to a declared guess, and another pipeline of the same name does not count', () => {
    const history = indexDurationSamples(samples('prep', [100, 120, 140]))
    expect(estimateTaskDuration(history, 'vision', task('prep'))).toMatchObject({ seconds: 120, source: 'history' })
    const elsewhere = indexDurationSamples(samples('prep', [100], 'audio'))
    expect(estimateTaskDuration(elsewhere, 'vision', task('prep')).source).toBe('declared')
  })

  it('believes only the newest samples, so a pipeline that got faster is believed', () => {
    const old = samples('prep', Array(60).fill(1000)).map((s, i) => ({ ...s, endedAt: T0 - 1e9 - i }))
    const recent = samples('prep', Array(50).fill(100))
    const history = indexDurationSamples([...old, ...recent])
    expect(estimateTaskDuration(history, 'vision', task('prep'))).toMatchObject({ seconds: 100, samples: 50 })
  })
})

describe('the queue-wait model', () => {
  const wait = (
    cluster: string,
    partition: string | null,
    gpuType: string | null,
    seconds: number,
  ): QueueWaitSample => ({
    cluster,
    partition,
    gpuType,
    seconds,
    startedAt: T0,
  })

  it('keys a task by cluster, partition and its first GPU type', () => {
    expect(queueKeyOf(task('train'), 'hpc')).toEqual({ cluster: 'hpc', partition: 'gpu', gpuType: 'a100' })
    expect(queueKeyOf(task('prep'), 'hpc')).toEqual({ cluster: 'hpc', partition: null, gpuType: null })
  })

  it('uses the most specific history there is: GPU type, then partition, then cluster, then none', () => {
    const key = queueKeyOf(task('train'), 'hpc')
    const exact = indexQueueWaits([wait('hpc', 'gpu', 'a100', 300), wait('hpc', 'gpu', 'v100', 10)])
    expect(estimateQueueWait(exact, key)).toMatchObject({ seconds: 300, samples: 1, basis: 'exact' })
    const partition = indexQueueWaits([wait('hpc', 'gpu', 'v100', 10), wait('hpc', 'gpu', 'v100', 30)])
    expect(estimateQueueWait(partition, key)).toMatchObject({ seconds: 20, samples: 2, basis: 'partition' })
    const cluster = indexQueueWaits([wait('hpc', 'cpu', null, 5)])
    expect(estimateQueueWait(cluster, key)).toMatchObject({ seconds: 5, basis: 'cluster' })
    expect(estimateQueueWait(indexQueueWaits([wait('other', 'gpu', 'a100', 999)]), key)).toEqual(
      estimateQueueWait(EMPTY_QUEUE_WAIT_HISTORY, key),
    )
    expect(estimateQueueWait(EMPTY_QUEUE_WAIT_HISTORY, key)).toMatchObject({ seconds: 0, source: 'none' })
  })
})
