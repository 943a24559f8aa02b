/**
 * The impure tick: load a snapshot → observe (poll the adapter) → decide (the pure planner) →
 * persist the decisions (attempt intents first) → act (submit/cancel through the adapter) → emit
 * events. A crash between any two steps loses nothing: an attempt's submission key is written before
 * the scheduler is called, and on the next tick a key without a job id is looked up, never resubmitted
 * blindly.
 */
import { randomUUID } from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import type { BudgetGate } from '../budget/budget-service.js'
import type { LoadedPipeline } from '../config/load-pipeline.js'
import { isRpoError, RpoError, StoreError } from '../core/errors.js'
import { isTerminalJobState, type JobState } from '../core/job/job-state.js'
import type { ResolvedCheckpoint, ResolvedTask } from '../core/pipeline/resolved-pipeline.js'
import { explainUnsatisfiable } from '../core/scheduling/capacity.js'
import { type PlannedEvent, type PlannedSubmission, type PlanOptions, planTick } from '../core/scheduling/plan-tick.js'
import type {
  AttemptObservation,
  AttemptSnapshot,
  Capacity,
  RunSnapshot,
  RunState,
  TaskSnapshot,
} from '../core/scheduling/run-snapshot.js'
import { newTaskSnapshot, TERMINAL_RUN_STATES } from '../core/scheduling/run-snapshot.js'
import { currentUser } from '../current-user.js'
import {
  asNativeJobId,
  asSubmissionKey,
  type Inventory,
  type JobSubmission,
  type SchedulerAdapter,
} from '../scheduler/scheduler-adapter.js'
import type { RunRecord, RunStore } from '../store/run-store.js'
import { checkpointEventsForAttempt } from './checkpoint-report.js'
import { type CompiledJob, compilePipeline } from './compile-run.js'
import { EngineEvents } from './engine-events.js'
import { buildJobSubmission, checkpointDir } from './job-submission.js'
import { stopRun } from './stop-run.js'

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

