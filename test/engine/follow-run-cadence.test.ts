// How often `rpo run` asks the scheduler: it backs off while nothing moves (kind to slurmctld), but
// not while a job runs — its ending may come at any moment, and seeing it one backed-off interval
// late delays every dependent by as much (issue #11: rpo run within 1.1x of a DAG sbatch'ed by hand).
import { describe, expect, it } from 'vitest'
import type { Engine, TickResult } from '../../src/engine/engine.js'
import { followRun } from '../../src/engine/follow-run.js'

/** An engine whose ticks report `results` in turn, recording the wait followRun asks after each. */
function scriptedEngine(results: Partial<TickResult>[]): { engine: Engine; waits: number[] } {
  const waits: number[] = []
  let ticks = 0
  const engine = {
    adapter: {},
    changes: {
      waitForChange: async (timeoutMs: number) => {
        waits.push(Math.round(timeoutMs))
      },
    },
    async tick(runId: string): Promise<TickResult> {
      const result = results[Math.min(ticks++, results.length - 1)] ?? {}
      return { runId, state: 'running', submitted: 0, changes: 0, schedulerCommands: 2, ...result }
    },
  } as unknown as Engine
  return { engine, waits }
}

describe('followRun poll cadence', () => {
  it('backs off while every job waits in the queue and nothing changes', async () => {
    const { engine, waits } = scriptedEngine([{}, {}, {}, {}, { state: 'succeeded' }])
    await followRun(engine, 'r', { pollIntervalMs: 100, maxPollIntervalMs: 1000 })
    expect(waits).toEqual([150, 225, 338, 506])
  })

  it('keeps the base interval while a job runs, and backs off again once none does', async () => {
    const { engine, waits } = scriptedEngine([
      { jobsRunning: 1 },
      { jobsRunning: 1 },
      { jobsRunning: 1 },
      { jobsRunning: 0 },
      { jobsRunning: 0 },
      { state: 'succeeded' },
    ])
    await followRun(engine, 'r', { pollIntervalMs: 100, maxPollIntervalMs: 1000 })
    expect(waits).toEqual([100, 100, 100, 150, 225])
  })
})
