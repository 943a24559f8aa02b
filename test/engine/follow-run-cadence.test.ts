// How often `rpo run` asks the scheduler: it backs off while nothing moves (kind to slurmctld), but
// not while a job runs — its ending may come at any moment, and seeing it one backed-off interval
// late delays every dependent by as much (issue #11: rpo run within 1.1x of a DAG sbatch'ed by hand).
import { describe, expect, it } from 'vitest'
import type { Engine, TickResult } from '../../src/engine/engine.js'
import { followRun } from '../../src/engine/follow-run.js'

/**
 * An engine whose ticks report `results` in turn, recording the wait followRun asks after each; each
 * tick advances `clock` by `tickMs` (a round's SSH round trips), and nothing else does.
 */
function scriptedEngine(
  results: Partial<TickResult>[],
  tickMs = 0,
): { engine: Engine; waits: number[]; clock: () => number } {
  const waits: number[] = []
  let ticks = 0
  let now = 0
  const engine = {
    adapter: {},
    changes: {
      waitForChange: async (timeoutMs: number) => {
        waits.push(Math.round(timeoutMs))
      },
    },
    async tick(runId: string): Promise<TickResult> {
      const result = results[Math.min(ticks++, results.length - 1)] ?? {}
      now += tickMs
      return { runId, state: 'running', submitted: 0, changes: 0, schedulerCommands: 2, ...result }
    },
  } as unknown as Engine
  return { engine, waits, clock: () => now }
}

describe('followRun poll cadence', () => {
  it('backs off while every job waits in the queue and nothing changes', async () => {
    const { engine, waits, clock } = scriptedEngine([{}, {}, {}, {}, { state: 'succeeded' }])
    await followRun(engine, 'r', { pollIntervalMs: 100, maxPollIntervalMs: 1000, clock })
    expect(waits).toEqual([150, 225, 338, 506])
  })

  it('keeps the base interval while a job runs, and backs off again once none does', async () => {
    const { engine, waits, clock } = scriptedEngine([
      { jobsRunning: 1 },
      { jobsRunning: 1 },
      { jobsRunning: 1 },
      { jobsRunning: 0 },
      { jobsRunning: 0 },
      { state: 'succeeded' },
    ])
    await followRun(engine, 'r', { pollIntervalMs: 100, maxPollIntervalMs: 1000, clock })
    expect(waits).toEqual([100, 100, 100, 150, 225])
  })

  it('counts the interval from each tick’s start: a slow round does not stretch the cadence', async () => {
    // every round takes 40 ms (squeue over SSH): the next starts 100 ms after this one started,
    // as a watcher sleeping between quick squeues would look; a round longer than the interval is
    // followed at once
    const { engine, waits, clock } = scriptedEngine(
      [{ jobsRunning: 1 }, { jobsRunning: 1 }, { jobsRunning: 0 }, { state: 'succeeded' }],
      40,
    )
    await followRun(engine, 'r', { pollIntervalMs: 100, maxPollIntervalMs: 1000, clock })
    expect(waits).toEqual([60, 60, 110])
    const slow = scriptedEngine([{ jobsRunning: 1 }, { state: 'succeeded' }], 250)
    await followRun(slow.engine, 'r', { pollIntervalMs: 100, clock: slow.clock })
    expect(slow.waits).toEqual([0])
  })
})
