/**
 * The tick's enforce step, once per cluster round: budget caps and priorities on the cluster's
 * jobs (hold, release, checkpoint-requeue, renice). An action the scheduler refuses, a budget that
 * cannot be judged, or the step failing as a whole is a tick error; none stops the round.
 */
import type { BudgetRoundGate } from '../budget/budget-service.js'
import type { SchedulerAdapter } from '../scheduler/scheduler-adapter.js'
import type { EngineEvents } from './engine-events.js'

export async function enforceRound(deps: {
  readonly round: BudgetRoundGate
  readonly adapter: SchedulerAdapter
  readonly clusterName: string
  readonly events: EngineEvents
}): Promise<void> {
  try {
    const outcome = await deps.round.enforce(deps.clusterName, deps.adapter)
    for (const failure of outcome?.failures ?? [])
      deps.events.emit('tick:error', {
        step: 'enforce',
        cause: { code: 'command-failed', message: `enforcing budgets: ${failure}` },
      })
    for (const problem of outcome?.problems ?? [])
      deps.events.emit('tick:error', { step: 'enforce', cause: { code: 'budget-invalid', message: problem.message } })
  } catch (error) {
    deps.events.tickError('enforce', error, { what: 'enforcing budgets' })
  }
}
