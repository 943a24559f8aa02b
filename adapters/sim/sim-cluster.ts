/**
 * The simulated cluster: nodes, a queue and jobs, moved by a virtual clock. It owns the job
 * records, scheduling passes (priority order, dependencies, first-fit placement) and the control
 * operations a batch scheduler offers; what a job does once started lives in sim-job-runner.ts.
 * Everything is synchronous and deterministic: no real time, no randomness, insertion-ordered maps.
 * A pass itself is sim-scheduling-pass.ts; the node listing sim-inventory.ts.
 */
import { RpoError } from '../../src/core/errors.js'
import { isTerminalJobState } from '../../src/core/job/job-state.js'
import {
  asNativeJobId,
  type Inventory,
  type JobObservation,
  type JobSubmission,
  type NativeJobId,
  type SubmissionKey,
  type SubmitResult,
} from '../../src/scheduler/scheduler-adapter.js'
import { admitSubmission } from './sim-admission.js'
import { type RunUntilIdleOptions, SimClock, type SimTimerHandle } from './sim-clock.js'
import type { SimEvent } from './sim-event-log.js'
import { inventoryOf } from './sim-inventory.js'
import { type SimJob, type SimJobView, secondsToMs, viewJob } from './sim-job.js'
import { SimJobRunner, type SimNodeState } from './sim-job-runner.js'
import { observeJob } from './sim-observation.js'
import type { SimNodeSpec } from './sim-placement.js'
import { SimQueue } from './sim-queue.js'
import { doomedJobs, schedulingPass } from './sim-scheduling-pass.js'
import { type SimSample, SimTimeline, sampleCluster, type WaitingShape } from './sim-timeline.js'
import { type SimWorkloadModel, workloadFromEnv } from './sim-workload.js'

export interface SimClusterOptions {
  /** In placement order: first fit means the first listed node that fits. */
  readonly nodes: readonly SimNodeSpec[]
  /** Share a clock with the scenario driver; a fresh one at t=0 otherwise. */
  readonly clock?: SimClock
  /** Each submission's true work. @default workloadFromEnv (RPO_SIM_* variables) */
  readonly workload?: SimWorkloadModel
  /** Duration of a job that declares none, for the default workload model. @default 60 */
  readonly defaultDurationSeconds?: number
  /** Partition of jobs that name none; when absent such jobs may use every node. */
  readonly defaultPartition?: string
  /**
   * `first-fit` (default): a job that does not fit is passed over and lower-priority jobs that fit
   * start (greedy backfill without reservations). `strict`: nothing starts behind a job that does not fit.
   * `easy-backfill`: Slurm's sched/backfill in its EASY form — the first job that does not fit gets a
   * reservation at the earliest time running jobs' time limits free enough nodes for it, and a later
   * job starts only if it fits now and cannot delay that reservation (sim-backfill.ts).
   */
  readonly queuePolicy?: 'first-fit' | 'strict' | 'easy-backfill'
  /** Exit codes that put the job back in the queue by itself (Slurm's RequeueExit, e.g. [85]). */
  readonly requeueExitCodes?: readonly number[]
  /** A requeued job may start again only this long after (Slurm holds it back with reason BeginTime). @default 0 */
  readonly requeueDelaySeconds?: number
  /** @default 1 */
  readonly firstJobId?: number
  /**
   * Called at the start of every scheduling pass, before the queue is walked: an orchestrator's
   * tick that reorders (setNice), holds or releases queued jobs so that this pass already follows
   * it (a trace replay's policy, src/simulate). Its own control calls start no extra pass.
   */
  readonly beforePass?: (cluster: SimCluster) => void
  /** Reproduce Slurm 22.05's quirk that renicing a held job releases it (see slurm-commands.ts). @default false */
  readonly renicingReleasesHold?: boolean
}

export class SimCluster {
  readonly clock: SimClock
  readonly #options: SimClusterOptions
  readonly #nodes: SimNodeState[]
  readonly #jobs = new Map<string, SimJob>()
  /** Latest job per submission key (a resend gets a new job, as with sbatch). */
  readonly #byKey = new Map<string, NativeJobId>()
  /** Pending and held jobs, in priority order. */
  readonly #queue = new SimQueue()
  readonly #events: SimEvent[] = []
  readonly #timeline = new SimTimeline()
  readonly #runner: SimJobRunner
  #nextId: number
  #passDue = false
  #passTimer: SimTimerHandle | null = null

