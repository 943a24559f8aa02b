/** The PBS adapter's options (re-exported by pbs-adapter.ts, where callers import them from). */
import type { Transport } from '../../src/transport/transport.js'
import type { PbsFlavorName } from './pbs-flavors.js'
import type { PbsScriptOptions } from './pbs-script.js'

/** Cluster-level script choices (the flavor comes from the adapter, arrays from the batch; priority is not used yet). */
export type PbsAdapterScriptOptions = Omit<PbsScriptOptions, 'flavor' | 'array' | 'streams' | 'priority'>

export interface PbsAdapterOptions {
  readonly transport: Transport
  /** Detected once from `qstat --version` when absent (which is also the only way to get the wrappers' mode). */
  readonly flavor?: PbsFlavorName
  /** Defaults for jobs that name none: queue, account; GPU resource names; rerunnable; signal. */
  readonly script?: PbsAdapterScriptOptions
  /**
   * The engine's jobsRoot (`<jobsRoot>/<submission key>` is a job's folder): lets the adapter find
   * exit-status files and `job_id` files of jobs it did not submit itself (after a restart).
   */
  readonly jobsRoot?: string
  /**
   * Have job scripts write `<jobDir>/exit_status` and read it for finished jobs without an exit status.
   * @default true only for a server whose qstat names no version (the Slurm Torque wrappers)
   */
  readonly exitStatusFiles?: boolean
  /**
   * Submit a batch's sweep instances as job arrays (throttled by the server with `%maxParallel`).
   * Set false for a server that refuses arrays. @default true where the server has them (see capabilities)
   */
  readonly arrays?: boolean
  /** `findBySubmissionKey` ignores jobs created longer ago than this. @default 14 */
  readonly lookbackDays?: number
  /** Per scheduler command. @default 120000 */
  readonly commandTimeoutMs?: number
}
