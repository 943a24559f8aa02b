// A budget action the scheduler refuses (a hold, a release) is said, not swallowed: the engine reports
// each failure the enforcement collected, and the tick goes on.
import { describe, expect, it } from 'vitest'
import type { BudgetGate, EnforcementOutcome } from '../../src/budget/budget-service.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { simEngine } from '../support/sim-engine.js'

const refusing: BudgetGate = {
  charge: async () => undefined,
  beginRound: async () => ({
    admission: () => null,
    enforce: async () =>
      ({
        plan: null,
        applied: 1,
        failures: ['hold 7: scontrol: error: Invalid job id'],
      }) as unknown as EnforcementOutcome,
  }),
}

describe('budget enforcement failures', () => {
  it('are reported as errors of the tick, which still submits the run’s work', async () => {
    const { engine, close } = await simEngine({
      start: Date.parse('2026-11-02T08:00:00Z'),
      nodes: [{ name: 'c1', cpus: 4, memoryMb: 8000 }],
      budget: () => refusing,
    })
    try {
      const errors: string[] = []
      engine.events.on('tick:error', (e) => errors.push(`${e.cause.code}: ${e.cause.message}`))
      const runId = (await engine.startRun(loadPipelineText('/sim/p.yaml', 'name: p\ntasks:\n  a: { command: x }\n')))
        .run.id
      const tick = await engine.tick(runId)
      expect(tick.submitted).toBe(1)
      expect(errors).toEqual(['command-failed: enforcing budgets: hold 7: scontrol: error: Invalid job id'])
    } finally {
      await close()
    }
  })
})
