/**
 * The tick's charge step: what this round's one observation says each run's jobs used so far goes
 * into the budget ledger (idempotent). A charge that fails is a tick error, never a
 * stop: the next round charges again, cumulatively. Also which concluded jobs of the cluster still
 * await their accounting figure (asked in the round's one poll), and their true-up from what that
 * poll said — charging only: those jobs' attempts and tasks were concluded and stay as they are.
 */
import type { AccountingReport, BudgetGate } from '../budget/budget-service.js'
import type { AttemptObservation } from '../core/scheduling/run-snapshot.js'
import type { JobObservation } from '../scheduler/scheduler-adapter.js'
import type { AccountingWait } from '../store/budget-store.js'
import type { RunStore } from '../store/run-store.js'
import type { EngineEvents } from './engine-events.js'
import type { RoundRun } from './observe-step.js'

/** The cluster's jobs whose accounting figure is awaited now; none when they cannot be read. */
export async function awaitedAccounting(
  deps: { readonly store: RunStore; readonly events: EngineEvents; readonly clusterName: string },
  now: number,
): Promise<AccountingWait[]> {
  try {
    return await deps.store.budgets.listAccountingWaits(deps.clusterName, new Date(now).toISOString())
  } catch (error) {
    deps.events.tickError('charge', error, { what: 'reading the jobs awaiting accounting' })
    return []
  }
}

export async function chargeRound(
  deps: { readonly budget: BudgetGate; readonly events: EngineEvents; readonly now: number },
  runs: readonly RoundRun[],
  observations: ReadonlyMap<string, readonly AttemptObservation[]>,
  accounting: { readonly awaited: readonly AccountingWait[]; readonly observed: readonly JobObservation[] } = {
    awaited: [],
    observed: [],
  },
): Promise<void> {
  const charged = runs.flatMap(({ run, snapshot }) => {
    const observed = observations.get(run.id) ?? []
    return run.project === null || observed.length === 0 ? [] : [{ run, snapshot, observations: observed }]
  })
  const jobs = new Map(accounting.observed.map((job) => [job.jobId as string, job]))
  const reports: AccountingReport[] = accounting.awaited.flatMap((wait) => {
    const job = jobs.get(wait.jobId)
    return job ? [{ wait, job }] : []
  })
  if (charged.length === 0 && reports.length === 0) return
  try {
    // one ledger read and one write for the whole round
    await deps.budget.charge(charged, deps.now, reports)
  } catch (error) {
    deps.events.tickError('charge', error, { what: 'charging usage' })
  }
}
