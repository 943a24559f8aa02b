/**
 * The SchedulerAdapter contract: the only way rpo's engine touches a batch scheduler (or the local
 * executor). Adapters are command builders + pure parsers composed with a Transport; they hold no
 * policy. Differences between schedulers are data (`capabilities`), never `adapter.kind === 'x'`.
 *
 * Seven methods, all required: inventory, submit, poll, findBySubmissionKey, cancel, control, close.
 * Everything that changes a submitted job short of ending it — hold, release, a signal, a nice value
 * — is one `control(jobIds, action)`: these are the acts a target may lack, and one method gated by
 * one capability flag per act (`hold`, `signal`, `priority`; `controlCapability`) keeps "can it?" a
 * flag callers read before acting, never a method whose presence they test. An adapter asked for
 * an act its flags deny throws `RpoError('unsupported')` (`unsupportedControl`). `cancel` stays its
 * own method: every target can end a job, and ending one is not a change the target may refuse.
 *
 * Off the contract, each its own interface that the composition root hands to whoever needs it:
 * the batch scripts for `rpo compile` (script-renderer.ts: Slurm, PBS), waking a follower when a
 * job changed (change-notifier.ts: the local executor), and counting the commands a tick ran
 * (src/transport/counting-transport.ts, around the transport the adapter runs on).
 */

import { RpoError } from '../core/errors.js'
import type { DependencyCondition } from '../core/job/dependency-condition.js'
import type { JobObservation, NativeJobId } from '../core/job/job-observation.js'
import type { Framework, SoftwareEnvironment } from '../core/pipeline/workload-fields.js'
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
  /** `control` takes `hold` and `release`; jobs may be submitted held. */
  readonly hold: boolean
  /** Sweeps may go out as job arrays (the scheduler throttles their instances). */
  readonly arrays: boolean
  /**
   * A dependency on one array instance waits for the whole array (PBS: `afterok:1234[]`), so an
   * array holding an instance that failed and is being retried can never satisfy a dependent.
   */
  readonly wholeArrayDependencies: boolean
  /** `control` takes `nice`: the scheduler's own priority among pending jobs. */
  readonly priority: boolean
  /** `control` takes `signal`: how rpo asks a running job to checkpoint. */
  readonly signal: boolean
  /**
   * The scheduler (or executor) itself warns a checkpointing job `leadSeconds` before its time
   * limit (Slurm --signal, the local launcher); otherwise rpo sends the signal from its own clock.
   */
  readonly signalsBeforeLimit: boolean
}

/** A change to submitted jobs short of ending them; each needs its capability (`controlCapability`). */
export type JobControl =
  | { readonly kind: 'hold' }
  | { readonly kind: 'release' }
  /** A signal name such as `USR2`, sent to the jobs' commands (docs/checkpointing.md). */
  | { readonly kind: 'signal'; readonly signal: string }
  /** The scheduler's priority as a Slurm-style nice: 0 is the highest, larger is lower (PBS: `qalter -p`). */
  | { readonly kind: 'nice'; readonly nice: number }

/** The capability flag that says whether a target takes `action`. */
export function controlCapability(action: JobControl): 'hold' | 'signal' | 'priority' {
  switch (action.kind) {
    case 'hold':
    case 'release':
      return 'hold'
    case 'signal':
      return 'signal'
    case 'nice':
      return 'priority'
  }
}

/** The error an adapter throws for an act its capabilities deny; `target` names it, `why` may say more. */
export function unsupportedControl(target: string, action: JobControl, why?: string): RpoError {
  const what = {
    hold: 'holding jobs',
    release: 'releasing jobs',
    signal: 'signalling jobs',
    nice: 'changing job priorities',
  }
  return new RpoError(
    'unsupported',
    `${what[action.kind]} is not supported by ${target}${why ? `: ${why}` : ''} (capabilities.${controlCapability(action)} is off)`,
  )
}

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
  /**
   * The task's framework: batch scripts start its processes with its launcher (torchrun, srun
   * --mpi, mpirun, a Ray cluster…; docs/launching.md). Absent for a plain command.
   */
  readonly framework?: Framework
  /** Modules, conda/venv, setup lines and container the batch script sets up before the command. */
  readonly environment?: SoftwareEnvironment
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
  /**
   * Jobs whose accounting figures (allocation, peak memory) are wanted even when the live queue
   * already says how they ended: budgets charge them. For the other jobs an ending the queue
   * states in full (Slurm's COMPLETED: exit 0) is taken as it is, without a round trip to
   * accounting. Adapters whose one poll command answers both ignore it. @default none
   */
  readonly accountingOf?: readonly NativeJobId[]
}

export interface SchedulerAdapter {
  readonly kind: 'local' | 'slurm' | 'pbs' | 'sim'
  readonly capabilities: SchedulerCapabilities
  /**
   * What the target offers: used for validation ("no node can ever run this") and placement. With
   * `freeGpus`, also the GPUs free now per node (`gpusFree`) where the target can tell (Slurm: one
   * more sinfo); an adapter that cannot leaves `gpusFree` out.
   */
  inventory(options?: { readonly freeGpus?: boolean }): Promise<Inventory>
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
  /** End jobs, queued or running; a job that already ended needs no cancelling. */
  cancel(jobIds: readonly NativeJobId[]): Promise<void>
  /**
   * Hold, release, signal or renice jobs, one command for all of them. Callers read the capability
   * first (`controlCapability(action)`); without it this throws `RpoError('unsupported')`.
   */
  control(jobIds: readonly NativeJobId[], action: JobControl): Promise<void>
  /** Release resources such as child-process handles or connections. */
  close(): Promise<void>
}
