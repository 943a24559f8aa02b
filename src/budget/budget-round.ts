/**
 * One round of budget decisions: where every budget stands, computed ONCE (rules, ledger, jobs in
 * flight read together; judged fail-closed per project) and shared by the admission of every run
 * ticked in the round and by the enforcement of each cluster. Admission reserves every admitted
 * job in one book for the whole round, so two runs of one project admitted in the same round can
 * never together cross its cap. Enforcement re-reads only the jobs in flight (this round's
 * submissions included) and ranks them against the round's statuses: it ignores their
 * `committed`, re-reserving the jobs itself.
 */
import type { ResolvedConfig } from '../config/load-config.js'
import { BudgetBook } from '../core/budget/budget-admission.js'
import { type BudgetProblem, judgeBudgets, readableEntries } from '../core/budget/budget-judgement.js'
import type { BudgetLedger, LedgerEntry } from '../core/budget/budget-ledger.js'
import type { BudgetRule } from '../core/budget/budget-rules.js'
import type { BudgetStatus } from '../core/budget/budget-status.js'
import { requestedWorstCase } from '../core/budget/requested-tres.js'
import { parseDurationSeconds } from '../core/pipeline/units.js'
import { decideEnforcement, type EnforcementPlan } from '../core/policy/enforcement-plan.js'
import type { AdmissionVerdict } from '../core/scheduling/plan-tick.js'
import { attemptResources } from '../core/scheduling/run-snapshot.js'
import type { EstimateHistory } from '../monitor/estimate-history.js'
import type { SchedulerAdapter } from '../scheduler/scheduler-adapter.js'
import type { RunRecord, RunStore } from '../store/run-store.js'
import { applyEnforcement, type EnforcementOutcome } from './apply-enforcement.js'
import type { Admission, BudgetRoundGate } from './budget-gate.js'
import { commitmentsOf, type JudgedJob, judgedJobsOf, lastChargeBySubmission } from './in-flight-jobs.js'
import { projectPriorityInputs, projectScoresOf, type RunWithSnapshot } from './project-priority-inputs.js'

/** A follower ticking fast enforces at most this often per cluster: holds and releases need no more. */
const MIN_ENFORCE_INTERVAL_MS = 1000

type GpuWeights = Readonly<Record<string, Readonly<Record<string, number>>>>

export interface BudgetRoundInputs {
  readonly config: ResolvedConfig
  readonly store: RunStore
  readonly rules: readonly BudgetRule[]
  readonly gpuWeights: GpuWeights
  /** Attempts already asked to checkpoint (the service's, so it outlives the round). */
  readonly signalled: Set<string>
  /** When each cluster was last enforced (the service's, so it outlives the round). */
  readonly enforcedAt: Map<string, number>
}

export class BudgetRound implements BudgetRoundGate {
  readonly now: number
  readonly rules: readonly BudgetRule[]
  /** The whole ledger as read (unreadable entries included: the judgement names them). */
  readonly entries: BudgetLedger
  /** Of the projects that could be judged, with what in-flight jobs may still use. */
  readonly statuses: readonly BudgetStatus[]
  /** Budgets that cannot be judged: their projects' work is held or waits. */
  readonly problems: readonly BudgetProblem[]
  readonly #inputs: BudgetRoundInputs
  readonly #readable: LedgerEntry[]
  readonly #lastCharged: ReadonlyMap<string, number>
  #book: BudgetBook | null = null

  private constructor(
    inputs: BudgetRoundInputs,
    now: number,
    entries: BudgetLedger,
    readable: LedgerEntry[],
    judged: { statuses: BudgetStatus[]; problems: BudgetProblem[] },
    lastCharged: ReadonlyMap<string, number>,
  ) {
    this.#inputs = inputs
    this.now = now
    this.rules = inputs.rules
    this.entries = entries
    this.#readable = readable
    this.statuses = judged.statuses
    this.problems = judged.problems
    this.#lastCharged = lastCharged
  }

