/**
 * The impure tick: load a snapshot → observe (poll the adapter) → decide (the pure planner) →
 * persist the decisions (attempt intents first) → act (submit/cancel through the adapter) → emit
 * events. A crash between any two steps loses nothing: an attempt's submission key is written before
 * the scheduler is called, and on the next tick a key without a job id is looked up, never resubmitted
 * blindly.
 */
import { randomUUID } from 'node:crypto'
import type { BudgetGate } from '../budget/budget-service.js'
import type { LoadedPipeline } from '../config/load-pipeline.js'
import { isRpoError, RpoError, StoreError } from '../core/errors.js'
import { explainUnsatisfiable } from '../core/scheduling/capacity.js'
import { type PlannedEvent, type PlanOptions, planTick } from '../core/scheduling/plan-tick.js'
import type { AttemptObservation, Capacity, RunSnapshot, RunState } from '../core/scheduling/run-snapshot.js'
import { TERMINAL_RUN_STATES } from '../core/scheduling/run-snapshot.js'
import { currentUser } from '../current-user.js'
import type { ChangeNotifier } from '../scheduler/change-notifier.js'
import { asNativeJobId, type Inventory, type SchedulerAdapter } from '../scheduler/scheduler-adapter.js'
import type { ScriptRenderer } from '../scheduler/script-renderer.js'
import type { RunRecord, RunStore } from '../store/run-store.js'
import type { CommandCounter } from '../transport/counting-transport.js'
import { type CheckpointWatchDeps, reportCheckpoints, warnBeforeLimit } from './checkpoint-watch.js'
import { type CompiledJob, compilePipeline } from './compile-run.js'
import { EngineEvents } from './engine-events.js'
import { Leases } from './leases.js'
import { liveAttempts, observeAttempts } from './observe-step.js'
import { planWrite } from './persist-step.js'
import { type StopMode, stopRun } from './stop-run.js'
import { submitPlanned } from './submit-step.js'

export interface EngineOptions {
  readonly store: RunStore
  readonly adapter: SchedulerAdapter
  readonly clusterName: string
  /** Where attempt folders live on the target (`<jobsRoot>/<submission key>`). */
  readonly jobsRoot: string
  /** Where task output folders live on the target (`<runsRoot>/<run id>/<task id>`). */
  readonly runsRoot: string
  /** Reads a file on the target (the task's outputs.json); null when it does not exist. */
  readonly readFile: (file: string) => Promise<string | null>
  /** Where jobs run on the target; the pipeline file's folder when absent (local executor). */
  readonly jobWorkDir?: string
  /** Fill at most this capacity (local executor); null lets the scheduler queue. */
  readonly capacity: Capacity | null
  readonly maxActive?: number
  readonly clock?: () => number
  readonly owner?: string
  readonly lostAfterMissedPolls?: number
  /** How long a tick's claim on a run lasts; must exceed the longest poll interval. @default 60000 */
  readonly leaseMs?: number
  /** Who starts runs here (per-user budgets): $RPO_USER, else the login name. */
  readonly user?: string
  /** Budgets: charging, admission and enforcement (absent: nothing is budgeted). */
  readonly budget?: BudgetGate
  /** Counts the commands run on the target (the cluster's CountingTransport); absent: none counted. */
  readonly commands?: CommandCounter
  /** Wakes a follower when a job may have changed (the local executor); absent: it polls on its interval. */
  readonly changes?: ChangeNotifier
  /** The batch scripts for `rpo compile` (Slurm, PBS); absent: the target runs commands directly. */
  readonly renderer?: ScriptRenderer
}

export type { CompiledJob }

export interface TickResult {
  readonly runId: string
  readonly state: RunState
  readonly submitted: number
  /** Task and attempt transitions this tick decided (0: nothing moved). */
  readonly changes: number
  readonly schedulerCommands: number
}

const DEFAULT_LEASE_MS = 60_000

export class Engine {
  readonly events = new EngineEvents()
  readonly #options: EngineOptions
  readonly #clock: () => number
  #inventory: Inventory | null = null
  readonly #leases: Leases
  readonly #checkpointWatch: CheckpointWatchDeps

