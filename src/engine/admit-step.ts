/**
 * The tick's admission: the round's one budget judgement (begun once, shared by every run), asked
 * for each budgeted run's tasks about to be submitted; one book per round, so runs of one project
 * admitted together cannot cross its cap. Budgets fail closed: when the judgement or a run's
 * admission cannot be computed, the work of budgeted runs waits, saying why. The projects' `budget:<project>` leases are taken for the plan and its write, so two
 * processes admitting work of one project at once cannot together cross its cap.
 */
import type { BudgetRoundGate } from '../budget/budget-service.js'
import type { ResolvedTask } from '../core/pipeline/resolved-pipeline.js'
import type { AdmissionVerdict } from '../core/scheduling/plan-tick.js'
import type { RunSnapshot, TaskSnapshot } from '../core/scheduling/run-snapshot.js'
import type { EngineEvents } from './engine-events.js'
import { budgetLease, type Leases } from './leases.js'
import type { RoundRun } from './observe-step.js'

type Admit = (task: TaskSnapshot, definition: ResolvedTask) => AdmissionVerdict

export interface RoundAdmission {
  /** The admission the planner asks, for any run of the round (admit when its run has no budget). */
  readonly admit: ((run: RunSnapshot, task: TaskSnapshot, definition: ResolvedTask) => AdmissionVerdict) | null
  /** Gives back the projects' budget leases once the plans are written. */
  release(): Promise<void>
}

const BUDGET_LEASE_MS = 60_000

export async function admitRound(
  deps: {
    /** The round's budget judgement, or why it could not be begun. */
    readonly round: BudgetRoundGate | { readonly failed: string }
    readonly canHold: boolean
    readonly events: EngineEvents
    readonly leases: Leases
    readonly now: number
  },
  runs: readonly RoundRun[],
): Promise<RoundAdmission> {
  const byRun = new Map<string, Admit>()
  const round = deps.round
  for (const { run } of runs) {
    if (run.project === null) continue
    if ('failed' in round) {
      byRun.set(run.id, () => ({ kind: 'wait', reason: `budget: cannot be judged: ${round.failed}` }))
      continue
    }
    try {
      const admit = round.admission(run, deps.canHold)
      if (admit) byRun.set(run.id, admit)
    } catch (error) {
      deps.events.tickError('admit', error, { runId: run.id, what: 'checking budgets' })
      const why = error instanceof Error ? error.message : String(error)
      byRun.set(run.id, () => ({ kind: 'wait', reason: `budget: cannot be judged: ${why}` }))
    }
  }
  const projects = [
    ...new Set(runs.flatMap(({ run }) => (byRun.has(run.id) && run.project ? [run.project] : []))),
  ].sort()
  // in name order: two processes taking several projects' leases never wait on each other in a circle
  const taken: string[] = []
  const release = async () => {
    for (const project of taken) await deps.leases.release(budgetLease(project)).catch(() => undefined)
  }
  try {
    for (const project of projects) {
      await deps.leases.wait(budgetLease(project), BUDGET_LEASE_MS, {
        timeoutMs: 30_000,
        busy: (by) => `the budget of project ${project} is being decided by ${by}; try again shortly`,
      })
      taken.push(project)
    }
  } catch (error) {
    await release()
    throw error
  }
  return {
    admit:
      byRun.size === 0 ? null : (run, task, definition) => byRun.get(run.id)?.(task, definition) ?? { kind: 'admit' },
    release,
  }
}