  constructor(options: SimClusterOptions) {
    this.#options = options
    this.clock = options.clock ?? new SimClock()
    this.#nextId = options.firstJobId ?? 1
    const names = new Set<string>()
    this.#nodes = options.nodes.map((spec) => {
      if (names.has(spec.name)) throw new RpoError('config-invalid', `sim cluster: node "${spec.name}" is listed twice`)
      names.add(spec.name)
      if (!(Number.isInteger(spec.cpus) && spec.cpus > 0) || !(spec.memoryMb > 0)) {
        throw new RpoError('config-invalid', `sim cluster: node "${spec.name}" needs cpus ≥ 1 and memoryMb > 0`)
      }
      return { spec, up: true, usedCpus: 0, usedMemoryMb: 0, usedGpus: new Map<string, number>() }
    })
    if (this.#nodes.length === 0) throw new RpoError('config-invalid', 'sim cluster: no nodes')
    this.#runner = new SimJobRunner({
      clock: this.clock,
      nodes: this.#nodes,
      log: (event) => this.#log(event),
      requeueExitCodes: new Set(options.requeueExitCodes ?? []),
      onRunEnded: (job, requeued) => {
        if (requeued) this.#queueAgain(job)
        this.#requestPass()
      },
    })
    this.#recordSample([])
  }

  now(): number {
    return this.clock.now()
  }

  advanceTo(timeMs: number): void {
    this.clock.advanceTo(timeMs)
  }

  advanceBy(ms: number): void {
    this.clock.advanceBy(ms)
  }

  /** Run until nothing more is scheduled to happen (running jobs have ended); returns the time. */
  runUntilIdle(options?: RunUntilIdleOptions): number {
    return this.clock.runUntilIdle(options)
  }

  /** Job state changes so far (starts, ends, requeues, holds, releases): waiters compare it. */
  get changeCount(): number {
    return this.#runner.changes
  }

  /**
   * Queue a batch at the current time, in order; a dependency with a null job id names a job of
   * the same batch by submission key. Refusals are per job, in the words sbatch would use.
   */
  submit(jobs: readonly JobSubmission[]): SubmitResult[] {
    const inBatch = new Map<string, NativeJobId>()
    const results = jobs.map((submission): SubmitResult => {
      const admitted = this.#admit(submission, inBatch)
      const submissionKey = submission.submissionKey
      if (typeof admitted === 'string') {
        this.#log({ kind: 'reject', jobId: null, node: null, detail: `${submissionKey}: ${admitted}` })
        return { kind: 'rejected', submissionKey, message: admitted }
      }
      inBatch.set(submissionKey, admitted.id)
      return { kind: 'submitted', submissionKey, jobId: admitted.id }
    })
    this.#settle()
    return results
  }

  #admit(submission: JobSubmission, inBatch: ReadonlyMap<string, NativeJobId>): SimJob | string {
    const job = admitSubmission(submission, {
      nodes: this.#nodes.map((n) => n.spec),
      defaultPartition: this.#options.defaultPartition ?? null,
      workload: this.#options.workload ?? ((job) => workloadFromEnv(job, this.#options.defaultDurationSeconds)),
      upstream: (dep) => {
        const id = dep.jobId ?? inBatch.get(dep.submissionKey) ?? null
        return id !== null && this.#jobs.has(id) ? id : null
      },
      jobId: asNativeJobId(String(this.#nextId)),
      submitSeq: this.#jobs.size,
      nowMs: this.now(),
    })
    if (typeof job === 'string') return job
    this.#nextId++
    this.#jobs.set(job.id, job)
    this.#byKey.set(submission.submissionKey, job.id)
    this.#queue.add(job)
    this.#log({ kind: 'submit', jobId: job.id, node: null, detail: submission.submissionKey })
    this.#requestPass()
    return job
  }

  /** Pending and held jobs end `cancelled` at once; running ones are stopped; ended ones are left alone. */
  cancel(jobIds: readonly NativeJobId[]): void {
    this.#each(jobIds, (job) => {
      if (job.state === 'running') this.#runner.endRun(job, { state: 'cancelled', nativeState: 'CANCELLED' })
      else if (this.#queue.has(job)) this.#endQueued(job, 'CANCELLED', null)
    })
  }

  /** Pending jobs only: running and ended jobs are left as they are. */
  hold(jobIds: readonly NativeJobId[]): void {
    this.#each(jobIds, (job) => {
      if (job.state === 'pending') this.#setHeld(job, true)
    })
  }

  release(jobIds: readonly NativeJobId[]): void {
    this.#each(jobIds, (job) => {
      if (job.state === 'held') this.#setHeld(job, false)
    })
  }

  /**
   * Back to the queue (`scontrol requeue[hold]`): a running job is stopped and loses the work since
   * its last checkpoint; an ended job (e.g. after its exit 85) is queued again; a pending one is only
   * held when asked. A cancelled job cannot be requeued.
   */
  requeue(jobIds: readonly NativeJobId[], options: { hold?: boolean } = {}): void {
    const mode = options.hold ? 'held' : 'pending'
    const refused: string[] = []
    this.#each(jobIds, (job) => {
      if (job.state === 'running') {
        this.#runner.endRun(job, { state: 'requeued', nativeState: 'REQUEUED' }, mode)
      } else if (job.state === 'cancelled') {
        refused.push(job.id)
      } else if (isTerminalJobState(job.state)) {
        this.#runner.requeueEnded(job, mode)
      } else if (mode === 'held' && job.state === 'pending') {
        this.#setHeld(job, true)
      }
    })
    if (refused.length > 0) {
      throw new RpoError('command-failed', `sim: job(s) ${refused.join(', ')} were cancelled and cannot be requeued`)
    }
  }

  /**
   * Deliver a signal to running jobs (`scancel --signal`): the checkpoint signal makes a job that
   * speaks the protocol save and exit 85; other signals end it. Queued and ended jobs ignore it.
   */
  signal(jobIds: readonly NativeJobId[], signal: string): void {
    this.#each(jobIds, (job) => {
      if (job.state === 'running') this.#runner.deliverSignal(job, signal)
    })
  }

  /** Queue order: lower nice first, then submission order (Slurm's `scontrol update Nice=`). */
  setNice(jobIds: readonly NativeJobId[], nice: number): void {
    if (!Number.isInteger(nice)) throw new RpoError('usage', `sim: nice must be a whole number, got ${nice}`)
    this.#each(jobIds, (job) => {
      if (isTerminalJobState(job.state)) return
      this.#queue.renice(job, nice)
      this.#log({ kind: 'nice', jobId: job.id, node: null, detail: String(nice) })
      if (job.state === 'held' && this.#options.renicingReleasesHold) this.#setHeld(job, false)
    })
  }

  /** A node goes down: its running jobs end `node_fail` (requeueable ones go back to the queue). */
  failNode(name: string): void {
    const node = this.#node(name)
    if (!node.up) return
    node.up = false
    this.#log({ kind: 'node-down', jobId: null, node: name, detail: '' })
    for (const job of this.#runner.runningOn(name)) {
      this.#runner.endRun(
        job,
        { state: 'node_fail', nativeState: 'NODE_FAIL', reason: 'NodeFail' },
        job.workload.requeueable ? 'pending' : null,
      )
    }
    this.#requestPass()
    this.#settle()
  }

  restoreNode(name: string): void {
    const node = this.#node(name)
    if (node.up) return
    node.up = true
    this.#log({ kind: 'node-up', jobId: null, node: name, detail: '' })
    this.#requestPass()
    this.#settle()
  }

  job(jobId: string): SimJobView | undefined {
    const job = this.#jobs.get(jobId)
    return job ? viewJob(job, this.now(), this.#runner.checkpointedMs(job)) : undefined
  }

  /** Every job ever submitted, in submission order. */
  jobs(): SimJobView[] {
    return [...this.#jobs.values()].map((job) => viewJob(job, this.now(), this.#runner.checkpointedMs(job)))
  }

  /** Observations of the jobs it knows, in the order asked; unknown ids are left out. */
  observe(jobIds: readonly NativeJobId[]): JobObservation[] {
    return jobIds.flatMap((id) => {
      const view = this.job(id)
      return view ? [observeJob(view, this.now())] : []
    })
  }

  findBySubmissionKey(keys: readonly SubmissionKey[]): Map<SubmissionKey, NativeJobId> {
    const found = new Map<SubmissionKey, NativeJobId>()
    for (const key of keys) {
      const id = this.#byKey.get(key)
      if (id !== undefined) found.set(key, id)
    }
    return found
  }

  inventory(): Inventory {
    return inventoryOf(this.#nodes)
  }

  /** The progress the checkpoints under `key` (a task's RPO_CHECKPOINT_DIR) hold, in seconds. */
  checkpointedSeconds(key: string): number {
    return this.#runner.storedCheckpointMs(key) / 1000
  }

  events(): readonly SimEvent[] {
    return this.#events
  }

  samples(): readonly SimSample[] {
    return this.#timeline.samples
  }

  #requestPass(): void {
    if (this.#passDue) return
    this.#passDue = true
    this.#passTimer = this.clock.at(
      this.now(),
      () => {
        this.#passDue = false
        this.#pass()
      },
      'schedule',
    )
  }

  /** Run what is due now (the pass a control operation asked for), as a scheduler reacts at once. */
  #settle(): void {
    this.clock.advanceTo(this.now())
  }

  #pass(): void {
    if (this.#options.beforePass) {
      this.#options.beforePass(this)
      // what the hook changed is seen by this very pass: no second one for it
      if (this.#passDue) {
        this.#passTimer?.cancel()
        this.#passDue = false
      }
    }
    this.#cancelDoomed()
    const waiting = schedulingPass({
      queue: this.#queue,
      nodes: this.#nodes,
      runner: this.#runner,
      nowMs: this.now(),
      policy: this.#options.queuePolicy ?? 'first-fit',
    })
    this.#recordSample(waiting)
  }

  /** Cancel queued jobs whose dependencies can no longer be met (--kill-on-invalid-dep), until none is left. */
  #cancelDoomed(): void {
    const stateOf = (id: NativeJobId) => this.#jobs.get(id)?.state
    for (;;) {
      const doomed = doomedJobs(this.#queue, stateOf)
      if (doomed.length === 0) return
      // a cancelled job may doom its own dependents: judge again
      for (const job of doomed) this.#endQueued(job, 'CANCELLED', 'DependencyNeverSatisfied')
    }
  }

  #recordSample(waiting: Iterable<WaitingShape>): void {
    this.#timeline.record(sampleCluster(this.now(), this.#nodes, waiting, this.#runner.runningCount))
  }

  #endQueued(job: SimJob, nativeState: 'CANCELLED', reason: string | null): void {
    this.#queue.remove(job)
    this.#runner.endUnstarted(job, { state: 'cancelled', nativeState, reason })
    this.#requestPass()
  }

  #queueAgain(job: SimJob): void {
    this.#queue.add(job)
    const delayMs = secondsToMs(this.#options.requeueDelaySeconds ?? 0)
    if (delayMs <= 0) return
    job.eligibleAtMs = this.now() + delayMs
    this.clock.at(job.eligibleAtMs, () => this.#requestPass(), `eligible ${job.id}`)
  }

  #setHeld(job: SimJob, held: boolean): void {
    job.state = held ? 'held' : 'pending'
    job.reason = held ? 'JobHeldUser' : 'Priority'
    this.#runner.noteChange()
    this.#log({ kind: held ? 'hold' : 'release', jobId: job.id, node: null, detail: '' })
    this.#requestPass()
  }

  /** Apply `action` to each known job, then let the scheduler react; unknown ids fail the call afterwards, as scontrol does. */
  #each(jobIds: readonly NativeJobId[], action: (job: SimJob) => void): void {
    const unknown: string[] = []
    for (const id of jobIds) {
      const job = this.#jobs.get(id)
      if (job) action(job)
      else unknown.push(id)
    }
    this.#requestPass()
    this.#settle()
    if (unknown.length > 0) throw new RpoError('command-failed', `sim: invalid job id(s): ${unknown.join(', ')}`)
  }

  #node(name: string): SimNodeState {
    const node = this.#nodes.find((n) => n.spec.name === name)
    if (!node) throw new RpoError('usage', `sim cluster: no node "${name}"`)
    return node
  }

  #log(event: Omit<SimEvent, 'atMs'>): void {
    this.#events.push({ atMs: this.now(), ...event })
  }
}