  constructor(options: EngineOptions) {
    this.#options = options
    this.#clock = options.clock ?? Date.now
    this.#leases = new Leases(options.store, {
      clock: this.#clock,
      ...(options.owner ? { owner: options.owner } : {}),
    })
    this.#checkpointWatch = {
      store: options.store,
      adapter: options.adapter,
      layout: options,
      readFile: options.readFile,
      events: this.events,
      clock: this.#clock,
      warned: new Set(),
    }
  }

  /** Who this engine's leases name as their holder (`<host>:<pid>:<tag>`). */
  get owner(): string {
    return this.#leases.owner
  }

  get store(): RunStore {
    return this.#options.store
  }

  get adapter(): SchedulerAdapter {
    return this.#options.adapter
  }

  /** What tells a follower that a job may have changed; null where only polling tells. */
  get changes(): ChangeNotifier | null {
    return this.#options.changes ?? null
  }

  #commandsRun(): number {
    return this.#options.commands?.commandsRun ?? 0
  }

  async inventory(): Promise<Inventory> {
    this.#inventory ??= await this.#options.adapter.inventory()
    return this.#inventory
  }

  /** Reject tasks no node of the target can ever run, naming each. */
  async checkFeasible(loaded: LoadedPipeline): Promise<void> {
    const inventory = await this.inventory()
    const problems = loaded.pipeline.tasks
      .map((task) => ({ task, why: explainUnsatisfiable(inventory, task.resources) }))
      .filter((p) => p.why !== null)
      .map((p) => `${loaded.file}: tasks.${p.task.name}.resources: ${p.why} (cluster "${this.#options.clusterName}")`)
    if (problems.length > 0) throw new RpoError('resources-unsatisfiable', problems.join('\n'))
  }

  /** What `rpo run` would submit, without submitting (`rpo compile`): see compile-run.ts. */
  async compile(loaded: LoadedPipeline): Promise<CompiledJob[]> {
    await this.checkFeasible(loaded)
    return compilePipeline(
      {
        adapter: this.#options.adapter,
        ...(this.#options.renderer ? { renderer: this.#options.renderer } : {}),
        clusterName: this.#options.clusterName,
        layout: this.#options,
        now: this.#clock(),
      },
      loaded,
    )
  }

  /** Start a run of the pipeline, or continue the unfinished run of the same file content. */
  async startRun(
    loaded: LoadedPipeline,
    options: { resume?: boolean } = {},
  ): Promise<{ run: RunRecord; resumed: boolean }> {
    await this.checkFeasible(loaded)
    const store = this.#options.store
    const now = new Date(this.#clock())
    const newRun = {
      id: `${loaded.pipeline.name}-${formatStamp(now)}-${randomUUID().slice(0, 4)}`,
      pipeline: loaded.pipeline,
      instances: loaded.instances,
      cluster: this.#options.clusterName,
      specHash: loaded.specHash,
      sourceFile: loaded.file,
      workDir: loaded.workDir,
      user: this.#options.user ?? currentUser(),
      now: now.toISOString(),
    }
    // finding the unfinished run and creating one is one step in the store: two `rpo run` at once start one run
    const { run, created } = await store.findOrCreateRun(newRun, { resume: options.resume !== false })
    if (created) {
      this.events.emit('run:created', { runId: run.id, tasks: loaded.instances.length })
      return { run, resumed: false }
    }
    // a stop whose process died before recording it (a second Ctrl-C) is finished first
    if (run.state === 'interrupting') await this.stopRun(run.id, 'interrupt')
    const { state } = await store.getRun(run.id)
    if (state === 'interrupted') await this.#setRunState(run.id, 'interrupted', 'running')
    this.events.emit('run:resumed', { runId: run.id })
    return { run: await store.getRun(run.id), resumed: true }
  }

  /** One observe → decide → act cycle for a run. */
  async tick(runId: string): Promise<TickResult> {
    const store = this.#options.store
    const leaseName = `run:${runId}`
    const holder = await this.#leases.take(leaseName, this.#options.leaseMs ?? DEFAULT_LEASE_MS)
    if (holder !== null) {
      throw new StoreError(
        'lease-held',
        `run ${runId} is being driven by another rpo process (${holder}); try again shortly`,
      )
    }
    const { run, snapshot } = await store.loadSnapshot(runId)
    // a run being stopped (or stopped) is left to whoever stops it: see stop-run.ts
    if (snapshot.state !== 'running') {
      return { runId, state: snapshot.state, submitted: 0, changes: 0, schedulerCommands: 0 }
    }
    const adapter = this.#options.adapter
    const commandsBefore = this.#commandsRun()
    const observations = await this.#observe(run, snapshot)
    const budget = this.#options.budget
    if (budget)
      await this.#budgetStep(runId, 'charging usage', () => budget.charge(run, snapshot, observations, this.#clock()))
    // budgets fail closed: when admission cannot be computed, the work of a budgeted run waits, saying why
    const admit = budget
      ? await this.#budgetStep(
          runId,
          'checking budgets',
          () => budget.admission(run, adapter.capabilities.hold, this.#clock()),
          (why) => (run.project === null ? null : () => ({ kind: 'wait', reason: `budget: cannot be judged: ${why}` })),
        )
      : null
    // two processes admitting work of one project at once could together cross its cap
    const budgetLease = admit && run.project ? `budget:${run.project}` : null
    if (budgetLease)
      await this.#leases.wait(budgetLease, 60_000, {
        timeoutMs: 30_000,
        busy: (by) => `the budget of this run's project is being decided by ${by}; try again shortly`,
      })
    try {
      return await this.#planAndAct(run, snapshot, observations, admit ?? undefined, leaseName, commandsBefore)
    } finally {
      if (budgetLease) await this.#leases.release(budgetLease)
    }
  }

  /** The planner's options for this engine's target (without the time, the budget's admission and the cap on work in flight). */
  #planOptions(): Omit<PlanOptions, 'now' | 'maxActive' | 'admit'> {
    const capabilities = this.#options.adapter.capabilities
    return {
      capacity: this.#options.capacity,
      lostAfterMissedPolls: this.#options.lostAfterMissedPolls ?? 3,
      nativeDependencies: capabilities.nativeDependencies,
      schedulerThrottles: capabilities.arrays,
      wholeArrayDependencies: capabilities.wholeArrayDependencies ?? false,
    }
  }

  async #planAndAct(
    run: RunRecord,
    snapshot: RunSnapshot,
    observations: readonly AttemptObservation[],
    admit: PlanOptions['admit'],
    leaseName: string,
    commandsBefore: number,
  ): Promise<TickResult> {
    const store = this.#options.store
    const adapter = this.#options.adapter
    const runId = run.id
    const plan = planTick(snapshot, observations, {
      ...this.#planOptions(),
      now: this.#clock(),
      maxActive: this.#options.maxActive ?? 10_000,
      ...(admit ? { admit } : {}),
    })
    // refused when the run's state changed since the snapshot (a stop decided by another process)
    const applied = await store.applyPlan(runId, snapshot.state, planWrite(plan, observations, iso(this.#clock())))
    if (!applied) {
      const current = await store.getRun(runId)
      return {
        runId,
        state: current.state,
        submitted: 0,
        changes: 0,
        schedulerCommands: this.#commandsRun() - commandsBefore,
      }
    }
    this.#emitPlanned(runId, plan.events)
    const doomed = plan.cancellations.flatMap((c) => (c.jobId ? [asNativeJobId(c.jobId)] : []))
    if (doomed.length > 0) {
      // best effort: a job that already left the queue needs no cancel, and the next tick re-checks
      await adapter.cancel(doomed).catch((error: unknown) =>
        this.events.emit('poll:error', {
          runId,
          code: isRpoError(error) ? error.code : 'internal',
          message: `cancelling ${doomed.join(',')}: ${String(error)}`,
        }),
      )
    }
    const submitted = await submitPlanned(
      {
        store,
        adapter,
        layout: this.#options,
        events: this.events,
        now: () => iso(this.#clock()),
      },
      run,
      snapshot,
      plan,
      observations,
    )
    if (plan.runState !== snapshot.state && TERMINAL_RUN_STATES.has(plan.runState)) {
      this.events.emit('run:finished', { runId, state: plan.runState })
      await this.#leases.release(leaseName)
    }
    await warnBeforeLimit(this.#checkpointWatch, run, snapshot, plan.attemptUpdates)
    await reportCheckpoints(this.#checkpointWatch, run, snapshot, plan.attemptUpdates)
    const budget = this.#options.budget
    if (budget) {
      const outcome = await this.#budgetStep(runId, 'enforcing budgets', () =>
        budget.enforce(this.#options.clusterName, adapter, this.#clock()),
      )
      // one action the scheduler refused (a hold, a release) must not stop the others, nor go unsaid
      for (const failure of outcome?.failures ?? []) {
        this.events.emit('poll:error', { runId, code: 'command-failed', message: `enforcing budgets: ${failure}` })
      }
      for (const problem of outcome?.problems ?? []) {
        this.events.emit('poll:error', { runId, code: 'budget-invalid', message: problem.message })
      }
    }
    const commands = this.#commandsRun() - commandsBefore
    await store.recordTick(runId, iso(this.#clock()), commands)
    this.events.emit('sync:tick', { runId, state: plan.runState, schedulerCommands: commands })
    const changes = plan.taskUpdates.size + plan.attemptUpdates.size
    return { runId, state: plan.runState, submitted, changes, schedulerCommands: commands }
  }

  /**
   * A budget step that fails (store, scheduler) is reported and never stops a run's tick; its
   * result is then `failed(why)` — for admission, one that lets nothing through — or null.
   */
  async #budgetStep<T>(
    runId: string,
    what: string,
    step: () => Promise<T>,
    failed?: (why: string) => T | null,
  ): Promise<T | null> {
    try {
      return await step()
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error)
      this.events.emit('poll:error', {
        runId,
        code: isRpoError(error) ? error.code : 'internal',
        message: `${what}: ${why}`,
      })
      return failed ? failed(why) : null
    }
  }

  /**
   * An outage fails the poll, never the jobs: plan on without observations and try again next tick.
   * A degraded poll (Slurm's accounting down) is said the same way, with the observations it has.
   */
  async #observe(run: RunRecord, snapshot: RunSnapshot): Promise<AttemptObservation[]> {
    try {
      return await observeAttempts(this.#options, liveAttempts(snapshot), {
        onWarning: (warning) => this.events.emit('poll:error', { runId: run.id, ...warning }),
      })
    } catch (error) {
      this.events.emit('poll:error', {
        runId: run.id,
        code: isRpoError(error) ? error.code : 'internal',
        message: `could not poll the scheduler: ${error instanceof Error ? error.message : String(error)}`,
      })
      return []
    }
  }

  /**
   * Stop a run's work. `interrupt` (Ctrl-C) puts unfinished tasks back to pending so a later
   * `rpo run` continues; `cancel` ends the run for good. See stop-run.ts.
   */
  async stopRun(
    runId: string,
    mode: StopMode,
    options: { waitMs?: number } = {},
  ): Promise<{ stopped: number; state: RunState }> {
    const budget = this.#options.budget
    const result = await stopRun(
      {
        store: this.#options.store,
        adapter: this.#options.adapter,
        observe: this.#options,
        clock: this.#clock,
        planOptions: () => this.#planOptions(),
        ...(budget
          ? { charge: (run, snapshot, observations) => budget.charge(run, snapshot, observations, this.#clock()) }
          : {}),
      },
      runId,
      mode,
      options,
    )
    if (result.stopped === null) return { stopped: 0, state: result.state }
    await this.#leases.release(`run:${runId}`)
    this.events.emit(result.state === 'interrupted' ? 'run:interrupted' : 'run:cancelled', {
      runId,
      message: result.message,
    })
    return { stopped: result.stopped, state: result.state }
  }

  async #setRunState(runId: string, from: RunState, to: RunState): Promise<void> {
    await this.#options.store.applyPlan(runId, from, {
      taskUpdates: new Map(),
      attemptUpdates: new Map(),
      newTasks: [],
      newAttempts: [],
      events: [{ type: 'run:resumed', taskId: null, message: 'run resumed' }],
      runState: to,
      now: iso(this.#clock()),
    })
  }

  /** Give up this engine's claims on runs (so another process may tick them at once) and close the adapter. */
  async close(): Promise<void> {
    await this.#leases.releaseAll()
    await this.#options.adapter.close()
  }

  #emitPlanned(runId: string, events: readonly PlannedEvent[]): void {
    for (const event of events) {
      const payload = { runId, taskId: event.taskId, message: event.message, data: event.data }
      if (event.type === 'run:finished' || event.type === 'run:resumed' || event.type === 'run:stopped') continue
      this.events.emit(event.type, payload)
    }
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

function formatStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
}
