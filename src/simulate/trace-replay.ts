/**
 * One policy's replay of a trace on the simulated cluster (adapters/sim): the trace's jobs are
 * submitted at their submit times on the virtual clock, each with its true run time as the
 * simulated work and that run time plus a minute as its time limit; before every scheduling pass
 * the policy (replay-policies.ts) renices the queue, and budgets hold the work of a project whose
 * GPU-hours would cross its cap. fifo runs on a strict queue (nothing passes a job that does not
 * fit), rpo and backfill on EASY backfill. Deterministic: same jobs and options, same outcome.
 */
import { SimCluster } from '../../adapters/sim/sim-cluster.js'
import type { SimJobView } from '../../adapters/sim/sim-job.js'
import type { SimNodeSpec } from '../../adapters/sim/sim-placement.js'
import type { JobSubmission, NativeJobId } from '../scheduler/scheduler-adapter.js'
import { asSubmissionKey } from '../scheduler/scheduler-adapter.js'
import { niceValues, type PolicyName, type QueuedJob } from './replay-policies.js'
import type { DeadlinedJob } from './trace-deadlines.js'

/** Trace time 0, for policy code that reads ISO instants. */
export const REPLAY_EPOCH_MS = Date.parse('2026-01-01T00:00:00.000Z')
/** The time limit over the true run time (Slurm needs a limit; EASY backfill trusts it). */
export const TIME_LIMIT_MARGIN_SECONDS = 60

export interface ReplayOptions {
  readonly policy: PolicyName
  readonly nodes: readonly SimNodeSpec[]
  /** GPU-hour caps per project over the replay (a what-if budget); absent = no cap. */
  readonly budgets?: ReadonlyMap<string, number>
  readonly shares?: ReadonlyMap<string, number>
  readonly importance?: ReadonlyMap<string, number>
  /**
   * The policy re-ranks the queue when jobs arrive, and otherwise at most this often (rpo's tick;
   * Slurm's PriorityCalcPeriod): a pass between uses the last ranking. @default 60
   */
  readonly rankEverySeconds?: number
  /** Stop the replay at this virtual time (seconds) with what is running and queued left so. */
  readonly stopAtSeconds?: number
  /** Called as jobs end: (ended, total). */
  readonly onProgress?: (ended: number, total: number) => void
}

export interface ReplayedJob {
  readonly job: DeadlinedJob
  /** Virtual ms since the trace start; null: never started (or never ended). */
  readonly startedMs: number | null
  readonly endedMs: number | null
  /** GPU devices it held. */
  readonly gpus: number
  /** The cluster refused it: no node could ever hold it (the message says why). */
  readonly rejected: string | null
}

export interface ReplayOutcome {
  readonly policy: PolicyName
  readonly jobs: readonly ReplayedJob[]
  readonly cluster: SimCluster
  /** Virtual ms of the first submission and of the last end. */
  readonly firstSubmitMs: number
  readonly lastEndMs: number
}

/** The request of a job on nodes of `gpusPerNode` GPUs: spread over as few nodes as its GPUs need. */
export function requestOf(job: DeadlinedJob, gpusPerNode: number): JobSubmission['resources'] {
  const nodes = job.gpus > gpusPerNode && gpusPerNode > 0 ? Math.ceil(job.gpus / gpusPerNode) : 1
  return {
    cpus: Math.max(1, Math.ceil(job.cpus / nodes)),
    memoryMb: Math.ceil(job.memoryMb / nodes),
    timeLimitSeconds: Math.ceil(job.durationSeconds) + TIME_LIMIT_MARGIN_SECONDS,
    gpus: job.gpus > 0 ? { count: Math.ceil(job.gpus / nodes), types: job.gpuType ? [job.gpuType] : [] } : null,
    nodes,
  }
}

function submissionOf(job: DeadlinedJob, gpusPerNode: number): JobSubmission {
  return {
    submissionKey: asSubmissionKey(`trace-${job.id}`),
    runId: 'trace',
    taskId: job.id,
    attempt: 1,
    command: 'trace job',
    workDir: '/sim',
    jobDir: '/sim',
    env: {},
    resources: requestOf(job, gpusPerNode),
    dependsOn: [],
    project: job.project,
  }
}

