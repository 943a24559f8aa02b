/**
 * Budgets at work: the impure shell around the pure budget and policy core. Owns the rules in force
 * (config, overridden by `rpo budget set`), charging what the scheduler reports as used
 * (idempotently), and starting a round (budget-round.ts: statuses computed once, shared by the
 * admission of every run and the enforcement of each cluster). `decide` and `statuses` (reports,
 * `rpo explain`) start a round of their own.
 * Every decision itself is made by src/core/budget and src/core/policy.
 */
import type { ResolvedConfig } from '../config/load-config.js'
import type { BudgetProblem } from '../core/budget/budget-judgement.js'
import {
  type BudgetLedger,
  chargedByUsageKey,
  planCharges,
  type UsageObservation,
} from '../core/budget/budget-ledger.js'
import { type BudgetRule, budgetRulesOf, sameScope } from '../core/budget/budget-rules.js'
import type { BudgetStatus } from '../core/budget/budget-status.js'
import { requestedAllocTres } from '../core/budget/requested-tres.js'
import { tresHoursOf } from '../core/budget/tres-hours.js'
import { isTerminalJobState } from '../core/job/job-state.js'
import type { EnforcementPlan } from '../core/policy/enforcement-plan.js'
import { attemptResources } from '../core/scheduling/run-snapshot.js'
import type { AccountingWait } from '../store/budget-store.js'
import type { RunStore } from '../store/run-store.js'
import type { AccountingReport, BudgetGate, ChargeInput } from './budget-gate.js'
import { BudgetRound } from './budget-round.js'
import { type JudgedJob, lastChargeBySubmission } from './in-flight-jobs.js'

export type { EnforcementOutcome } from './apply-enforcement.js'
export type { AccountingReport, Admission, BudgetGate, BudgetRoundGate, ChargeInput } from './budget-gate.js'
export type { BudgetRound } from './budget-round.js'

/** How often a running job's provisional usage is written to the ledger. */
const CHARGE_INTERVAL_MS = 5 * 60_000
/**
 * How long after its end a job concluded without accounting's figure is still asked about: Slurm's
 * sacct has the record within seconds, and squeue forgets the job after MinJobAge (300 s).
 */
export const ACCOUNTING_GRACE_MS = 10 * 60_000

/** One job run's cumulative usage, as charged this round; `awaits`: its accounting figure is awaited. */
type ChargedUsage = UsageObservation & { final: boolean; submissionKey: string; awaits: AccountingWait | null }

export class BudgetService implements BudgetGate {
  readonly #config: ResolvedConfig
  readonly #store: RunStore
  /** Jobs asked to checkpoint for a cap, so a slow save is not signalled again every tick. */
  readonly #signalled = new Set<string>()
  /** Last enforcement per cluster: a follower ticking fast asks every round, once a second is enough. */
  readonly #enforcedAt = new Map<string, number>()

  constructor(config: ResolvedConfig, store: RunStore) {
    this.#config = config
    this.#store = store
  }

  /** The rules in force: the config's, each replaced by the newest `rpo budget set` of its scope. */
  async rules(): Promise<BudgetRule[]> {
    const fromConfig = Object.entries(this.#config.projects).flatMap(([project, p]) =>
      budgetRulesOf(project, p.budgets).map((rule) => ({ ...rule, origin: `projects.${rule.id} in the config` })),
    )
    const settings = await this.#store.budgets.listSettings()
    const rules: BudgetRule[] = [...fromConfig]
    for (const [index, setting] of settings.entries()) {
      const replaced: BudgetRule = {
        id: `${setting.project}.set[${index}]`,
        project: setting.project,
        user: setting.user,
        resource: setting.resource,
        gpuType: setting.resource === 'gpu-hours' ? setting.gpuType : null,
        amount: setting.amount,
        period: setting.period,
        cap: setting.cap,
        origin: `rpo budget set by ${setting.actor} at ${setting.at}`,
      }
      const at = rules.findIndex(
        (r) => r.project === setting.project && r.user === setting.user && sameScope(r, replaced),
      )
      if (at >= 0) rules[at] = { ...replaced, id: (rules[at] as BudgetRule).id }
      else rules.push(replaced)
    }
    return rules
  }

