/**
 * A cluster's engine (one per cluster): starting runs, the cluster tick (cluster-tick.ts composes its
 * steps), a run's tick as its clusters' ticks, stopping runs. A crash between any two steps loses
 * nothing: an attempt's submission key is written before the scheduler is called, and on the next
 * tick a key without a job id is looked up, never resubmitted blindly.
 */
import { randomUUID } from 'node:crypto'
import type { BudgetGate } from '../budget/budget-service.js'
import type { LoadedPipeline } from '../config/load-pipeline.js'
import { RpoError } from '../core/errors.js'
import { buildGpuCatalog, type GpuCatalog } from '../core/gpu/gpu-catalog.js'
import { usesGpus } from '../core/gpu/model-memory.js'
import { explainUnsatisfiable } from '../core/scheduling/capacity.js'
import type { PlanOptions } from '../core/scheduling/plan-tick.js'
import type { Capacity, RunState } from '../core/scheduling/run-snapshot.js'
import { currentUser } from '../current-user.js'
import type { ChangeNotifier } from '../scheduler/change-notifier.js'
import type { Inventory, SchedulerAdapter } from '../scheduler/scheduler-adapter.js'
import type { ScriptRenderer } from '../scheduler/script-renderer.js'
import type { RunRecord, RunStore } from '../store/run-store.js'
import type { CommandCounter } from '../transport/counting-transport.js'
import type { CheckpointWatchDeps } from './checkpoint-watch.js'
import { type ClusterTickDeps, type ClusterTickResult, tickCluster } from './cluster-tick.js'
import { type CompiledJob, compilePipeline } from './compile-run.js'
import { EngineEvents } from './engine-events.js'
import { choosesAmongGpus, type GpuPlacementDeps, placeJob } from './gpu-placement-step.js'
import { CLUSTER_LEASE_MS, Leases, runLease } from './leases.js'
import type { TickResult } from './report-step.js'
import { clustersOf, taskCluster } from './run-clusters.js'
import { type StopMode, stopRun } from './stop-run.js'

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
  /** How long a round's claim on the cluster lasts (renewed while the round runs). @default CLUSTER_LEASE_MS */
  readonly leaseMs?: number
  /** Each run's rank for a round (higher first): the policy score (rank-runs.ts). */
  readonly rankRuns?: ClusterTickDeps['rankRuns']
  /** The engine of another cluster, for a run whose tasks span clusters (createApp's engineFor). */
  readonly peer?: (clusterName: string) => Promise<Engine>
  /** Who starts runs here (per-user budgets): $RPO_USER, else the login name. */
  readonly user?: string
  /** Budgets: charging, admission and enforcement (absent: nothing is budgeted). */
  readonly budget?: BudgetGate
  /** Deadline, bottleneck and budget notifications after each round (notify-step.ts); absent: none. */
  readonly notify?: ClusterTickDeps['notify']
  /** Counts the commands run on the target (the cluster's CountingTransport); absent: none counted. */
  readonly commands?: CommandCounter
  /** Wakes a follower when a job may have changed (the local executor); absent: it polls on its interval. */
  readonly changes?: ChangeNotifier
  /** The batch scripts for `rpo compile` (Slurm, PBS); absent: the target runs commands directly. */
  readonly renderer?: ScriptRenderer
  /** The cluster's GPU catalog and how to place GPU work (gpu-placement-step.ts); absent: the shipped catalog, jobs as asked. */
  readonly gpus?: EngineGpuOptions
}

export interface EngineGpuOptions {
  readonly catalog: GpuCatalog
  /** The target takes one of several GPU types (`--constraint=a|b`); PBS does not. */
  readonly alternatives: boolean
  /** The target can be asked for a GPU type at all (PBS: only with a configured type resource). */
  readonly typed: boolean
  readonly costWeights: GpuPlacementDeps['costWeights']
  readonly deadline: GpuPlacementDeps['deadline']
}