export function replayTrace(jobs: readonly DeadlinedJob[], options: ReplayOptions): ReplayOutcome {
  const ordered = [...jobs].sort((a, b) => a.submitSeconds - b.submitSeconds || a.line - b.line)
  const gpusPerNode = Math.max(0, ...options.nodes.map((n) => (n.gpus ?? []).reduce((sum, g) => sum + g.count, 0)))
  const byKey = new Map(ordered.map((job) => [`trace-${job.id}`, job]))
  const state = new ReplayBook(options)
  const cluster = new SimCluster({
    nodes: options.nodes,
    queuePolicy: options.policy === 'fifo' ? 'strict' : 'easy-backfill',
    workload: (submission) => ({
      durationSeconds: (byKey.get(submission.submissionKey) as DeadlinedJob).durationSeconds,
    }),
    beforePass: (sim) => state.beforePass(sim),
  })
  state.attach(cluster, byKey)
  const rejected = new Map<string, string>()
  let next = 0
  const total = ordered.length
  const stopMs = options.stopAtSeconds === undefined ? Infinity : options.stopAtSeconds * 1000
  while (next < total || cluster.clock.nextEventAt() !== null) {
    const arrival = next < total ? Math.round((ordered[next] as DeadlinedJob).submitSeconds * 1000) : Infinity
    const event = cluster.clock.nextEventAt() ?? Infinity
    if (Math.min(arrival, event) > stopMs) {
      cluster.advanceTo(stopMs)
      break
    }
    if (event < arrival) {
      cluster.advanceTo(event)
      state.progress()
      continue
    }
    cluster.advanceTo(arrival)
    const batch: DeadlinedJob[] = []
    while (next < total && Math.round((ordered[next] as DeadlinedJob).submitSeconds * 1000) === arrival) {
      batch.push(ordered[next++] as DeadlinedJob)
    }
    state.arriving(batch)
    const results = cluster.submit(batch.map((job) => submissionOf(job, gpusPerNode)))
    results.forEach((result, i) => {
      const job = batch[i] as DeadlinedJob
      if (result.kind === 'submitted') state.submitted(result.jobId, job)
      else rejected.set(job.id, result.kind === 'rejected' ? result.message : 'not submitted')
    })
    state.progress()
  }
  const views = new Map(cluster.jobs().map((view) => [view.submissionKey, view]))
  let lastEndMs = 0
  const replayed = ordered.map((job): ReplayedJob => {
    const view: SimJobView | undefined = views.get(`trace-${job.id}`)
    const startedMs = view?.runs[0]?.startedAtMs ?? null
    const endedMs = view && view.state !== 'pending' && view.state !== 'held' ? view.endedAtMs : null
    if (endedMs !== null && startedMs !== null) lastEndMs = Math.max(lastEndMs, endedMs)
    return {
      job,
      startedMs,
      endedMs: startedMs === null ? null : endedMs,
      gpus: view?.allocation.reduce((sum, a) => sum + a.gpus, 0) ?? 0,
      rejected: rejected.get(job.id) ?? null,
    }
  })
  return {
    policy: options.policy,
    jobs: replayed,
    cluster,
    firstSubmitMs: ordered.length > 0 ? Math.round((ordered[0] as DeadlinedJob).submitSeconds * 1000) : 0,
    lastEndMs,
  }
}

interface Running {
  readonly job: DeadlinedJob
  readonly startedMs: number
  readonly gpus: number
}

/**
 * What the policy knows between passes: the queued jobs, the running ones and the GPU-seconds each
 * project has used, kept up to date from the cluster's event log; and the budget holds it placed.
 */
class ReplayBook {
  readonly #options: ReplayOptions
  readonly #queued = new Map<NativeJobId, QueuedJob>()
  readonly #running = new Map<NativeJobId, Running>()
  readonly #byId = new Map<string, DeadlinedJob>()
  readonly #usedEnded = new Map<string, number>()
  readonly #nice = new Map<NativeJobId, number>()
  readonly #held = new Set<NativeJobId>()
  #cluster: SimCluster | null = null
  #rankedAtMs = Number.NEGATIVE_INFINITY
  #arrived = false
  #eventsRead = 0
  #ended = 0
  #total = 0
  #byKey: ReadonlyMap<string, DeadlinedJob> = new Map()

  constructor(options: ReplayOptions) {
    this.#options = options
  }

  /** `byKey`: every job by submission key, for the submit events the log shows before submit() returns ids. */
  attach(cluster: SimCluster, byKey: ReadonlyMap<string, DeadlinedJob>): void {
    this.#cluster = cluster
    this.#byKey = byKey
  }

  arriving(jobs: readonly DeadlinedJob[]): void {
    this.#total += jobs.length
  }

  submitted(jobId: NativeJobId, job: DeadlinedJob): void {
    this.#byId.set(jobId, job)
    // the pass that submit() ran already queued (or started) it: the event log says which
    this.#readEvents()
  }

