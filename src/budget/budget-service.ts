/**
 * Budgets at work: the impure shell around the pure budget and policy core. It reads the rules
 * (config, overridden by `rpo budget set`), the ledger and the jobs in flight from the store;
 * charges what the scheduler reports as used (idempotently); admits or holds new submissions; and
 * enforces caps and priorities on the clusters (hold, release, checkpoint-requeue, nice) through
 * the adapters. Every decision itself is made by src/core/budget and src/core/policy.
 */
import type { ResolvedConfig } from '../config/load-config.js'
import { BudgetBook } from '../core/budget/budget-admission.js'
import { type BudgetProblem, judgeBudgets, readableEntries } from '../core/budget/budget-judgement.js'
import {
  type BudgetLedger,
  chargedByUsageKey,
  planCharges,
  type UsageObservation,
} from '../core/budget/budget-ledger.js'
import { type BudgetRule, budgetRulesOf, sameScope } from '../core/budget/budget-rules.js'
import type { BudgetStatus, Commitment } from '../core/budget/budget-status.js'
import { requestedAllocTres, requestedRate, requestedWorstCase } from '../core/budget/requested-tres.js'
import { scaleTresHours, tresHoursOf } from '../core/budget/tres-hours.js'
import { isTerminalJobState, type JobState } from '../core/job/job-state.js'
import type { ResolvedTask } from '../core/pipeline/resolved-pipeline.js'
import { decideEnforcement, type EnforcementJob, type EnforcementPlan } from '../core/policy/enforcement-plan.js'
import type { AdmissionVerdict } from '../core/scheduling/plan-tick.js'
import { computePriorities } from '../core/scheduling/priority.js'
import {
  type AttemptObservation,
  attemptResources,
  type RunSnapshot,
  type TaskSnapshot,
} from '../core/scheduling/run-snapshot.js'
import { asNativeJobId, type SchedulerAdapter } from '../scheduler/scheduler-adapter.js'
import type { InFlightAttempt } from '../store/budget-store.js'
import type { RunRecord, RunStore } from '../store/run-store.js'
import { projectPriorityInputs } from './project-priority-inputs.js'

/** What the engine asks of budgets during a tick (absent when nothing is budgeted). */
export interface BudgetGate {
  /** Charge what this tick's observations say the run's jobs used so far. */
  charge(run: RunRecord, snapshot: RunSnapshot, observations: readonly AttemptObservation[], now: number): Promise<void>
  /** Admission for this tick of `run`; null when its project has no budget. */
  admission(
    run: RunRecord,
    canHold: boolean,
    now: number,
  ): Promise<((task: TaskSnapshot, definition: ResolvedTask) => AdmissionVerdict) | null>
  /** Enforce caps and priorities on the jobs of one cluster. */
  enforce(clusterName: string, adapter: SchedulerAdapter, now: number): Promise<EnforcementOutcome | null>
}

export interface EnforcementOutcome {
  readonly plan: EnforcementPlan
  /** Actions the adapter carried out; a failed one is reported, not thrown. */
  readonly applied: number
  readonly failures: readonly string[]
  /** Budgets that cannot be judged (their work is held) and deadlines ranked without: each a tick error. */
  readonly problems: readonly BudgetProblem[]
}

/** The jobs a budget decision is about, with the attempt each came from. */
interface JudgedJob {
  readonly job: EnforcementJob
  readonly attempt: InFlightAttempt
  readonly definition: ResolvedTask
}

const MIN_ENFORCE_INTERVAL_MS = 1000
/** How often a running job's provisional usage is written to the ledger. */
const CHARGE_INTERVAL_MS = 5 * 60_000

export class BudgetService implements BudgetGate {
  readonly #config: ResolvedConfig
  readonly #store: RunStore
  /** Jobs asked to checkpoint for a cap, so a slow save is not signalled again every tick. */
  readonly #signalled = new Set<string>()
  /** Last enforcement per cluster: every run's tick asks, once a second is enough. */
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

