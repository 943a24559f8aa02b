/** A timing report made by hand: one run, a finished stage and a running sweep of `count − 1` tasks. */
import type { TimingReport } from '../../src/monitor/timing-report.js'

const T0 = Date.parse('2026-12-05T09:00:00Z')
/** ms of 09:00 UTC + m minutes. */
export const min = (m: number) => T0 + m * 60_000

export function reportWithTasks(count: number): TimingReport {
  const times = (start: number, end: number, done: boolean) => ({
    plannedStart: new Date(min(start)).toISOString(),
    plannedEnd: new Date(min(end)).toISOString(),
    projectedStart: new Date(min(start)).toISOString(),
    projectedEnd: new Date(min(done ? end : 90)).toISOString(),
    actualStart: new Date(min(start)).toISOString(),
    actualEnd: done ? new Date(min(end)).toISOString() : null,
    lateSeconds: 0,
  })
  const expected = { seconds: 600, p90Seconds: 600, samples: 0, source: 'declared' as const }
  const tasks = Array.from({ length: count }, (_, i) => ({
    id: i === 0 ? 'prep' : `sweep.${i - 1}`,
    stage: i === 0 ? 'prep' : 'sweep',
    state: i === 0 ? ('succeeded' as const) : ('running' as const),
    attempts: 1,
    reason: null,
    expected,
    expectedWaitSeconds: 0,
    ...(i === 0 ? times(0, 10, true) : times(10, 20, false)),
  }))
  return {
    generatedAt: new Date(min(50)).toISOString(),
    scope: { kind: 'run', runId: 'r1' },
    project: null,
    deadline: null,
    projectedCompletion: new Date(min(90)).toISOString(),
    completed: false,
    slackSeconds: null,
    atRisk: false,
    bottleneck: { runId: 'r1', stage: 'sweep' },
    runs: [
      {
        runId: 'r1',
        pipeline: 'p',
        project: null,
        cluster: 'box',
        state: 'running',
        createdAt: new Date(min(0)).toISOString(),
        plannedEnd: new Date(min(20)).toISOString(),
        projectedCompletion: new Date(min(90)).toISOString(),
        actualEnd: null,
        deadline: null,
        slackSeconds: null,
        atRisk: false,
        remainingCriticalPathSeconds: 2400,
        criticalPath: ['sweep'],
        bottleneck: 'sweep',
        stages: [
          {
            stage: 'prep',
            state: 'succeeded',
            instances: 1,
            finished: 1,
            expected,
            criticalSeconds: 0,
            ...times(0, 10, true),
          },
          {
            stage: 'sweep',
            state: 'running',
            instances: count - 1,
            finished: 0,
            expected,
            criticalSeconds: 2400,
            ...times(10, 20, false),
          },
        ],
        tasks,
      },
    ],
  }
}
