/**
 * What happens to a job between start and end: it takes its nodes, works at full speed, writes
 * periodic checkpoints, answers the checkpoint signal (save, exit 85), and ends by completing,
 * crashing, running out of time, being stopped, or losing its node. Owns the checkpoint store
 * (progress per checkpoint key, i.e. per task) that makes resumed work add up.
 */
import { RpoError } from '../../src/core/errors.js'
import type { JobState } from '../../src/core/job/job-state.js'
import type { SimClock } from './sim-clock.js'
import type { SimEvent } from './sim-event-log.js'
import { liveProgressMs, periodicCheckpointMs, type SimJob, secondsToMs } from './sim-job.js'
import type { NodeAllocation, SimNodeSpec } from './sim-placement.js'
import { normalizeSignal } from './sim-workload.js'

export interface SimNodeState {
  readonly spec: SimNodeSpec
  up: boolean
  usedCpus: number
  usedMemoryMb: number
  readonly usedGpus: Map<string, number>
}

/** How a run ended, in the scheduler's words. */
export interface RunOutcome {
  readonly state: JobState
  readonly nativeState: string
  readonly exitCode?: number | null
  readonly signal?: string | null
  readonly reason?: string | null
  /** The job saved its progress on the way out (a requested checkpoint completed). */
  readonly checkpointed?: boolean
}

export type RequeueMode = 'pending' | 'held'

export interface SimJobRunnerOptions {
  readonly clock: SimClock
  readonly nodes: readonly SimNodeState[]
  readonly log: (event: Omit<SimEvent, 'atMs'>) => void
  readonly requeueExitCodes: ReadonlySet<number>
  /** A run ended (or an ended job was requeued); `requeued`: the job is back in the queue. */
  readonly onRunEnded: (job: SimJob, requeued: boolean) => void
}

// signals whose default action is to do nothing: a job without a handler carries on
const HARMLESS_SIGNALS = new Set(['CONT', 'CHLD', 'WINCH', 'URG'])
// docs/checkpointing.md: "checkpointed, please resume"
export const CHECKPOINT_EXIT_CODE = 85

export class SimJobRunner {
  readonly #options: SimJobRunnerOptions
  readonly #nodes: ReadonlyMap<string, SimNodeState>
  readonly #running = new Set<SimJob>()
  readonly #checkpoints = new Map<string, number>()
  #changes = 0

  constructor(options: SimJobRunnerOptions) {
    this.#options = options
    this.#nodes = new Map(options.nodes.map((node) => [node.spec.name, node]))
  }

  get changes(): number {
    return this.#changes
  }

  get runningCount(): number {
    return this.#running.size
  }

  noteChange(): void {
    this.#changes++
  }

  /** Every running job (for a backfill reservation's view of when nodes free up). */
  running(): ReadonlySet<SimJob> {
    return this.#running
  }

