// A poll the adapter answers only in part (Slurm with slurmdbd down: squeue answers, sacct cannot)
// is said as an error of the tick with the adapter's stable code, and the tick still takes in the
// jobs' states it did get — unlike a failed poll, after which the tick plans without observations.
import { describe, expect, it } from 'vitest'
import { SimAdapter } from '../../adapters/sim/sim-adapter.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import type { JobObservation, NativeJobId, PollOptions } from '../../src/scheduler/scheduler-adapter.js'
import { simEngine } from '../support/sim-engine.js'

/** The simulated cluster, whose accounting is down: every poll answers and warns. */
class AccountingDown extends SimAdapter {
  override async poll(jobIds: readonly NativeJobId[], options?: PollOptions): Promise<readonly JobObservation[]> {
    options?.onWarning?.({ code: 'accounting-unavailable', message: 'accounting (sacct) is unavailable (test)' })
    return super.poll(jobIds)
  }
}

describe('a degraded poll', () => {
  it('is a tick error with the adapter’s code, and the jobs’ states it carries are taken in', async () => {
    const { clock, store, engine, close } = await simEngine({
      start: Date.parse('2026-11-02T08:00:00Z'),
      nodes: [{ name: 'c1', cpus: 4, memoryMb: 8000 }],
      adapter: (cluster) => new AccountingDown({ cluster }),
    })
    try {
      const errors: string[] = []
      engine.events.on('tick:error', (e) => errors.push(`${e.cause.code}: ${e.cause.message}`))
      const pipeline = 'name: p\ntasks:\n  a: { command: x, resources: { time: 1h } }\n'
      const runId = (await engine.startRun(loadPipelineText('/sim/p.yaml', pipeline))).run.id
      expect((await engine.tick(runId)).submitted).toBe(1)
      clock.advanceBy(1000)
      await engine.tick(runId)
      expect(errors).toEqual(['accounting-unavailable: accounting (sacct) is unavailable (test)'])
      const { snapshot } = await store.loadSnapshot(runId)
      expect(snapshot.latestAttempts.find((a) => a.taskId === 'a')?.state).toBe('running')
    } finally {
      await close()
    }
  })
})