export type { ClusterTickResult, CompiledJob, TickResult }

/** How long a reading of the cluster's nodes serves validation before it is read again. */
export const INVENTORY_MAX_AGE_MS = 10 * 60_000

export class Engine {
  readonly events = new EngineEvents()
  readonly #options: EngineOptions
  readonly #clock: () => number
  #inventory: { readonly inventory: Inventory; readonly at: number } | null = null
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

  /** What tells a follower that a job may have changed; null where only polling tells. */
  get changes(): ChangeNotifier | null {
    return this.#options.changes ?? null
  }

  get adapter(): SchedulerAdapter {
    return this.#options.adapter
  }

  /**
   * The cluster's nodes as validation and placement see them, read again once older than
   * INVENTORY_MAX_AGE_MS: a daemon runs for weeks while nodes are added, drained or given new GPUs.
   * A read that fails keeps the last one (stale beats refusing every task) and says so.
   */
  async inventory(): Promise<Inventory> {
    const now = this.#clock()
    const cached = this.#inventory
    if (cached && now - cached.at < INVENTORY_MAX_AGE_MS && now >= cached.at) return cached.inventory
    try {
      const inventory = await this.#options.adapter.inventory()
      this.#inventory = { inventory, at: now }
      return inventory
    } catch (error) {
      if (!cached) throw error
      this.events.tickError('inventory', error, {
        what: 'could not read the cluster’s nodes again; using the last reading',
      })
      this.#inventory = { inventory: cached.inventory, at: now }
      return cached.inventory
    }
  }

