/**
 * The PBS server one adapter talks to, shared by its parts (submission, polling, job control): the
 * transport, the flavor (configured, or detected once from `qstat --version`) and what it allows,
 * the cluster's UTC offset, the job folders known so far, and the running of scheduler commands with
 * their timeouts, their count (`commandsRun`) and their failures read as typed errors.
 */
import { SchedulerCommandError } from '../../src/core/errors.js'
import type { SchedulerCapabilities } from '../../src/scheduler/scheduler-adapter.js'
import { readUtcOffsetMinutes } from '../../src/transport/cluster-clock.js'
import type { ExecResult, Transport } from '../../src/transport/transport.js'
import type { PbsAdapterOptions } from './pbs-adapter-options.js'
import { pbsCommandError } from './pbs-command-errors.js'
import { buildQstatVersionArgv } from './pbs-commands.js'
import { detectPbsFlavor, PBS_FLAVORS, type PbsDialect, pbsDialectFor } from './pbs-flavors.js'
import {
  buildReadJobFilesScript,
  type JobFilesFound,
  type JobFilesRequest,
  parseReadJobFilesOutput,
} from './pbs-job-files.js'
import { PbsJobFolders } from './pbs-job-folders.js'

export class PbsServer {
  readonly transport: Transport
  readonly options: PbsAdapterOptions
  readonly jobFolders: PbsJobFolders
  /** Scheduler commands run so far (each qstat/pbsnodes/qdel/qhold/qrls/qrerun/qalter/qsig and each qsub batch). */
  commandsRun = 0
  #dialect: PbsDialect | null
  #detecting: Promise<PbsDialect> | null = null
  #utcOffsetMinutes: number | null = null

  constructor(options: PbsAdapterOptions) {
    this.transport = options.transport
    this.options = options
    this.jobFolders = new PbsJobFolders(options.jobsRoot)
    this.#dialect = options.flavor === undefined ? null : pbsDialectFor(options.flavor)
  }

  /** The flavor, version and output format in use; null until configured or detected. */
  get dialect(): PbsDialect | null {
    return this.#dialect
  }

  /** Learn the flavor from `qstat --version` (once; configured flavors skip this). */
  async detect(): Promise<PbsDialect> {
    if (this.#dialect !== null) return this.#dialect
    this.#detecting ??= (async () => {
      const argv = buildQstatVersionArgv()
      this.commandsRun++
      const result = await this.transport.exec(argv, { idempotent: true, timeoutMs: this.timeout() })
      if (result.exitCode === 127 || /command not found|No such file or directory/i.test(result.stderr)) {
        throw new SchedulerCommandError(
          'command-failed',
          argv,
          result.exitCode,
          result.stderr,
          `qstat is not available on ${this.transport.description}: is this a PBS or Torque login node?`,
        )
      }
      // Torque prints its version on stderr; the exit status says nothing (the wrappers exit 2)
      const dialect = detectPbsFlavor(`${result.stdout}\n${result.stderr}`)
      this.#dialect = dialect
      return dialect
    })().finally(() => {
      this.#detecting = null
    })
    return this.#detecting
  }

  /** What this server can do; conservative (no requeue, arrays, priority, signal) until the flavor is known. */
  get capabilities(): SchedulerCapabilities {
    const full = this.#dialect?.recognized === true
    return {
      nativeDependencies: true,
      hold: true,
      requeue: full, // qrerun: broken in the Slurm wrappers
      arrays: this.arraysOn(this.#dialect),
      wholeArrayDependencies: this.arraysOn(this.#dialect),
      // the job script arms its own timer for a checkpointing job (pbs-script.ts buildPbsSignalTimer)
      signalsBeforeLimit: true,
      priority: full, // qalter -p: not in the Slurm wrappers
      signal: full, // qsig: not in the Slurm wrappers
    }
  }

  // The Slurm Torque wrappers' qsub takes -t (it becomes sbatch --array), but their qstat prints the
  // array's tasks as plain Slurm job ids without an index, so no instance could be told apart or
  // observed: never arrays there. PBS Pro before OpenPBS 20 has no `%` throttle (pbs-flavors.ts).
  arraysOn(dialect: PbsDialect | null): boolean {
    return (
      dialect?.recognized === true &&
      this.options.arrays !== false &&
      PBS_FLAVORS[dialect.flavor].arrays.supported(dialect.version)
    )
  }

  /** Whether job scripts record their own exit status (pbs-exit-status-files.ts): where qstat reports none. */
  usesExitStatusFiles(dialect: PbsDialect): boolean {
    return this.options.exitStatusFiles ?? !dialect.recognized
  }

  /** The server as a user's message names it. */
  describeDialect(): string {
    const d = this.#dialect
    if (d === null) return 'flavor unknown'
    if (!d.recognized) return 'qstat names no version: the Slurm Torque wrappers'
    return `${d.flavor}${d.version === null ? '' : ` ${d.version}`}`
  }

  // text and some JSON output print local wall-clock times: learn the cluster's offset once
  async clusterUtcOffset(): Promise<number> {
    this.#utcOffsetMinutes ??= await readUtcOffsetMinutes(this.transport)
    return this.#utcOffsetMinutes
  }

  /** A command's timeout, longer by a little per job it handles. */
  timeout(jobs = 1): number {
    return (this.options.commandTimeoutMs ?? 120_000) + jobs * 200
  }

  /** Run one scheduler command; a failure `allowFailure` does not accept is thrown as a typed error. */
  async run(
    argv: readonly string[],
    options: { idempotent: boolean; allowFailure?: (result: ExecResult) => boolean },
  ): Promise<ExecResult> {
    this.commandsRun++
    const result = await this.transport.exec(argv, { idempotent: options.idempotent, timeoutMs: this.timeout() })
    if (result.exitCode === 0 || options.allowFailure?.(result)) return result
    throw pbsCommandError(argv, result)
  }

  /** Files of many job folders in one remote script (exit statuses, cancel markers, job ids), by request index. */
  async readJobFiles(requests: readonly JobFilesRequest[]): Promise<Map<number, JobFilesFound>> {
    const result = await this.transport.execScript(buildReadJobFilesScript(requests), {
      idempotent: true,
      timeoutMs: this.timeout(requests.length),
    })
    if (result.exitCode !== 0) throw pbsCommandError(['cat'], result)
    return parseReadJobFilesOutput(result.stdout)
  }
}