  runningOn(node: string): SimJob[] {
    return [...this.#running].filter((job) => job.allocation.some((a) => a.node === node))
  }

  storedCheckpointMs(key: string): number {
    return this.#checkpoints.get(key) ?? 0
  }

  /** The newest checkpoint a restart of this job would find, counting periodic saves of the run under way. */
  checkpointedMs(job: SimJob): number {
    const stored = this.storedCheckpointMs(job.workload.checkpointKey)
    if (job.state !== 'running') return stored
    return periodicCheckpointMs(job, liveProgressMs(job, this.#now())) ?? stored
  }

  start(job: SimJob, allocation: readonly NodeAllocation[]): void {
    const now = this.#now()
    for (const share of allocation) {
      const node = this.#node(share.node)
      node.usedCpus += share.cpus
      node.usedMemoryMb += share.memoryMb
      if (share.gpuType !== null) node.usedGpus.set(share.gpuType, (node.usedGpus.get(share.gpuType) ?? 0) + share.gpus)
    }
    const workload = job.workload
    const durationMs = secondsToMs(workload.durationSeconds)
    // a restart, or a new attempt started with RPO_RESUME=1, loads the task's newest checkpoint
    const resuming = job.restarts > 0 || workload.resume
    job.runStartProgressMs = resuming ? Math.min(this.storedCheckpointMs(workload.checkpointKey), durationMs) : 0
    job.state = 'running'
    job.nativeState = 'RUNNING'
    job.reason = null
    job.startedAtMs = now
    job.endedAtMs = null
    job.exitCode = null
    job.signal = null
    job.stoppedAtMs = null
    job.allocation = allocation
    job.runs.push({ startedAtMs: now, endedAtMs: null, allocation, endState: null, exitCode: null })
    this.#running.add(job)
    this.#changes++
    this.#options.log({
      kind: 'start',
      jobId: job.id,
      node: allocation.map((a) => a.node).join(','),
      detail: `from=${job.runStartProgressMs / 1000}s`,
    })
    this.#armEnd(job)
  }

  #armEnd(job: SimJob): void {
    const now = this.#now()
    const workload = job.workload
    const resumedAt = job.runStartProgressMs
    const durationMs = secondsToMs(workload.durationSeconds)
    const limitMs = this.#limitMs(job)
    // candidates in tie order: a crash or completion at the limit beats the timeout
    const ends: { atMs: number; end: () => void }[] = []
    const failMs = workload.failAtSeconds === null ? null : secondsToMs(workload.failAtSeconds)
    if (failMs !== null && failMs > resumedAt && failMs < durationMs) {
      const exitCode = workload.exitCode === 0 ? 1 : workload.exitCode
      ends.push({ atMs: now + failMs - resumedAt, end: () => this.#exit(job, exitCode) })
    }
    ends.push({ atMs: now + durationMs - resumedAt, end: () => this.#exit(job, workload.exitCode) })
    if (limitMs !== null) ends.push({ atMs: now + limitMs, end: () => this.#timeOut(job) })
    const first = ends.reduce((a, b) => (b.atMs < a.atMs ? b : a))
    job.timers.push(this.#options.clock.at(first.atMs, first.end, `end ${job.id}`))
    if (limitMs !== null && workload.checkpointOnSignal && workload.signalLeadSeconds !== null) {
      const warnAt = now + Math.max(0, limitMs - secondsToMs(workload.signalLeadSeconds))
      if (warnAt < first.atMs) {
        job.timers.push(
          this.#options.clock.at(warnAt, () => this.deliverSignal(job, workload.checkpointSignal), `warn ${job.id}`),
        )
      }
    }
  }

  /**
   * A signal to a running job. The checkpoint signal makes a job that speaks the protocol stop
   * working, save (taking `checkpointSaveSeconds`) and exit 85; a save the time limit interrupts is
   * lost. Any other signal, or the checkpoint signal to a job without a handler, ends it.
   */
  deliverSignal(job: SimJob, rawSignal: string): void {
    if (job.state !== 'running' || job.stoppedAtMs !== null) return
    const signal = normalizeSignal(rawSignal)
    this.#options.log({ kind: 'signal', jobId: job.id, node: null, detail: signal })
    const workload = job.workload
    if (signal === workload.checkpointSignal && workload.checkpointOnSignal) {
      const now = this.#now()
      job.stoppedAtMs = now
      this.#cancelTimers(job)
      const exitAt = now + secondsToMs(workload.checkpointSaveSeconds)
      const limitMs = this.#limitMs(job)
      const timeoutAt = limitMs === null || job.startedAtMs === null ? null : job.startedAtMs + limitMs
      job.timers.push(
        timeoutAt !== null && timeoutAt < exitAt
          ? this.#options.clock.at(timeoutAt, () => this.#timeOut(job), `end ${job.id}`)
          : this.#options.clock.at(exitAt, () => this.#exit(job, CHECKPOINT_EXIT_CODE, true), `end ${job.id}`),
      )
      return
    }
    if (HARMLESS_SIGNALS.has(signal)) return
    this.endRun(job, { state: 'failed', nativeState: 'FAILED', signal, reason: `killed by SIG${signal}` })
  }

  #exit(job: SimJob, exitCode: number, checkpointed = false): void {
    const requeue = this.#options.requeueExitCodes.has(exitCode) ? 'pending' : null
    this.endRun(
      job,
      {
        state: exitCode === 0 ? 'succeeded' : 'failed',
        nativeState: exitCode === 0 ? 'COMPLETED' : 'FAILED',
        exitCode,
        checkpointed,
      },
      requeue,
    )
  }

  #timeOut(job: SimJob): void {
    this.endRun(job, { state: 'timeout', nativeState: 'TIMEOUT', reason: 'TimeLimit' })
  }

  /** End the run under way; with `requeue` the job goes back to the queue (pending or held) instead. */
  endRun(job: SimJob, outcome: RunOutcome, requeue: RequeueMode | null = null): void {
    const now = this.#now()
    const startedAt = job.startedAtMs ?? now
    const workedUntil = Math.min(now, job.stoppedAtMs ?? now)
    const progress = liveProgressMs(job, now)
    job.workDoneMs += workedUntil - startedAt
    job.progressMs = progress
    const key = job.workload.checkpointKey
    const periodic = periodicCheckpointMs(job, progress)
    if (periodic !== null) this.#checkpoints.set(key, periodic)
    if (outcome.checkpointed) {
      this.#checkpoints.set(key, progress)
      this.#options.log({ kind: 'checkpoint', jobId: job.id, node: null, detail: `at=${progress / 1000}s` })
    }
    this.#cancelTimers(job)
    for (const share of job.allocation) {
      const node = this.#node(share.node)
      node.usedCpus -= share.cpus
      node.usedMemoryMb -= share.memoryMb
      if (share.gpuType !== null) node.usedGpus.set(share.gpuType, (node.usedGpus.get(share.gpuType) ?? 0) - share.gpus)
    }
    this.#running.delete(job)
    job.stoppedAtMs = null
    const run = job.runs[job.runs.length - 1]
    if (run) {
      run.endedAtMs = now
      run.endState = outcome.state
      run.exitCode = outcome.exitCode ?? null
    }
    this.#changes++
    this.#options.log({
      kind: 'end',
      jobId: job.id,
      node: null,
      detail: `${outcome.nativeState} exit=${outcome.exitCode ?? '-'} progress=${progress / 1000}s`,
    })
    if (requeue) this.#backToQueue(job, requeue)
    else this.#finish(job, outcome)
    this.#options.onRunEnded(job, requeue !== null)
  }

  /** Queue an ended job again (`scontrol requeue` after its exit 85): it resumes from its checkpoint. */
  requeueEnded(job: SimJob, mode: RequeueMode): void {
    this.#backToQueue(job, mode)
    this.#options.onRunEnded(job, true)
  }

  /** End a job that never started this time round (cancelled in the queue). */
  endUnstarted(job: SimJob, outcome: RunOutcome): void {
    this.#changes++
    this.#options.log({
      kind: 'end',
      jobId: job.id,
      node: null,
      detail: `${outcome.nativeState}${outcome.reason ? ` reason=${outcome.reason}` : ''}`,
    })
    this.#finish(job, outcome)
  }

  #finish(job: SimJob, outcome: RunOutcome): void {
    job.state = outcome.state
    job.nativeState = outcome.nativeState
    job.exitCode = outcome.exitCode ?? null
    job.signal = outcome.signal ?? null
    job.reason = outcome.reason ?? null
    job.endedAtMs = this.#now()
  }

  #backToQueue(job: SimJob, mode: RequeueMode): void {
    job.restarts++
    job.state = mode === 'held' ? 'held' : 'pending'
    job.nativeState = 'PENDING'
    job.reason = mode === 'held' ? 'JobHeldUser' : 'Priority'
    job.startedAtMs = null
    job.endedAtMs = null
    job.exitCode = null
    job.signal = null
    this.#changes++
    this.#options.log({ kind: 'requeue', jobId: job.id, node: null, detail: mode })
  }

  #cancelTimers(job: SimJob): void {
    for (const timer of job.timers) timer.cancel()
    job.timers = []
  }

  #limitMs(job: SimJob): number | null {
    const seconds = job.submission.resources.timeLimitSeconds
    // no (or a nonsensical) limit means the job may run as long as it likes
    return Number.isFinite(seconds) && seconds > 0 ? secondsToMs(seconds) : null
  }

  #node(name: string): SimNodeState {
    const node = this.#nodes.get(name)
    if (!node) throw new RpoError('internal', `sim: an allocation names the unknown node ${name}`)
    return node
  }

  #now(): number {
    return this.#options.clock.now()
  }
}
