/**
 * The SchedulerAdapter contract: the only way rpo's engine touches a batch scheduler (or the local
 * executor). Adapters are command builders + pure parsers composed with a Transport; they hold no
 * policy. Differences between schedulers are data (`capabilities`), never `adapter.kind === 'x'`.
 */
import type { DependencyCondition } from '../core/job/dependency-condition.js'
import type { JobObservation, NativeJobId } from '../core/job/job-observation.js'
import type { Inventory } from '../core/resources/inventory.js'
import type { ResourceRequest } from '../core/resources/resource-request.js'

// the core owns this vocabulary; adapters and the engine have always found it here
export type { DependencyCondition } from '../core/job/dependency-condition.js'
export {
  asNativeJobId,
  type JobObservation,
  type NativeJobId,
  type ResourceUsage,
} from '../core/job/job-observation.js'
export type { Inventory, InventoryNode } from '../core/resources/inventory.js'
export type { GpuRequest, ResourceRequest } from '../core/resources/resource-request.js'

/** `runId/taskId/attempt` rendered into a scheduler-safe job name; written before submission. */
export type SubmissionKey = string & { readonly __brand: 'SubmissionKey' }
export function asSubmissionKey(key: string): SubmissionKey {
  return key as SubmissionKey
}

export interface SchedulerCapabilities {
  /** The scheduler enforces `after` dependencies itself (sbatch --dependency); rpo need not wait. */
  readonly nativeDependencies: boolean
  readonly hold: boolean
  readonly requeue: boolean
  readonly arrays: boolean
  /**
   * A dependency on one array instance waits for the whole array (PBS: `afterok:1234[]`), so an
   * array holding an instance that failed and is being retried can never satisfy a dependent.
   */
  readonly wholeArrayDependencies?: boolean
  readonly priority: boolean
  readonly signal: boolean
  /**
   * The scheduler (or executor) itself warns a checkpointing job `leadSeconds` before its time
   * limit (Slurm --signal, the local launcher); otherwise rpo sends the signal from its own clock.
   */
  readonly signalsBeforeLimit?: boolean
}

/** One job to submit: everything the adapter needs to render and submit it. */
export interface JobSubmission {
  readonly submissionKey: SubmissionKey
  readonly runId: string
  readonly taskId: string
  readonly attempt: number
  readonly command: string
  readonly workDir: string
  /** Directory for this attempt's logs and status files. */
  readonly jobDir: string
  readonly env: Readonly<Record<string, string>>
  readonly resources: ResourceRequest
  /**
   * Upstream jobs still on the scheduler, for adapters with native dependencies. `jobId` is null
   * for an upstream submitted earlier in the same batch: the adapter wires it by submission key.
   */
  readonly dependsOn: readonly JobDependency[]
  readonly project: string | null
  readonly partition?: string
  readonly qos?: string
  readonly priority?: number
  /**
   * One instance of a sweep: adapters with job arrays may submit the instances of one batch that
   * share `key` as a single array job (index = the instance number, `throttle` = at most this many
   * at once). Absent for tasks that are not sweep instances.
   */
  readonly array?: { readonly key: SubmissionKey; readonly index: number; readonly throttle: number | null }
  /**
   * The task checkpoints (docs/checkpointing.md): ask the scheduler to send `signal` `leadSeconds`
   * before the time limit, make the job requeueable, and stop a job restarted in place more than
   * `maxRestarts` times.
   */
  readonly checkpoint?: { readonly signal: string; readonly leadSeconds: number; readonly maxRestarts: number }
  /** Nodes this attempt must not run on (a node that failed an earlier attempt). */
  readonly excludeNodes?: readonly string[]
  /** Submit held: the job waits on the scheduler until released (budget enforcement). */
  readonly hold?: boolean
}

export interface JobDependency {
  readonly submissionKey: SubmissionKey
  readonly jobId: NativeJobId | null
  readonly condition: DependencyCondition
}

/** Per job of a batch: its id, or the scheduler's refusal in its own words. */
export type SubmitResult =
  | { readonly kind: 'submitted'; readonly submissionKey: SubmissionKey; readonly jobId: NativeJobId }
  | { readonly kind: 'rejected'; readonly submissionKey: SubmissionKey; readonly message: string }

/** A poll that answered, but less than usual: e.g. accounting was down, so no job could be seen end. */
export interface PollWarning {
  /** Stable, e.g. `accounting-unavailable`. */
  readonly code: string
  readonly message: string
}

export interface PollOptions {
  /** Told when the poll is degraded rather than failed (the engine reports it as a tick error). */
  readonly onWarning?: (warning: PollWarning) => void
}

export interface SchedulerAdapter {
  readonly kind: 'local' | 'slurm' | 'pbs' | 'sim'
  readonly capabilities: SchedulerCapabilities
  /** Scheduler commands run so far (squeue, sacct, one sbatch batch, ...); absent when none are run. */
  readonly commandsRun?: number
  /** What the target offers: used for validation ("no node can ever run this") and placement. */
  inventory(): Promise<Inventory>
  /** Submit a batch in dependency order (a job's upstreams come before it in the list). */
  submit(jobs: readonly JobSubmission[]): Promise<readonly SubmitResult[]>
  /**
   * Observe jobs. Returns one observation per id the scheduler still knows; an id missing from the
   * answer is NOT finished — the caller treats it as unknown until reconciled. A part of the
   * scheduler that is down but not needed for the jobs' current states (Slurm's accounting) makes
   * a degraded poll, said through `onWarning`, instead of a failed one.
   */
  poll(jobIds: readonly NativeJobId[], options?: PollOptions): Promise<readonly JobObservation[]>
  /** Find jobs by submission key (after a crash between writing the key and learning the job id). */
  findBySubmissionKey(keys: readonly SubmissionKey[]): Promise<ReadonlyMap<SubmissionKey, NativeJobId>>
  cancel(jobIds: readonly NativeJobId[]): Promise<void>
  hold(jobIds: readonly NativeJobId[]): Promise<void>
  release(jobIds: readonly NativeJobId[]): Promise<void>
  /**
   * Send `signal` (a name such as `USR2`) to running jobs' commands: how rpo asks a job to
   * checkpoint and exit 85 (docs/checkpointing.md). Absent where the target cannot signal.
   */
  signal?(jobIds: readonly NativeJobId[], signal: string): Promise<void>
  /** Put running jobs back in the queue (held with `hold`), keeping their job ids. */
  requeue?(jobIds: readonly NativeJobId[], options?: { readonly hold?: boolean }): Promise<void>
  /**
   * The scheduler's own priority for pending jobs, as a Slurm-style nice value: 0 is the highest,
   * larger is lower (PBS maps it onto `qalter -p`).
   */
  setNice?(jobIds: readonly NativeJobId[], nice: number): Promise<void>
  /**
   * The batch scripts a batch would be submitted with (`rpo compile`): one per scheduler job, with
   * the submission keys it carries (several for a sweep submitted as an array). Absent for the
   * local executor.
   */
  renderScripts?(
    jobs: readonly JobSubmission[],
  ): readonly { readonly keys: readonly string[]; readonly script: string }[]
  /** Resolve when a job may have changed (a local process ended), or after `timeoutMs`. Optional. */
  waitForChange?(timeoutMs: number): Promise<void>
  /** Release resources such as child-process handles or connections. */
  close(): Promise<void>
}
