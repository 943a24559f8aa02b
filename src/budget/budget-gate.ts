/**
 * What the engine asks of budgets during a cluster tick, as interfaces (BudgetService and
 * BudgetRound implement them; tests may fake them): charge the round's observations, then begin
 * the round — the one status computation — whose admission each run's planning asks and whose
 * enforcement runs once per cluster.
 */
import type { ResolvedTask } from '../core/pipeline/resolved-pipeline.js'
import type { AdmissionVerdict } from '../core/scheduling/plan-tick.js'
import type { AttemptObservation, RunSnapshot, TaskSnapshot } from '../core/scheduling/run-snapshot.js'
import type { EstimateHistory } from '../monitor/estimate-history.js'
import type { JobObservation, SchedulerAdapter } from '../scheduler/scheduler-adapter.js'
import type { AccountingWait } from '../store/budget-store.js'
import type { RunRecord } from '../store/run-store.js'
import type { EnforcementOutcome } from './apply-enforcement.js'

/** The planner's admission for one run: admit, hold (submitted held) or wait (kept in rpo). */
export type Admission = (task: TaskSnapshot, definition: ResolvedTask) => AdmissionVerdict

/** One run's observations of a round, to charge. */
export interface ChargeInput {
  readonly run: RunRecord
  readonly snapshot: RunSnapshot
  readonly observations: readonly AttemptObservation[]
}

/** A run of the round with the snapshot the tick loaded. */
export interface ChargeInputRun {
  readonly run: RunRecord
  readonly snapshot: RunSnapshot
}

/** What the round's poll said about a concluded job whose accounting is awaited (for charging only). */
export interface AccountingReport {
  readonly wait: AccountingWait
  readonly job: JobObservation
}

/** Budgets as a cluster tick uses them (absent when nothing is budgeted). */
export interface BudgetGate {
  /**
   * Charge what the observations say the runs' jobs used so far (one ledger read for all of them),
   * and true up awaited jobs whose accounting figure the round's poll brought.
   */
  charge(runs: readonly ChargeInput[], now: number, accounting?: readonly AccountingReport[]): Promise<void>
  beginRound(now: number): Promise<BudgetRoundGate>
}

/** A round's budget judgement, as the engine uses it (BudgetRound implements it). */
export interface BudgetRoundGate {
  /** Admission for `run`; null when its project has no budget. */
  admission(run: RunRecord, canHold: boolean): Admission | null
  /**
   * Each project's policy score from the round's ledger read and the given runs' snapshots (no
   * store read); absent in fakes that do not rank.
   */
  projectScores?(runs: readonly ChargeInputRun[], history?: EstimateHistory): ReadonlyMap<string, number>
  /** Enforce caps and priorities on the jobs of one cluster (at most once a second per cluster). */
  enforce(clusterName: string, adapter: SchedulerAdapter): Promise<EnforcementOutcome | null>
}
