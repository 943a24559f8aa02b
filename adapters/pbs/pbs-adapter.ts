/**
 * The PBS adapter (PBS Pro, OpenPBS, Torque, and the Slurm Torque wrappers): composes the flavor
 * table, command builders and pure parsers of this folder with a Transport (SSH or the local shell).
 * It holds no policy. Every operation is one scheduler command for any number of jobs, and a batch
 * of submissions is one remote script (qsub-batch.ts), so a thousand jobs cost one SSH round trip.
 * This class is the one the rest of rpo uses; its parts live beside it:
 *
 * - pbs-server.ts: the transport, the flavor, capabilities, the running of commands (shared by all parts;
 *   commands go through src/scheduler/command-runner.ts, as the Slurm adapter's do);
 * - pbs-submission.ts: rendering job scripts and submitting a batch;
 * - pbs-poll.ts: polling and resolving states; pbs-submission-lookup.ts: finding jobs by submission key;
 * - pbs-job-control.ts: qdel, and `control`: qhold/qrls, qalter -p, qsig;
 * - pbs-exit-status-files.ts: exit statuses where the server reports none (the wrappers).
 *
 * The flavor is configured or detected once from `qstat --version` (detectPbsFlavor): PBS Pro ≥ 19 and
 * OpenPBS are read as `qstat -f -F json -x` (history included), Torque as `qstat -x` XML, older PBS Pro
 * as `qstat -f -x` text. A server whose qstat names no version at all is the Slurm Torque wrappers,
 * the `slurm-torque` row of the flavor table (pbs-flavors.ts), whose fields say what differs there:
 * no qalter -p/qsig (`controls`), exit statuses from the job folder (`reportsExitStatus`,
 * pbs-exit-status-files.ts), held jobs at priority 0 (pbs-poll.ts), Slurm's times under PBS's names
 * (pbs-qstat-output.ts), and a job-name limit that holds the submission key.
 *
 * Sweeps go out as job arrays where the server has them (pbs-array.ts: `-J` on PBS Pro/OpenPBS 20+,
 * `-t` on Torque; never on the wrappers, see `capabilities`). Each instance is known by its subjob id
 * (`1234[7].server`): a poll asks for the array (`1234[].server`) with `-t` and reports each subjob
 * under its own id, never the array's record; a lookup by key lists subjobs too and reads a subjob
 * as its instance (pbs-subjobs.ts). qdel and qsig take subjob ids; qhold and qrls on a PBS Pro
 * subjob are refused (PBS Pro holds whole arrays only). A dependent of instances waits for their whole
 * array (pbs-commands.ts pbsDependTerm).
 *
 * Where the job folders live: the adapter remembers the folder of each job it submitted; with
 * `jobsRoot` (the engine's `<jobsRoot>/<submission key>` layout) it also finds them after a restart,
 * and `findBySubmissionKey` reads `<jobDir>/job_id` (written by the batch script before rpo learns the
 * id) for jobs the scheduler no longer lists, so a job submitted just before a crash is not sent twice
 * (pbs-job-folders.ts).
 */

import type {
  Inventory,
  InventoryNode,
  JobControl,
  JobObservation,
  JobSubmission,
  NativeJobId,
  SchedulerAdapter,
  SchedulerCapabilities,
  SubmissionKey,
  SubmitResult,
} from '../../src/scheduler/scheduler-adapter.js'
import type { RenderedScript, ScriptRenderer } from '../../src/scheduler/script-renderer.js'
import type { PbsAdapterOptions } from './pbs-adapter-options.js'
import { buildPbsnodesArgv } from './pbs-commands.js'
import type { PbsDialect } from './pbs-flavors.js'
import { cancelPbsJobs, controlPbsJobs } from './pbs-job-control.js'
import { pollPbsJobs } from './pbs-poll.js'
import { PbsServer } from './pbs-server.js'
import { PbsSubmission } from './pbs-submission.js'
import { findPbsJobIdsBySubmissionKey } from './pbs-submission-lookup.js'
import { parsePbsnodesJson, parsePbsnodesText, parsePbsnodesXml } from './pbsnodes-parser.js'

export type { PbsAdapterOptions, PbsAdapterScriptOptions } from './pbs-adapter-options.js'

export class PbsAdapter implements SchedulerAdapter, ScriptRenderer {
  readonly kind = 'pbs' as const
  readonly #server: PbsServer
  readonly #submission: PbsSubmission

  constructor(options: PbsAdapterOptions) {
    this.#server = new PbsServer(options)
    this.#submission = new PbsSubmission(this.#server)
  }

  /** What this server can do; conservative (no arrays, priority, signal) until the flavor is known. */
  get capabilities(): SchedulerCapabilities {
    return this.#server.capabilities
  }

  /** The flavor, version and output format in use; null until configured or detected. */
  get dialect(): PbsDialect | null {
    return this.#server.dialect
  }

  /** Learn the flavor from `qstat --version` (once; configured flavors skip this). */
  detect(): Promise<PbsDialect> {
    return this.#server.detect()
  }

  /**
   * The batch script for one job, as it would be submitted (for `rpo compile`). Needs the flavor:
   * configure it, or let any other call (inventory, which `rpo compile` runs first) detect it.
   */
  renderScript(job: JobSubmission): string {
    return this.#submission.renderScript(job)
  }

  /** The scripts of a batch (`rpo compile`): one per scheduler job, a sweep's array carrying all its instances. */
  renderScripts(jobs: readonly JobSubmission[]): RenderedScript[] {
    return this.#submission.renderScripts(jobs)
  }

  async inventory(): Promise<Inventory> {
    const dialect = await this.#server.detect()
    const result = await this.#server.run(buildPbsnodesArgv(dialect), { idempotent: true })
    const script = this.#server.options.script
    const options = script?.gpuTypeResource === undefined ? {} : { gpuTypeResource: script.gpuTypeResource }
    const nodes: InventoryNode[] =
      dialect.format === 'json'
        ? parsePbsnodesJson(result.stdout, options)
        : dialect.format === 'xml'
          ? parsePbsnodesXml(result.stdout, options)
          : parsePbsnodesText(result.stdout, options)
    return { nodes }
  }

  submit(jobs: readonly JobSubmission[]): Promise<readonly SubmitResult[]> {
    return this.#submission.submit(jobs)
  }

  poll(jobIds: readonly NativeJobId[]): Promise<readonly JobObservation[]> {
    return pollPbsJobs(this.#server, jobIds)
  }

  findBySubmissionKey(keys: readonly SubmissionKey[]): Promise<ReadonlyMap<SubmissionKey, NativeJobId>> {
    return findPbsJobIdsBySubmissionKey(this.#server, keys)
  }

  cancel(jobIds: readonly NativeJobId[]): Promise<void> {
    return cancelPbsJobs(this.#server, jobIds)
  }

  /**
   * `qhold`/`qrls` (refused for one instance of a PBS Pro job array: PBS Pro holds whole arrays only),
   * a nice as `qalter -p` (0 highest … 10000 lowest onto 1023 … -1024), a signal as `qsig -s`.
   */
  control(jobIds: readonly NativeJobId[], action: JobControl): Promise<void> {
    return controlPbsJobs(this.#server, jobIds, action)
  }

  async close(): Promise<void> {
    await this.#server.transport.close()
  }
}