  /**
   * Where every budget stands now, with what in-flight jobs may still use. A project whose budget
   * cannot be judged has no status but a problem: callers hold its work, never read it as unbudgeted.
   */
  async statuses(now: number): Promise<{
    statuses: BudgetStatus[]
    entries: BudgetLedger
    rules: BudgetRule[]
    problems: BudgetProblem[]
  }> {
    const [rules, entries, inFlight] = await Promise.all([
      this.rules(),
      this.#store.budgets.listEntries(),
      this.#store.budgets.listInFlight(),
    ])
    const { statuses, problems } = judgeBudgets({
      rules,
      entries,
      commitments: this.#commitments(inFlight, readableEntries(entries)),
      gpuWeights: this.gpuWeights(),
      now,
    })
    return { statuses, entries, rules, problems }
  }

  /**
   * Charges are cumulative per job run and only ever go up. While a job runs, the scheduler may
   * report its elapsed time but not its allocation (squeue): it is charged provisionally at the
   * rate it asked for; accounting's figure (sacct AllocTRES, PBS resources_used) trues it up.
   */
  async charge(
    run: RunRecord,
    snapshot: RunSnapshot,
    observations: readonly AttemptObservation[],
    now: number,
  ): Promise<void> {
    if (run.project === null) return
    const at = new Date(now).toISOString()
    const weights = this.gpuWeights()[run.project] ?? {}
    const taskOf = new Map(snapshot.latestAttempts.map((a) => [a.submissionKey, a.taskId]))
    const tasks = new Map(snapshot.tasks.map((t) => [t.id, t]))
    const definitions = new Map(snapshot.pipeline.tasks.map((t) => [t.name, t]))
    const usage: (UsageObservation & { final: boolean; submissionKey: string })[] = []
    for (const o of observations) {
      if (o.kind !== 'observed') continue
      const elapsedSeconds = o.job.usage?.elapsedSeconds
      if (!elapsedSeconds || elapsedSeconds <= 0) continue
      let allocTres = o.job.usage?.allocTres
      if (!allocTres || Object.keys(allocTres).length === 0) {
        const task = tasks.get(taskOf.get(o.submissionKey) ?? '')
        const definition = task && definitions.get(task.group)
        if (!task || !definition) continue
        const resources = attemptResources(definition, task.overrides)
        allocTres = requestedAllocTres(resources, weights)
      }
      // one usage key per run of the job: a job Slurm restarted in place starts a new one
      const started = o.job.startedAt ? o.job.startedAt.toISOString() : 'unstarted'
      usage.push({
        usageKey: `${o.submissionKey}@${started}`,
        project: run.project,
        user: run.user,
        at,
        hours: tresHoursOf(allocTres, elapsedSeconds),
        final: isTerminalJobState(o.job.state),
        submissionKey: o.submissionKey,
      })
    }
    if (usage.length === 0) return
    const entries = await this.#store.budgets.listEntries()
    // a running job is charged at most every CHARGE_INTERVAL_MS (the ledger stays small); the
    // commitments count what it used since, so nothing slips between charges
    const lastCharged = lastChargeBySubmission(entries)
    const due = usage.filter((u) => {
      const last = lastCharged.get(u.submissionKey)
      return u.final || last === undefined || now - last >= CHARGE_INTERVAL_MS || now < last
    })
    await this.#store.budgets.appendEntries(planCharges(due, chargedByUsageKey(entries)))
  }

  async admission(
    run: RunRecord,
    canHold: boolean,
    now: number,
  ): Promise<((task: TaskSnapshot, definition: ResolvedTask) => AdmissionVerdict) | null> {
    const project = run.project
    if (project === null) return null
    const rules = await this.rules()
    if (!rules.some((r) => r.project === project)) return null
    const { statuses, problems } = await this.statuses(now)
    // fail closed: no status for the project is never "no cap"
    const problem = problems.find((p) => p.kind === 'budget' && p.project === project)
    if (problem) {
      const reason = `budget: ${problem.message}`
      return () => (canHold ? { kind: 'hold', reason } : { kind: 'wait', reason })
    }
    const book = new BudgetBook(statuses)
    const weights = this.gpuWeights()[project] ?? {}
    return (task, definition) => {
      const resources = attemptResources(definition, task.overrides)
      const request = { project, user: run.user, worstCase: requestedWorstCase(resources, weights) }
      const decision = book.check(request)
      if (decision.kind === 'refuse') {
        const reason = `budget: ${decision.reason}`
        return canHold ? { kind: 'hold', reason } : { kind: 'wait', reason }
      }
      book.reserve(request)
      return { kind: 'admit' }
    }
  }

