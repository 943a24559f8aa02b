// `rpo status <run>` for a queued job the scheduler has a start estimate for: the view carries the
// estimate beside the history's wait, and the table's END column says the end is built on it.
import { describe, expect, it } from 'vitest'
import { renderRunProgress } from '../../src/cli/format.js'
import { indexQueueWaits } from '../../src/core/estimate/queue-wait-model.js'
import { type EstimateHistory, NO_HISTORY } from '../../src/monitor/estimate-history.js'
import { projectRunOf, runEstimateView } from '../../src/monitor/run-estimate.js'
import { computeRunProgress } from '../../src/monitor/run-progress.js'
import type { RunRecord } from '../../src/store/run-store.js'
import { MIN, snapshotOf, T0 } from '../core/estimate/estimate-fixtures.js'

const PIPELINE = 'name: q\ntasks:\n  a: { command: a.sh, expected: 10m }\n  b: { command: b.sh, expected: 10m }\n'

describe("rpo status with the scheduler's start estimate", () => {
  it('shows the start Slurm expects for the queued job, and the history wait for the other', () => {
    const snapshot = snapshotOf(PIPELINE, {
      a: { state: 'active', submitted: T0, schedulerStart: T0 + 45 * MIN },
      b: { state: 'active', submitted: T0 },
    })
    const run = {
      id: 'run-1',
      pipelineName: 'q',
      project: null,
      cluster: 'hpc',
      state: 'running',
      createdAt: new Date(T0).toISOString(),
      finishedAt: null,
      lastTickAt: null,
      lastTickCommands: null,
      pipeline: snapshot.pipeline,
    } as unknown as RunRecord
    const history: EstimateHistory = {
      ...NO_HISTORY,
      waits: indexQueueWaits([{ cluster: 'hpc', partition: null, gpuType: null, seconds: 300, startedAt: T0 }]),
    }
    const now = T0 + MIN
    const estimate = runEstimateView(projectRunOf(run, snapshot, history, now), null)
    expect(estimate.tasks.get('a')).toMatchObject({
      schedulerExpectedStart: new Date(T0 + 45 * MIN).toISOString(),
      projectedStart: new Date(T0 + 45 * MIN).toISOString(),
      expectedWaitSeconds: 300,
    })
    expect(estimate.tasks.get('b')).toMatchObject({
      schedulerExpectedStart: null,
      projectedStart: new Date(T0 + 5 * MIN).toISOString(),
    })
    const text = renderRunProgress(computeRunProgress(run, snapshot, now, estimate))
    const clock = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 16)
    const rowOf = (id: string) => text.split('\n').find((line) => line.startsWith(`${id} `)) ?? ''
    expect(rowOf('a')).toContain(`~${clock(T0 + 55 * MIN)} (scheduler: starts ~${clock(T0 + 45 * MIN).slice(11)})`)
    expect(rowOf('b')).toContain(`~${clock(T0 + 15 * MIN)}`)
    expect(rowOf('b')).not.toContain('scheduler')
  })
})