  progress(): void {
    this.#options.onProgress?.(this.#ended, this.#total)
  }

  beforePass(cluster: SimCluster): void {
    this.#readEvents()
    const nowMs = cluster.now()
    const everyMs = (this.#options.rankEverySeconds ?? 60) * 1000
    if (!this.#arrived && nowMs - this.#rankedAtMs < everyMs) return
    this.#arrived = false
    this.#rankedAtMs = nowMs
    const queuedIds = [...this.#queued.keys()]
    if (queuedIds.length === 0) return
    const usage = this.#usage(nowMs)
    this.#applyBudgets(cluster, usage, nowMs)
    const queued = queuedIds.filter((id) => !this.#held.has(id))
    const list = queued.map((id) => this.#queued.get(id) as QueuedJob)
    const nice = niceValues(this.#options.policy, list, {
      nowMs,
      epochMs: REPLAY_EPOCH_MS,
      usage,
      shares: this.#options.shares ?? new Map(),
      importance: this.#options.importance ?? new Map(),
    })
    if (nice === null) return
    // one setNice per distinct value, as rpo's enforcement batches them
    const byValue = new Map<number, NativeJobId[]>()
    queued.forEach((id, i) => {
      const value = nice[i] as number
      if (this.#nice.get(id) === value) return
      this.#nice.set(id, value)
      const group = byValue.get(value)
      if (group) group.push(id)
      else byValue.set(value, [id])
    })
    for (const [value, ids] of byValue) cluster.setNice(ids, value)
  }

  /** A project over its cap (used + what its running jobs may still use + this job) has its queued jobs held. */
  #applyBudgets(cluster: SimCluster, usage: ReadonlyMap<string, number>, nowMs: number): void {
    const budgets = this.#options.budgets
    if (!budgets || budgets.size === 0) return
    const committed = new Map<string, number>()
    for (const run of this.#running.values()) {
      const left = Math.max(0, run.startedMs + run.job.durationSeconds * 1000 - nowMs) / 1000
      committed.set(run.job.project, (committed.get(run.job.project) ?? 0) + left * run.gpus)
    }
    const hold: NativeJobId[] = []
    const release: NativeJobId[] = []
    // in submission order: the earlier job of a project gets the budget first
    for (const [id, { job }] of this.#queued) {
      const cap = budgets.get(job.project)
      if (cap === undefined) continue
      const used = (usage.get(job.project) ?? 0) + (committed.get(job.project) ?? 0)
      const fits = (used + job.gpus * job.durationSeconds) / 3600 <= cap + 1e-9
      if (fits) {
        committed.set(job.project, (committed.get(job.project) ?? 0) + job.gpus * job.durationSeconds)
        if (this.#held.delete(id)) release.push(id)
      } else if (!this.#held.has(id)) {
        this.#held.add(id)
        hold.push(id)
      }
    }
    if (hold.length > 0) cluster.hold(hold)
    if (release.length > 0) cluster.release(release)
  }

  #usage(nowMs: number): Map<string, number> {
    const usage = new Map(this.#usedEnded)
    for (const run of this.#running.values()) {
      usage.set(run.job.project, (usage.get(run.job.project) ?? 0) + ((nowMs - run.startedMs) / 1000) * run.gpus)
    }
    return usage
  }

  #readEvents(): void {
    const cluster = this.#cluster
    if (!cluster) return
    const events = cluster.events()
    for (; this.#eventsRead < events.length; this.#eventsRead++) {
      const event = events[this.#eventsRead]
      if (!event || event.jobId === null) continue
      const id = event.jobId as NativeJobId
      if (event.kind === 'submit') {
        const job = this.#byId.get(id) ?? this.#byKey.get(event.detail)
        if (!job) continue
        this.#byId.set(id, job)
        this.#queued.set(id, { job, submittedMs: event.atMs })
        this.#arrived = true
      } else if (event.kind === 'start') {
        const queued = this.#queued.get(id)
        this.#queued.delete(id)
        const job = queued?.job ?? this.#byId.get(id)
        if (!job) continue
        const gpus = cluster.job(id)?.allocation.reduce((sum, a) => sum + a.gpus, 0) ?? job.gpus
        this.#running.set(id, { job, startedMs: event.atMs, gpus })
      } else if (event.kind === 'end') {
        const run = this.#running.get(id)
        if (!run) continue
        this.#running.delete(id)
        this.#ended++
        const used = ((event.atMs - run.startedMs) / 1000) * run.gpus
        this.#usedEnded.set(run.job.project, (this.#usedEnded.get(run.job.project) ?? 0) + used)
      }
    }
  }
}