function isDeadLocalOwner(owner: string): boolean {
  const [host, pid] = owner.split(':')
  if (host !== os.hostname() || !pid || !/^\d+$/.test(pid)) return false
  try {
    process.kill(Number(pid), 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

export class Engine {
  readonly events = new EngineEvents()
  readonly #options: EngineOptions
  readonly #clock: () => number
  readonly owner: string
  #inventory: Inventory | null = null
  readonly #leased = new Set<string>()
  /** Attempts already warned before their time limit (where rpo sends the warning itself). */
  readonly #warned = new Set<string>()

  constructor(options: EngineOptions) {
    this.#options = options
    this.#clock = options.clock ?? Date.now
    this.owner = options.owner ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  }

  get store(): RunStore {
    return this.#options.store
  }

  get adapter(): SchedulerAdapter {
    return this.#options.adapter
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
    if (run.state === 'interrupted') await this.#setRunState(run.id, 'interrupted', 'running')
    this.events.emit('run:resumed', { runId: run.id })
    return { run: await store.getRun(run.id), resumed: true }
  }

  /** One observe → decide → act cycle for a run. */
  async tick(runId: string): Promise<TickResult> {
    const store = this.#options.store
    const leaseName = `run:${runId}`
    const holder = await this.#takeLease(leaseName, this.#options.leaseMs ?? DEFAULT_LEASE_MS)
    if (holder !== null) {
      throw new StoreError(
        'lease-held',
        `run ${runId} is being driven by another rpo process (${holder}); try again shortly`,
      )
    }
    this.#leased.add(leaseName)
    const { run, snapshot } = await store.loadSnapshot(runId)
    if (TERMINAL_RUN_STATES.has(snapshot.state) || snapshot.state === 'interrupted') {
      return { runId, state: snapshot.state, submitted: 0, changes: 0, schedulerCommands: 0 }
    }
    const adapter = this.#options.adapter
    const commandsBefore = adapter.commandsRun ?? 0
    const { observations } = await this.#observe(run, snapshot)
    const budget = this.#options.budget
    if (budget)
      await this.#budgetStep(runId, 'charging usage', () => budget.charge(run, snapshot, observations, this.#clock()))
    const admit = budget
      ? await this.#budgetStep(runId, 'checking budgets', () =>
          budget.admission(run, adapter.capabilities.hold, this.#clock()),
        )
      : null
    // two processes admitting work of one project at once could together cross its cap
    const budgetLease = admit && run.project ? `budget:${run.project}` : null
    if (budgetLease) await this.#waitForLease(budgetLease)
    try {
      return await this.#planAndAct(run, snapshot, observations, admit ?? undefined, leaseName, commandsBefore)
    } finally {
      if (budgetLease) await store.releaseLease(budgetLease, this.owner)
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
      now: this.#clock(),
      capacity: this.#options.capacity,
      maxActive: this.#options.maxActive ?? 10_000,
      lostAfterMissedPolls: this.#options.lostAfterMissedPolls ?? 3,
      nativeDependencies: this.#options.adapter.capabilities.nativeDependencies,
      schedulerThrottles: this.#options.adapter.capabilities.arrays,
      wholeArrayDependencies: this.#options.adapter.capabilities.wholeArrayDependencies ?? false,
      ...(admit ? { admit } : {}),
    })
    const submittedAt = iso(this.#clock())
    const newAttempts: AttemptSnapshot[] = plan.submissions
      .filter((s) => !s.resend)
      .map((s) => ({
        taskId: s.taskId,
        attempt: s.attempt,
        submissionKey: s.submissionKey,
        jobId: null,
        state: 'submitting',
        nativeState: null,
        exitCode: null,
        reason: null,
        submittedAt,
        startedAt: null,
        endedAt: null,
        missedPolls: 0,
        nodes: [],
        heldReason: s.hold ?? null,
      }))
    const usage = new Map(
      observations.flatMap((o) =>
        o.kind === 'observed' && o.job.usage ? [[o.submissionKey, o.job.usage] as const] : [],
      ),
    )
    const attemptUpdates = new Map(
      [...plan.attemptUpdates].map(([key, patch]) => [
        key,
        usage.has(key) ? { ...patch, usage: usage.get(key) ?? null } : patch,
      ]),
    )
    const applied = await store.applyPlan(runId, snapshot.state, {
      taskUpdates: plan.taskUpdates,
      attemptUpdates,
      newTasks: plan.newTasks,
      newAttempts,
      events: plan.events,
      runState: plan.runState,
      now: submittedAt,
    })
    if (!applied) {
      const current = await store.getRun(runId)
      return {
        runId,
        state: current.state,
        submitted: 0,
        changes: 0,
        schedulerCommands: (adapter.commandsRun ?? 0) - commandsBefore,
      }
    }
    this.#emitPlanned(runId, plan.events)
    const doomed = plan.cancellations.flatMap((c) => (c.jobId ? [asNativeJobId(c.jobId)] : []))
    if (doomed.length > 0) {
      // best effort: a job that already left the queue needs no cancel, and the next tick re-checks
      await this.#options.adapter.cancel(doomed).catch((error: unknown) =>
        this.events.emit('poll:error', {
          runId,
          code: isRpoError(error) ? error.code : 'internal',
          message: `cancelling ${doomed.join(',')}: ${String(error)}`,
        }),
      )
    }
    let submitted = 0
    if (plan.submissions.length > 0) {
      const tasks = new Map(snapshot.tasks.map((t) => [t.id, t]))
      for (const instance of plan.newTasks) {
        tasks.set(instance.id, newTaskSnapshot(instance))
      }
      // submit with what this tick decided: a resume's count, escalated memory, excluded nodes
      for (const [id, patch] of plan.taskUpdates) {
        const task = tasks.get(id)
        if (task) tasks.set(id, { ...task, ...patch })
      }
      const knownJobIds = new Map(
        snapshot.latestAttempts.flatMap((a) => (a.jobId ? [[a.submissionKey, a.jobId] as const] : [])),
      )
      // a resend after a crash goes out held if it was to be held
      const heldReasons = new Map(
        snapshot.latestAttempts.flatMap((a) => (a.heldReason ? [[a.submissionKey, a.heldReason] as const] : [])),
      )
      submitted = await this.#submit(run, tasks, knownJobIds, heldReasons, plan.submissions)
    }
    if (plan.runState !== snapshot.state && TERMINAL_RUN_STATES.has(plan.runState)) {
      this.events.emit('run:finished', { runId, state: plan.runState })
      await store.releaseLease(leaseName, this.owner)
    }
    await this.#warnBeforeLimit(run, snapshot, plan.attemptUpdates)
    await this.#reportCheckpoints(run, snapshot, plan.attemptUpdates)
    const budget = this.#options.budget
    if (budget) {
      const outcome = await this.#budgetStep(runId, 'enforcing budgets', () =>
        budget.enforce(this.#options.clusterName, adapter, this.#clock()),
      )
      // one action the scheduler refused (a hold, a release) must not stop the others, nor go unsaid
      for (const failure of outcome?.failures ?? []) {
        this.events.emit('poll:error', { runId, code: 'command-failed', message: `enforcing budgets: ${failure}` })
      }
    }
    const commands = (adapter.commandsRun ?? 0) - commandsBefore
    await store.recordTick(runId, iso(this.#clock()), commands)
    this.events.emit('sync:tick', { runId, state: plan.runState, schedulerCommands: commands })
    const changes = plan.taskUpdates.size + plan.attemptUpdates.size
    return { runId, state: plan.runState, submitted, changes, schedulerCommands: commands }
  }

  /**
   * Where the scheduler does not warn a checkpointing job before its time limit (PBS), rpo does:
   * the task's signal, `leadTime` before the limit by rpo's clock, once per attempt.
   */
  async #warnBeforeLimit(
    run: RunRecord,
    snapshot: RunSnapshot,
    updates: ReadonlyMap<string, Partial<AttemptSnapshot>>,
  ): Promise<void> {
    const adapter = this.#options.adapter
    if (adapter.capabilities.signalsBeforeLimit || !adapter.capabilities.signal || !adapter.signal) return
    const now = this.#clock()
    for (const { attempt, definition, checkpoint } of checkpointingAttempts(run, snapshot, updates)) {
      if (attempt.state !== 'running' || !attempt.startedAt || !attempt.jobId) continue
      if (this.#warned.has(attempt.submissionKey)) continue
      const warnAt =
        Date.parse(attempt.startedAt) + (definition.resources.timeLimitSeconds - checkpoint.leadSeconds) * 1000
      if (now < warnAt) continue
      this.#warned.add(attempt.submissionKey)
      try {
        await adapter.signal([asNativeJobId(attempt.jobId)], checkpoint.signal)
        await this.#options.store.appendEvent(
          run.id,
          {
            type: 'task:checkpoint-requested',
            taskId: attempt.taskId,
            message: `time limit in ${checkpoint.leadSeconds}s: asked job ${attempt.jobId} to checkpoint with SIG${checkpoint.signal}`,
            data: { jobId: attempt.jobId, attempt: attempt.attempt, signal: checkpoint.signal },
          },
          iso(now),
        )
      } catch (error) {
        this.events.emit('poll:error', {
          runId: run.id,
          code: isRpoError(error) ? error.code : 'internal',
          message: `warning job ${attempt.jobId} before its time limit: ${error instanceof Error ? error.message : String(error)}`,
        })
      }
    }
  }

  /** When a checkpointing attempt ends, what its job said about its checkpoints (checkpoint-report.ts). */
  async #reportCheckpoints(
    run: RunRecord,
    snapshot: RunSnapshot,
    updates: ReadonlyMap<string, Partial<AttemptSnapshot>>,
  ): Promise<void> {
    for (const { before, attempt, checkpoint } of checkpointingAttempts(run, snapshot, updates)) {
      // ended in this tick: it was not ended before it
      if (!isTerminalJobState(attempt.state as JobState) || isTerminalJobState(before.state as JobState)) continue
      const file = path.posix.join(checkpointDir(this.#options, run.id, attempt.taskId, checkpoint), 'events.jsonl')
      try {
        const text = await this.#options.readFile(file)
        if (text === null) continue
        const at = iso(this.#clock())
        for (const event of checkpointEventsForAttempt(attempt.taskId, attempt.attempt, text)) {
          await this.#options.store.appendEvent(run.id, event, at)
          this.events.emit('task:checkpoint', {
            runId: run.id,
            taskId: event.taskId,
            message: event.message,
            data: event.data,
          })
        }
      } catch (error) {
        this.events.emit('poll:error', {
          runId: run.id,
          code: isRpoError(error) ? error.code : 'internal',
          message: `reading ${file}: ${error instanceof Error ? error.message : String(error)}`,
        })
      }
    }
  }

  /** A budget step that fails (store, scheduler) is reported and skipped: budgets never stop a run's tick. */
  async #budgetStep<T>(runId: string, what: string, step: () => Promise<T>): Promise<T | null> {
    try {
      return await step()
    } catch (error) {
      this.events.emit('poll:error', {
        runId,
        code: isRpoError(error) ? error.code : 'internal',
        message: `${what}: ${error instanceof Error ? error.message : String(error)}`,
      })
      return null
    }
  }

  /** Take a short store lease, waiting (up to 30 s) while another process holds it. */
  /**
   * Claim a store lease for `leaseMs`; a holder on this machine whose process is gone (a killed rpo)
   * will never renew, so its lease is taken over at once. Returns null when claimed, else the holder.
   */
  async #takeLease(name: string, leaseMs: number): Promise<string | null> {
    const store = this.#options.store
    const now = this.#clock()
    if (await store.acquireLease(name, this.owner, iso(now), iso(now + leaseMs))) return null
    const holder = await store.leaseHolder(name, iso(now))
    if (holder !== null && isDeadLocalOwner(holder)) await store.releaseLease(name, holder)
    if (await store.acquireLease(name, this.owner, iso(now), iso(now + leaseMs))) return null
    return holder ?? 'unknown'
  }

  async #waitForLease(name: string): Promise<void> {
    const deadline = Date.now() + 30_000
    for (;;) {
      const holder = await this.#takeLease(name, 60_000)
      if (holder === null) return
      if (Date.now() > deadline) {
        throw new StoreError(
          'lease-held',
          `the budget of this run's project is being decided by ${holder}; try again shortly`,
        )
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  async #observe(run: RunRecord, snapshot: RunSnapshot): Promise<{ observations: AttemptObservation[] }> {
    const activeTasks = new Set(snapshot.tasks.filter((t) => t.state === 'active').map((t) => t.id))
    const live = snapshot.latestAttempts.filter(
      (a) => activeTasks.has(a.taskId) && !isTerminalJobState(a.state as JobState),
    )
    const withJob = live.filter((a) => a.jobId !== null)
    const unsent = live.filter((a) => a.jobId === null)
    const observations: AttemptObservation[] = []
    try {
      if (unsent.length > 0) {
        const found = await this.#options.adapter.findBySubmissionKey(
          unsent.map((a) => asSubmissionKey(a.submissionKey)),
        )
        for (const attempt of unsent) {
          const jobId = found.get(asSubmissionKey(attempt.submissionKey))
          observations.push(
            jobId
              ? { kind: 'found', submissionKey: attempt.submissionKey, jobId }
              : { kind: 'never-submitted', submissionKey: attempt.submissionKey },
          )
        }
      }
      if (withJob.length > 0) {
        const polled = await this.#options.adapter.poll(withJob.map((a) => asNativeJobId(a.jobId as string)))
        const byId = new Map(polled.map((o) => [o.jobId as string, o]))
        for (const attempt of withJob) {
          const job = byId.get(attempt.jobId as string)
          if (!job) {
            observations.push({ kind: 'missing', submissionKey: attempt.submissionKey })
            continue
          }
          const outputs =
            job.state === 'succeeded' ? await this.#readOutputs(attempt.submissionKey) : { outputs: null, error: null }
          observations.push({
            kind: 'observed',
            submissionKey: attempt.submissionKey,
            job,
            outputs: outputs.outputs,
            outputsError: outputs.error,
          })
        }
      }
    } catch (error) {
      // an outage fails the poll, never the jobs: plan on without observations and try again next tick
      const code = isRpoError(error) ? error.code : 'internal'
      this.events.emit('poll:error', {
        runId: run.id,
        code,
        message: error instanceof Error ? error.message : String(error),
      })
      return { observations: [] }
    }
    return { observations }
  }

  async #readOutputs(
    submissionKey: string,
  ): Promise<{ outputs: Record<string, unknown> | null; error: string | null }> {
    const file = path.posix.join(this.#options.jobsRoot, submissionKey, 'outputs.json')
    const text = await this.#options.readFile(file)
    if (text === null || text.trim() === '') return { outputs: null, error: null }
    try {
      const value = JSON.parse(text) as unknown
      if (value && typeof value === 'object' && !Array.isArray(value))
        return { outputs: value as Record<string, unknown>, error: null }
      return {
        outputs: null,
        error: `$RPO_OUTPUTS (${file}) must hold a JSON object, got ${Array.isArray(value) ? 'a list' : typeof value}`,
      }
    } catch (error) {
      return { outputs: null, error: `$RPO_OUTPUTS (${file}) is not valid JSON: ${(error as Error).message}` }
    }
  }

  async #submit(
    run: RunRecord,
    tasks: ReadonlyMap<string, TaskSnapshot>,
    knownJobIds: ReadonlyMap<string, string>,
    heldReasons: ReadonlyMap<string, string>,
    submissions: readonly PlannedSubmission[],
  ): Promise<number> {
    const definitions = new Map(run.pipeline.tasks.map((t) => [t.name, t]))
    const jobs: JobSubmission[] = submissions.map((s) => {
      const task = tasks.get(s.taskId) as TaskSnapshot
      const job = this.#jobSubmission(
        run,
        task,
        definitions.get(task.group) as ResolvedTask,
        s.attempt,
        s.submissionKey,
      )
      const dependsOn = s.dependsOn.map((d) => {
        const jobId = knownJobIds.get(d.submissionKey)
        return {
          submissionKey: asSubmissionKey(d.submissionKey),
          jobId: jobId ? asNativeJobId(jobId) : null,
          condition: d.condition,
        }
      })
      const hold = s.hold ?? (s.resend ? heldReasons.get(s.submissionKey) : undefined)
      return { ...job, dependsOn, ...(hold ? { hold: true } : {}) }
    })
    const byKey = new Map(jobs.map((j) => [j.submissionKey as string, j]))
    try {
      const results = await this.#options.adapter.submit(jobs)
      // fault injection for the crash-safety tests: die after the scheduler took the jobs and before
      // their ids are recorded — the worst moment for exactly-once submission
      if (process.env.RPO_FAULT_INJECT === 'crash-after-submit') process.kill(process.pid, 'SIGKILL')
      const now = iso(this.#clock())
      await this.#options.store.updateAttempts(
        new Map(
          results.map((r) => [
            r.submissionKey as string,
            r.kind === 'submitted'
              ? { jobId: r.jobId as string, state: 'pending' as const }
              : { state: 'failed' as const, reason: `rejected by the scheduler: ${r.message}`, endedAt: now },
          ]),
        ),
      )
      let submitted = 0
      for (const result of results) {
        const job = byKey.get(result.submissionKey) as JobSubmission
        if (result.kind === 'rejected') {
          this.events.emit('submit:error', {
            runId: run.id,
            code: 'job-rejected',
            message: `${job.taskId}: ${result.message}`,
          })
          continue
        }
        submitted++
        this.events.emit('task:submitted', {
          runId: run.id,
          taskId: job.taskId,
          message: `submitted as ${result.jobId}`,
          jobId: result.jobId,
          attempt: job.attempt,
        })
      }
      return submitted
    } catch (error) {
      // the outcome is unknown: the attempts stay `submitting` and the next tick looks their keys up
      const code = isRpoError(error) ? error.code : 'internal'
      this.events.emit('submit:error', {
        runId: run.id,
        code,
        message: error instanceof Error ? error.message : String(error),
      })
      if (isRpoError(error) && error.code === 'job-rejected') {
        await this.#rejectAttempts(jobs, error.message)
      }
      return 0
    }
  }

  async #rejectAttempts(jobs: readonly JobSubmission[], message: string): Promise<void> {
    const now = iso(this.#clock())
    await this.#options.store.updateAttempts(
      new Map(
        jobs.map((j) => [
          j.submissionKey as string,
          { state: 'failed' as const, reason: `rejected by the scheduler: ${message}`, endedAt: now },
        ]),
      ),
    )
  }

  #jobSubmission(
    run: RunRecord,
    task: TaskSnapshot,
    definition: ResolvedTask,
    attempt: number,
    key: string,
  ): JobSubmission {
    return buildJobSubmission(this.#options, { run, task, definition, attempt, submissionKey: key })
  }

  /**
   * Stop a run's work. `interrupt` (Ctrl-C) puts unfinished tasks back to pending so a later
   * `rpo run` continues; `cancel` ends the run for good. See stop-run.ts.
   */
  async stopRun(
    runId: string,
    mode: 'interrupt' | 'cancel',
    options: { waitMs?: number } = {},
  ): Promise<{ stopped: number }> {
    const result = await stopRun(
      { store: this.#options.store, adapter: this.#options.adapter, now: () => iso(this.#clock()) },
      runId,
      mode,
      options,
    )
    if (result.stopped === null) return { stopped: 0 }
    await this.#options.store.releaseLease(`run:${runId}`, this.owner)
    this.events.emit(mode === 'interrupt' ? 'run:interrupted' : 'run:cancelled', { runId, message: result.message })
    return { stopped: result.stopped }
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
    for (const name of this.#leased) await this.#options.store.releaseLease(name, this.owner).catch(() => undefined)
    this.#leased.clear()
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

/** The latest attempts of the run's checkpointing tasks, as they are before and after this tick's updates. */
function checkpointingAttempts(
  run: RunRecord,
  snapshot: RunSnapshot,
  updates: ReadonlyMap<string, Partial<AttemptSnapshot>>,
): { before: AttemptSnapshot; attempt: AttemptSnapshot; definition: ResolvedTask; checkpoint: ResolvedCheckpoint }[] {
  const definitions = new Map(run.pipeline.tasks.map((t) => [t.name, t]))
  const groups = new Map(snapshot.tasks.map((t) => [t.id, t.group]))
  return snapshot.latestAttempts.flatMap((before) => {
    const definition = definitions.get(groups.get(before.taskId) ?? '')
    if (!definition?.checkpoint) return []
    const attempt = { ...before, ...updates.get(before.submissionKey) }
    return [{ before, attempt, definition, checkpoint: definition.checkpoint }]
  })
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

function formatStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
}