  /**
   * Reject tasks no node of their cluster can ever run, naming each, and tasks naming a cluster
   * the config does not have. A task's own `cluster:` is checked against that cluster's inventory.
   */
  async checkFeasible(loaded: LoadedPipeline): Promise<{ readonly warnings: readonly string[] }> {
    const warnings: string[] = []
    const home = { cluster: this.#options.clusterName }
    const byCluster = new Map<string, LoadedPipeline['pipeline']['tasks'][number][]>()
    for (const task of loaded.pipeline.tasks) {
      const name = taskCluster(home, task)
      const tasks = byCluster.get(name)
      if (tasks) tasks.push(task)
      else byCluster.set(name, [task])
    }
    const problems: string[] = []
    for (const [name, tasks] of byCluster) {
      let engine: Engine | undefined = this
      try {
        if (name !== this.#options.clusterName) engine = await this.#options.peer?.(name)
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error)
        problems.push(...tasks.map((t) => `${loaded.file}: tasks.${t.name}.cluster: ${why}`))
        continue
      }
      if (!engine) {
        problems.push(
          ...tasks.map((t) => `${loaded.file}: tasks.${t.name}.cluster: cluster "${name}" is not known here`),
        )
        continue
      }
      const inventory = await engine.inventory()
      const catalog = engine.#options.gpus?.catalog ?? buildGpuCatalog()
      for (const task of tasks) {
        const workload = { catalog, framework: task.framework, model: task.model }
        const why = explainUnsatisfiable(inventory, task.resources, workload)
        if (why !== null) problems.push(`${loaded.file}: tasks.${task.name}.resources: ${why} (cluster "${name}")`)
        if (task.resources.gpus && !usesGpus(task.framework)) {
          warnings.push(
            `${loaded.file}: tasks.${task.name}.resources.gpus: ${task.framework} runs on CPUs; the task is submitted without GPUs${task.framework === 'xgboost' ? ' (to train XGBoost on GPUs, with device="cuda", leave framework out)' : ''}`,
          )
        }
      }
    }
    if (problems.length > 0) throw new RpoError('resources-unsatisfiable', problems.join('\n'))
    return { warnings }
  }

  /** What `rpo run` would submit, without submitting (`rpo compile`): see compile-run.ts. */
  async compile(loaded: LoadedPipeline): Promise<CompiledJob[]> {
    await this.checkFeasible(loaded)
    const now = this.#clock()
    const gpus = this.#options.gpus
    // the GPU types the submission would ask for now: the same placement, against the GPUs free now
    const choosing = loaded.pipeline.tasks.some((t) => choosesAmongGpus(t, t.resources.gpus))
    const inventory = gpus && choosing ? await this.#liveInventory() : null
    return compilePipeline(
      {
        adapter: this.#options.adapter,
        ...(this.#options.renderer ? { renderer: this.#options.renderer } : {}),
        clusterName: this.#options.clusterName,
        layout: this.#options,
        now,
        ...(gpus ? { place: (entry) => placeJob(gpus, inventory ?? { nodes: [] }, entry, now).job } : {}),
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

  /**
   * One round of this engine's cluster: every running run with work on it, observed, planned and
   * acted on together (cluster-tick.ts). When another live process holds the cluster's lease, the
   * round is its to do: nothing happens here and `heldBy` names it.
   */
  async tickCluster(): Promise<ClusterTickResult> {
    const options = this.#options
    return tickCluster({
      store: options.store,
      adapter: options.adapter,
      clusterName: options.clusterName,
      layout: options,
      readFile: options.readFile,
      events: this.events,
      leases: this.#leases,
      clock: this.#clock,
      leaseMs: options.leaseMs ?? CLUSTER_LEASE_MS,
      commandsRun: () => options.commands?.commandsRun ?? 0,
      capacity: options.capacity,
      maxActive: options.maxActive ?? 10_000,
      planOptions: () => this.#planOptions(),
      checkpointWatch: this.#checkpointWatch,
      ...(options.budget ? { budget: options.budget } : {}),
      ...(options.rankRuns ? { rankRuns: options.rankRuns } : {}),
      ...(options.notify ? { notify: options.notify } : {}),
      ...(options.gpus ? { placement: { ...options.gpus, inventory: () => this.#liveInventory() } } : {}),
    })
  }

  /** The inventory with the GPUs free now; the static one (no free counts) when usage cannot be read. */
  async #liveInventory(): Promise<Inventory> {
    try {
      return await this.#options.adapter.inventory({ freeGpus: true })
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      this.events.emit('tick:error', {
        step: 'act',
        cause: { code: 'gpu-usage-unreadable', message: `GPUs free now unknown, placed without them: ${message}` },
      })
      return this.inventory()
    }
  }

  /**
   * Tick the cluster(s) of `runId` and say where the run stands. A cluster whose round another
   * process is doing (a daemon, another `rpo run`) is not an error: the run's state is read from
   * the store, as that process left it.
   */
  async tick(runId: string): Promise<TickResult> {
    const record = await this.#options.store.getRun(runId)
    if (record.state !== 'running') return idle(runId, record.state, 0)
    let mine = null as TickResult | null
    let commands = 0
    for (const name of clustersOf(record)) {
      const engine = name === this.#options.clusterName ? this : await this.#options.peer?.(name)
      if (!engine) continue
      const round = await engine.tickCluster()
      commands += round.schedulerCommands
      const result = round.runs.find((r) => r.runId === runId)
      if (result)
        mine = {
          ...result,
          submitted: result.submitted + (mine?.submitted ?? 0),
          changes: result.changes + (mine?.changes ?? 0),
        }
    }
    if (mine) return { ...mine, schedulerCommands: commands }
    return idle(runId, (await this.#options.store.getRun(runId)).state, commands)
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
          ? { charge: (run, snapshot, observations) => budget.charge([{ run, snapshot, observations }], this.#clock()) }
          : {}),
      },
      runId,
      mode,
      options,
    )
    if (result.stopped === null) return { stopped: 0, state: result.state }
    await this.#leases.release(runLease(runId))
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
}
function idle(runId: string, state: RunState, schedulerCommands: number): TickResult {
  return { runId, state, submitted: 0, changes: 0, schedulerCommands }
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

function formatStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
}