  /** Read the ledger and the jobs in flight and judge every budget: the round's one status computation. */
  static async begin(inputs: BudgetRoundInputs, now: number): Promise<BudgetRound> {
    const [entries, inFlight] = await Promise.all([
      inputs.store.budgets.listEntries(),
      inputs.rules.length > 0 ? inputs.store.budgets.listInFlight() : Promise.resolve([]),
    ])
    const readable = readableEntries(entries)
    const lastCharged = lastChargeBySubmission(readable)
    const judged =
      inputs.rules.length === 0
        ? { statuses: [], problems: [] }
        : judgeBudgets({
            rules: inputs.rules,
            entries,
            commitments: commitmentsOf(inFlight, lastCharged, inputs.gpuWeights),
            gpuWeights: inputs.gpuWeights,
            now,
          })
    return new BudgetRound(inputs, now, entries, readable, judged, lastCharged)
  }

  /**
   * Each project's policy score for ranking this round's runs: from the round's own ledger read and
   * the snapshots the tick already holds, so ranking reads nothing more from the store.
   */
  projectScores(runs: readonly RunWithSnapshot[], history?: EstimateHistory): ReadonlyMap<string, number> {
    return projectScoresOf(this.#inputs.config, runs, this.#readable, this.#inputs.gpuWeights, this.now, history)
  }

  /** Admission for `run` in this round; null when its project has no budget. */
  admission(run: RunRecord, canHold: boolean): Admission | null {
    const project = run.project
    if (project === null || !this.rules.some((r) => r.project === project)) return null
    const refuse = (reason: string): AdmissionVerdict => (canHold ? { kind: 'hold', reason } : { kind: 'wait', reason })
    // fail closed: no status for the project is never "no cap"
    const problem = this.problems.find((p) => p.kind === 'budget' && p.project === project)
    if (problem) return () => refuse(`budget: ${problem.message}`)
    this.#book ??= new BudgetBook(this.statuses)
    const book = this.#book
    const weights = this.#inputs.gpuWeights[project] ?? {}
    return (task, definition) => {
      const resources = attemptResources(definition, task.overrides)
      const request = { project, user: run.user, worstCase: requestedWorstCase(resources, weights) }
      const decision = book.check(request)
      if (decision.kind === 'refuse') return refuse(`budget: ${decision.reason}`)
      book.reserve(request)
      return { kind: 'admit' }
    }
  }

  /** The enforcement decision over every job in flight now (all clusters), without acting on it. */
  async decide(): Promise<{ plan: EnforcementPlan; jobs: JudgedJob[] } | null> {
    const { config, store, gpuWeights } = this.#inputs
    const hasPriorityTerms = Object.values(config.projects).some((p) => p.deadline || p.share)
    if (this.rules.length === 0 && !hasPriorityTerms) return null
    // the jobs again, not the round's first read: this round's submissions are in flight now
    const inFlight = await store.budgets.listInFlight()
    const { projects, problems } = await projectPriorityInputs(config, store, this.#readable, gpuWeights, this.now)
    const jobs = judgedJobsOf(inFlight, this.#lastCharged, gpuWeights, this.now)
    const wait = config.enforcement.softCapWait
    const softCapWait = wait === undefined ? null : parseDurationSeconds(wait)
    const plan = decideEnforcement(
      {
        projects,
        budget: { kind: 'statuses', statuses: this.statuses, problems: this.problems },
        jobs: jobs.map((j) => j.job),
        runningAtHardCap: config.enforcement.runningAtHardCap,
        ...(softCapWait === null ? {} : { contentionAfterSeconds: softCapWait }),
        problems,
      },
      this.now,
    )
    return { plan, jobs }
  }

  /** Decide, then act on the jobs of one cluster. */
  async enforce(clusterName: string, adapter: SchedulerAdapter): Promise<EnforcementOutcome | null> {
    const { enforcedAt } = this.#inputs
    const last = enforcedAt.get(clusterName)
    if (last !== undefined && this.now - last < MIN_ENFORCE_INTERVAL_MS && this.now >= last) return null
    enforcedAt.set(clusterName, this.now)
    const decided = await this.decide()
    if (!decided) return null
    const { store, signalled } = this.#inputs
    return applyEnforcement(decided.plan, decided.jobs, { clusterName, adapter, store, signalled }, this.now)
  }
}