  /** The enforcement decision over every job in flight (all clusters), without acting on it. */
  async decide(now: number): Promise<{ plan: EnforcementPlan; jobs: JudgedJob[] } | null> {
    const rules = await this.rules()
    const budgeted = new Set(rules.map((r) => r.project))
    const hasPriorityTerms = Object.values(this.#config.projects).some((p) => p.deadline || p.share)
    if (budgeted.size === 0 && !hasPriorityTerms) return null
    const [entries, inFlight] = await Promise.all([
      this.#store.budgets.listEntries(),
      this.#store.budgets.listInFlight(),
    ])
    const readable = readableEntries(entries)
    const { projects, problems } = await projectPriorityInputs(
      this.#config,
      this.#store,
      readable,
      this.gpuWeights(),
      now,
    )
    const jobs = this.#judgedJobs(inFlight, readable, now)
    const plan = decideEnforcement(
      {
        projects,
        // the whole ledger: the decision names the entries it cannot read, and whose budget they make unjudgeable
        budget: { kind: 'ledger', rules, entries, gpuWeights: this.gpuWeights() },
        jobs: jobs.map((j) => j.job),
        runningAtHardCap: this.#config.enforcement.runningAtHardCap,
        problems,
      },
      now,
    )
    return { plan, jobs }
  }

  async enforce(clusterName: string, adapter: SchedulerAdapter, now: number): Promise<EnforcementOutcome | null> {
    const last = this.#enforcedAt.get(clusterName)
    if (last !== undefined && now - last < MIN_ENFORCE_INTERVAL_MS && now >= last) return null
    this.#enforcedAt.set(clusterName, now)
    const decided = await this.decide(now)
    if (!decided) return null
    const byKey = new Map(decided.jobs.map((j) => [j.attempt.submissionKey, j]))
    const failures: string[] = []
    let applied = 0
    const at = new Date(now).toISOString()
    for (const action of decided.plan.actions) {
      const judged = byKey.get(action.attemptKey)
      if (!judged || judged.attempt.cluster !== clusterName) continue
      const jobId = asNativeJobId(action.jobId)
      try {
        switch (action.kind) {
          case 'requeue': {
            // checkpoint and stop: the exit 85 resumes the task, and admission submits it held
            if (this.#signalled.has(action.attemptKey)) continue
            const signal = judged.definition.checkpoint?.signal
            if (!signal || !adapter.capabilities.signal) continue
            await adapter.control([jobId], { kind: 'signal', signal })
            this.#signalled.add(action.attemptKey)
            break
          }
          case 'cancel':
            await adapter.cancel([jobId])
            break
          case 'hold':
            if (!adapter.capabilities.hold) continue
            await adapter.control([jobId], { kind: 'hold' })
            await this.#store.budgets.markAttempt(action.attemptKey, { heldReason: action.reason })
            break
          case 'release':
            if (!adapter.capabilities.hold) continue
            await adapter.control([jobId], { kind: 'release' })
            await this.#store.budgets.markAttempt(action.attemptKey, { heldReason: null })
            break
          case 'setNice':
            if (!adapter.capabilities.priority) continue
            await adapter.control([jobId], { kind: 'nice', nice: action.nice })
            await this.#store.budgets.markAttempt(action.attemptKey, { nice: action.nice })
            break
        }
        applied++
        if (action.kind !== 'setNice') {
          await this.#store.appendEvent(
            judged.attempt.runId,
            {
              type: `budget:${action.kind}` as never,
              taskId: judged.attempt.taskId,
              message: `${action.kind} job ${action.jobId}: ${action.reason}`,
              data: { jobId: action.jobId, attempt: judged.attempt.attempt },
            },
            at,
          )
        }
      } catch (error) {
        failures.push(`${action.kind} ${action.jobId}: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
    return { plan: decided.plan, applied, failures, problems: decided.plan.problems }
  }

  /**
   * What in-flight jobs may still use at worst: a running job's rate over what is left of its time
   * limit counted from its last charge (what it used since is not in the ledger yet).
   */
  #commitments(inFlight: readonly InFlightAttempt[], entries: BudgetLedger): Commitment[] {
    const weights = this.gpuWeights()
    const lastCharged = lastChargeBySubmission(entries)
    const commitments: Commitment[] = []
    for (const attempt of inFlight) {
      // a held job commits nothing until it is released (admission re-checks it then)
      if (attempt.project === null || attempt.heldReason !== null || attempt.state === 'held') continue
      const definition = attempt.pipeline.tasks.find((t) => t.name === attempt.group)
      if (!definition) continue
      const resources = attemptResources(definition, attempt.overrides)
      commitments.push({
        project: attempt.project,
        user: attempt.user,
        rate: requestedRate(resources, weights[attempt.project] ?? {}),
        elapsedSeconds: chargedSeconds(attempt, lastCharged),
        timeLimitSeconds: resources.timeLimitSeconds,
      })
    }
    return commitments
  }

  #judgedJobs(inFlight: readonly InFlightAttempt[], entries: BudgetLedger, now: number): JudgedJob[] {
    const weights = this.gpuWeights()
    const lastCharged = lastChargeBySubmission(entries)
    const paths = new Map<string, Map<string, number>>()
    const jobs: JudgedJob[] = []
    for (const attempt of inFlight) {
      if (attempt.project === null || attempt.jobId === null) continue
      if (isTerminalJobState(attempt.state as JobState) || attempt.state === 'submitting') continue
      const definition = attempt.pipeline.tasks.find((t) => t.name === attempt.group)
      if (!definition) continue
      let runPaths = paths.get(attempt.runId)
      if (!runPaths) {
        runPaths = computePriorities(attempt.pipeline)
        paths.set(attempt.runId, runPaths)
      }
      const resources = attemptResources(definition, attempt.overrides)
      const running = attempt.state === 'running' || attempt.state === 'completing'
      const held = attempt.state === 'held' || attempt.heldReason !== null
      const rate = requestedRate(resources, weights[attempt.project] ?? {})
      const elapsed = running && attempt.startedAt ? Math.max(0, (now - Date.parse(attempt.startedAt)) / 1000) : 0
      // what it used since its last charge: not in the ledger yet, but spent
      const uncharged = running ? Math.max(0, elapsed - chargedSeconds(attempt, lastCharged)) : 0
      jobs.push({
        attempt,
        definition,
        job: {
          jobId: attempt.jobId,
          attemptKey: attempt.submissionKey,
          runId: attempt.runId,
          taskId: attempt.taskId,
          project: attempt.project,
          user: attempt.user,
          state: running ? 'running' : held ? 'held' : 'pending',
          heldByRpo: attempt.heldReason !== null,
          currentNice: attempt.nice,
          gpuType: resources.gpus?.types[0] ?? null,
          gpus: resources.gpus?.count ?? 0,
          rate,
          elapsedSeconds: elapsed,
          unchargedHours: scaleTresHours(rate, uncharged / 3600),
          timeLimitSeconds: resources.timeLimitSeconds,
          checkpointable: definition.checkpoint !== null,
          readySince: attempt.submittedAt,
          criticalPathSeconds: runPaths.get(attempt.group) ?? 0,
        },
      })
    }
    return jobs
  }
}

/** Per submission key, when its job was last charged (epoch ms). */
function lastChargeBySubmission(entries: BudgetLedger): Map<string, number> {
  const last = new Map<string, number>()
  for (const entry of entries) {
    if (entry.kind !== 'charge' || !entry.usageKey) continue
    const key = entry.usageKey.slice(0, entry.usageKey.lastIndexOf('@'))
    const at = Date.parse(entry.at)
    if (!(at <= (last.get(key) ?? Number.NEGATIVE_INFINITY))) last.set(key, at)
  }
  return last
}

/** How much of a running job's time the ledger already holds: from its start to its last charge. */
function chargedSeconds(attempt: InFlightAttempt, lastCharged: ReadonlyMap<string, number>): number {
  if (!attempt.startedAt) return 0
  const last = lastCharged.get(attempt.submissionKey)
  return last === undefined ? 0 : Math.max(0, (last - Date.parse(attempt.startedAt)) / 1000)
}