  gpuWeights(): Record<string, Readonly<Record<string, number>>> {
    return Object.fromEntries(Object.entries(this.#config.projects).map(([name, p]) => [name, p.gpuWeights ?? {}]))
  }

  /** Read the rules, the ledger and the jobs in flight, and judge every budget once for this round. */
  async beginRound(now: number): Promise<BudgetRound> {
    const inputs = {
      config: this.#config,
      store: this.#store,
      rules: await this.rules(),
      gpuWeights: this.gpuWeights(),
      signalled: this.#signalled,
      enforcedAt: this.#enforcedAt,
    }
    return BudgetRound.begin(inputs, now)
  }

  /**
   * Where every budget stands now, with what in-flight jobs may still use. A project whose budget
   * cannot be judged has no status but a problem: callers hold its work, never read it as unbudgeted.
   */
  async statuses(now: number): Promise<{
    statuses: readonly BudgetStatus[]
    entries: BudgetLedger
    rules: readonly BudgetRule[]
    problems: readonly BudgetProblem[]
  }> {
    const round = await this.beginRound(now)
    return { statuses: round.statuses, entries: round.entries, rules: round.rules, problems: round.problems }
  }

  /**
   * Charges are cumulative per job run and only ever go up. While a job runs, the scheduler may
   * report its elapsed time but not its allocation (squeue): it is charged provisionally at the
   * rate it asked for; accounting's figure (sacct AllocTRES, PBS resources_used) trues it up. A job
   * concluded before accounting had its record (Slurm: squeue said COMPLETED) is remembered as
   * awaiting accounting: the cluster's rounds poll it for charging only (`accounting`) until its
   * figure arrives — charged under the same usage key, so nothing is counted twice — or until
   * ACCOUNTING_GRACE_MS after its end, when the provisional charge stands.
   */
  async charge(runs: readonly ChargeInput[], now: number, accounting: readonly AccountingReport[] = []): Promise<void> {
    const at = new Date(now).toISOString()
    const usage = runs.flatMap((input) => this.#usageOf(input, at, now))
    const trueUps = accounting.flatMap((report) => trueUpOf(report, at))
    if (usage.length === 0 && trueUps.length === 0) return
    const entries = await this.#store.budgets.listEntries()
    // a running job is charged at most every CHARGE_INTERVAL_MS (the ledger stays small); the
    // commitments count what it used since, so nothing slips between charges
    const lastCharged = lastChargeBySubmission(entries)
    const due = usage.filter((u) => {
      const last = lastCharged.get(u.submissionKey)
      return u.final || last === undefined || now - last >= CHARGE_INTERVAL_MS || now < last
    })
    const charged = [...due, ...trueUps]
    await this.#store.budgets.recordCharges({
      entries: planCharges(charged, chargedByUsageKey(entries)),
      awaitAccounting: due.flatMap((u) => (u.awaits ? [u.awaits] : [])),
      // an ending with accounting's figure, however it came, ends the wait for it
      settled: charged.filter((u) => u.final && !u.awaits).map((u) => u.submissionKey),
      expiredBy: at,
    })
  }

  #usageOf({ run, snapshot, observations }: ChargeInput, at: string, now: number): ChargedUsage[] {
    if (run.project === null) return []
    const weights = this.gpuWeights()[run.project] ?? {}
    const taskOf = new Map(snapshot.latestAttempts.map((a) => [a.submissionKey, a.taskId]))
    const tasks = new Map(snapshot.tasks.map((t) => [t.id, t]))
    const definitions = new Map(snapshot.pipeline.tasks.map((t) => [t.name, t]))
    const usage: ChargedUsage[] = []
    for (const o of observations) {
      if (o.kind !== 'observed') continue
      const elapsedSeconds = o.job.usage?.elapsedSeconds
      if (!elapsedSeconds || elapsedSeconds <= 0) continue
      let allocTres = o.job.usage?.allocTres
      const provisional = !allocTres || Object.keys(allocTres).length === 0
      let cluster = run.cluster
      if (provisional) {
        const task = tasks.get(taskOf.get(o.submissionKey) ?? '')
        const definition = task && definitions.get(task.group)
        if (!task || !definition) continue
        const resources = attemptResources(definition, task.overrides)
        allocTres = requestedAllocTres(resources, weights)
        cluster = definition.cluster ?? run.cluster
      }
      // one usage key per run of the job: a job Slurm restarted in place starts a new one
      const started = o.job.startedAt ? o.job.startedAt.toISOString() : 'unstarted'
      const usageKey = `${o.submissionKey}@${started}`
      const final = isTerminalJobState(o.job.state)
      // ended before accounting had its record: its figure is asked for in later rounds
      const endedAt = o.job.endedAt?.getTime() ?? now
      const awaits =
        final && provisional && endedAt + ACCOUNTING_GRACE_MS > now
          ? {
              submissionKey: o.submissionKey,
              cluster,
              jobId: o.job.jobId as string,
              usageKey,
              project: run.project,
              user: run.user,
              endedAt: new Date(endedAt).toISOString(),
              until: new Date(endedAt + ACCOUNTING_GRACE_MS).toISOString(),
            }
          : null
      usage.push({
        usageKey,
        project: run.project,
        user: run.user,
        at,
        hours: tresHoursOf(allocTres as Readonly<Record<string, number>>, elapsedSeconds),
        final,
        submissionKey: o.submissionKey,
        awaits,
      })
    }
    return usage
  }

  /** The enforcement decision over every job in flight (all clusters), without acting on it. */
  async decide(now: number): Promise<{ plan: EnforcementPlan; jobs: JudgedJob[] } | null> {
    return (await this.beginRound(now)).decide()
  }
}

/**
 * Accounting's figure for an awaited job, charged under the usage key of its provisional charge:
 * only an ended job's record with an allocation trues it up (anything less keeps waiting).
 */
function trueUpOf({ wait, job }: AccountingReport, at: string): ChargedUsage[] {
  const allocTres = job.usage?.allocTres
  const elapsedSeconds = job.usage?.elapsedSeconds
  if (!isTerminalJobState(job.state) || !allocTres || Object.keys(allocTres).length === 0) return []
  if (!elapsedSeconds || elapsedSeconds <= 0) return []
  return [
    {
      usageKey: wait.usageKey,
      project: wait.project,
      user: wait.user,
      at,
      hours: tresHoursOf(allocTres, elapsedSeconds),
      final: true,
      submissionKey: wait.submissionKey,
      awaits: null,
    },
  ]
}
