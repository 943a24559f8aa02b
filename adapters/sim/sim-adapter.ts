/**
 * The SchedulerAdapter over a simulated cluster: what the engine calls on Slurm, answered by
 * SimCluster in virtual time. Holds no policy. Virtual time moves only when someone moves it: the
 * scenario driver (cluster.advanceTo), `waitForChange` (which jumps to the next job change instead
 * of sleeping), or — for callers that wait in real time, like the shared conformance suite — a
 * fixed step before every poll (`advancePerPollMs`).
 */
import type { ChangeNotifier } from '../../src/scheduler/change-notifier.js'
import type {
  Inventory,
  JobControl,
  JobObservation,
  JobSubmission,
  NativeJobId,
  SchedulerAdapter,
  SchedulerCapabilities,
  SubmissionKey,
  SubmitResult,
} from '../../src/scheduler/scheduler-adapter.js'
import type { CommandCounter } from '../../src/transport/counting-transport.js'
import type { SimCluster } from './sim-cluster.js'

export interface SimAdapterOptions {
  readonly cluster: SimCluster
  /** Advance virtual time by this much before each poll answers. @default 0 (the driver moves time) */
  readonly advancePerPollMs?: number
  /**
   * Whether the cluster warns checkpointing jobs before their limit (its workloads read
   * RPO_CHECKPOINT_LEAD_SECONDS). false models PBS, where rpo sends the warning itself. @default true
   */
  readonly signalsBeforeLimit?: boolean
}

// no transport to count on: the simulator counts its own calls, and hands itself to the engine as
// the counter, as create-app hands a cluster's CountingTransport
export class SimAdapter implements SchedulerAdapter, ChangeNotifier, CommandCounter {
  readonly kind = 'sim' as const
  readonly capabilities: SchedulerCapabilities
  readonly cluster: SimCluster
  readonly #advancePerPollMs: number
  /** Scheduler calls so far, counted as the Slurm adapter counts commands (one per call, whatever the batch). */
  commandsRun = 0

  constructor(options: SimAdapterOptions) {
    this.cluster = options.cluster
    this.#advancePerPollMs = options.advancePerPollMs ?? 0
    this.capabilities = {
      nativeDependencies: true,
      hold: true,
      arrays: false,
      wholeArrayDependencies: false,
      priority: true,
      signal: true,
      // the simulated cluster warns jobs before their limit the way Slurm's --signal does
      signalsBeforeLimit: options.signalsBeforeLimit ?? true,
    }
  }

  async inventory(): Promise<Inventory> {
    this.commandsRun++
    return this.cluster.inventory()
  }

  async submit(jobs: readonly JobSubmission[]): Promise<readonly SubmitResult[]> {
    if (jobs.length === 0) return []
    this.commandsRun++
    return this.cluster.submit(jobs)
  }

  async poll(jobIds: readonly NativeJobId[]): Promise<readonly JobObservation[]> {
    if (this.#advancePerPollMs > 0) this.cluster.advanceBy(this.#advancePerPollMs)
    if (jobIds.length === 0) return []
    this.commandsRun++
    return this.cluster.observe(jobIds)
  }

  async findBySubmissionKey(keys: readonly SubmissionKey[]): Promise<ReadonlyMap<SubmissionKey, NativeJobId>> {
    if (keys.length > 0) this.commandsRun++
    return this.cluster.findBySubmissionKey(keys)
  }

  async cancel(jobIds: readonly NativeJobId[]): Promise<void> {
    this.#control(jobIds, () => this.cluster.cancel(jobIds))
  }

  /** The contract's hold, release, signal and nice: the simulated cluster takes them all. */
  async control(jobIds: readonly NativeJobId[], action: JobControl): Promise<void> {
    if (action.kind === 'hold') return this.hold(jobIds)
    if (action.kind === 'release') return this.release(jobIds)
    if (action.kind === 'signal') return this.signal(jobIds, action.signal)
    return this.setNice(jobIds, action.nice)
  }

  async hold(jobIds: readonly NativeJobId[]): Promise<void> {
    this.#control(jobIds, () => this.cluster.hold(jobIds))
  }

  async release(jobIds: readonly NativeJobId[]): Promise<void> {
    this.#control(jobIds, () => this.cluster.release(jobIds))
  }

  /** Put jobs back in the queue, held when `hold` (as the Slurm adapter's `requeue`). */
  async requeue(jobIds: readonly NativeJobId[], options: { hold?: boolean } = {}): Promise<void> {
    this.#control(jobIds, () => this.cluster.requeue(jobIds, options))
  }

  /** Send a signal to running jobs (e.g. `USR2`: checkpoint now), as the Slurm adapter's `signal`. */
  async signal(jobIds: readonly NativeJobId[], signal: string): Promise<void> {
    this.#control(jobIds, () => this.cluster.signal(jobIds, signal))
  }

  /** Slurm's knob: lower nice runs first. */
  async setNice(jobIds: readonly NativeJobId[], nice: number): Promise<void> {
    this.#control(jobIds, () => this.cluster.setNice(jobIds, nice))
  }

  /** PBS's knob: higher priority runs first (nice = −priority). */
  async setPriority(jobIds: readonly NativeJobId[], priority: number): Promise<void> {
    this.#control(jobIds, () => this.cluster.setNice(jobIds, -priority))
  }

  /**
   * Instead of sleeping: move virtual time to the next job change (a start, an end, a requeue) or
   * by `timeoutMs`, whichever comes first. A follow loop thus runs a day of cluster time in moments.
   */
  async waitForChange(timeoutMs: number): Promise<void> {
    const clock = this.cluster.clock
    const deadline = clock.now() + Math.max(0, timeoutMs)
    const before = this.cluster.changeCount
    for (;;) {
      const next = clock.nextEventAt()
      if (next === null || next > deadline) {
        this.cluster.advanceTo(deadline)
        break
      }
      this.cluster.advanceTo(next)
      if (this.cluster.changeCount !== before) break
    }
    // let other work on the event loop run between virtual waits
    await new Promise<void>((resolve) => setImmediate(resolve))
  }

  async close(): Promise<void> {}

  #control(jobIds: readonly NativeJobId[], action: () => void): void {
    if (jobIds.length === 0) return
    this.commandsRun++
    action()
  }
}
