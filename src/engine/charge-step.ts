/**
 * The tick's charge step: what this round's one observation says each run's jobs used so far goes
 * into the budget ledger (idempotent). A charge that fails is a tick error, never a
 * stop: the next round charges again, cumulatively.
 */
import type { BudgetGate } from '../budget/budget-service.js'
import type { AttemptObservation } from '../core/scheduling/run-snapshot.js'
import type { EngineEvents } from './engine-events.js'
import type { RoundRun } from './observe-step.js'

export async function chargeRound(
  deps: { readonly budget: BudgetGate; readonly events: EngineEvents; readonly now: number },
  runs: readonly RoundRun[],
  observations: ReadonlyMap<string, readonly AttemptObservation[]>,
): Promise<void> {
  const charged = runs.flatMap(({ run, snapshot }) => {
    const observed = observations.get(run.id) ?? []
    return run.project === null || observed.length === 0 ? [] : [{ run, snapshot, observations: observed }]
  })
  if (charged.length === 0) return
  try {
    // one ledger read and one write for the whole round
    await deps.budget.charge(charged, deps.now)
  } catch (error) {
    deps.events.tickError('charge', error, { what: 'charging usage' })
  }
}
