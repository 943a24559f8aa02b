/**
 * The PBS server one adapter talks to, shared by its parts (submission, polling, job control): the
 * transport, the flavor (configured, or detected once from `qstat --version`) and what its row of the
 * flavor table allows, the cluster's UTC offset, the job folders known so far, and the running of
 * scheduler commands (src/scheduler/command-runner.ts: timeouts, failures read as typed errors).
 */
import { CommandRunner } from '../../src/scheduler/command-runner.js'
import type { SchedulerCapabilities } from '../../src/scheduler/scheduler-adapter.js'
import { readUtcOffsetMinutes } from '../../src/transport/cluster-clock.js'
import type { ExecResult, Transport } from '../../src/transport/transport.js'
import type { PbsAdapterOptions } from './pbs-adapter-options.js'
import { PBS_UNAVAILABLE } from './pbs-command-errors.js'
import { buildQstatVersionArgv } from './pbs-commands.js'
import { detectPbsFlavor, PBS_FLAVORS, type PbsDialect, type PbsFlavor, pbsDialectFor } from './pbs-flavors.js'
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
  readonly runner: CommandRunner
  #dialect: PbsDialect | null
  #detecting: Promise<PbsDialect> | null = null
  #utcOffsetMinutes: number | null = null

  constructor(options: PbsAdapterOptions) {
    this.transport = options.transport
    this.options = options
    this.jobFolders = new PbsJobFolders(options.jobsRoot)
    this.runner = new CommandRunner({
      transport: options.transport,
      scheduler: 'PBS or Torque',
      unavailable: PBS_UNAVAILABLE,
      ...(options.commandTimeoutMs === undefined ? {} : { timeoutMs: options.commandTimeoutMs }),
    })
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
      // Torque prints its version on stderr; the exit status says nothing (the wrappers exit 2), but a
      // qstat that is not there at all fails as such
      const result = await this.runner.run(buildQstatVersionArgv(), {
        idempotent: true,
        allowFailure: (r) => r.exitCode !== 127 && !/command not found/i.test(`${r.stdout}\n${r.stderr}`),
      })
      const dialect = detectPbsFlavor(`${result.stdout}\n${result.stderr}`)
      this.#dialect = dialect
      return dialect
    })().finally(() => {
      this.#detecting = null
    })
    return this.#detecting
  }

  /** This server's row of the flavor table; null until configured or detected. */
  get flavor(): PbsFlavor | null {
    return this.#dialect === null ? null : PBS_FLAVORS[this.#dialect.flavor]
  }

  /** What this server can do; conservative (no arrays, priority, signal) until the flavor is known. */
  get capabilities(): SchedulerCapabilities {
    const controls = this.flavor?.controls
    return {
      nativeDependencies: true,
      hold: true,
      arrays: this.arraysOn(this.#dialect),
      wholeArrayDependencies: this.arraysOn(this.#dialect),
      // the job script arms its own timer for a checkpointing job (pbs-script.ts buildPbsSignalTimer)
      signalsBeforeLimit: true,
      priority: controls?.priority ?? false, // qalter -p
      signal: controls?.signal ?? false, // qsig
    }
  }

  // whether the flavor has arrays that qstat tells apart (pbs-flavors.ts), and the user has not turned them off
  arraysOn(dialect: PbsDialect | null): boolean {
    return (
      dialect !== null && this.options.arrays !== false && PBS_FLAVORS[dialect.flavor].arrays.supported(dialect.version)
    )
  }

  /** Whether job scripts record their own exit status (pbs-exit-status-files.ts): where qstat reports none. */
  usesExitStatusFiles(dialect: PbsDialect): boolean {
    return this.options.exitStatusFiles ?? !PBS_FLAVORS[dialect.flavor].reportsExitStatus
  }

  /** The server as a user's message names it. */
  describeDialect(): string {
    const d = this.#dialect
    if (d === null) return 'flavor unknown'
    return `${PBS_FLAVORS[d.flavor].title}${d.version === null ? '' : ` ${d.version}`}`
  }

  // text and some JSON output print local wall-clock times: learn the cluster's offset once
  async clusterUtcOffset(): Promise<number> {
    this.#utcOffsetMinutes ??= await readUtcOffsetMinutes(this.transport)
    return this.#utcOffsetMinutes
  }

  /** A command's timeout, longer by a little per job it handles. */
  timeout(jobs = 1): number {
    return this.runner.timeout(jobs)
  }

  /** Run one scheduler command; a failure `allowFailure` does not accept is thrown as a typed error. */
  run(
    argv: readonly string[],
    options: { idempotent: boolean; allowFailure?: (result: ExecResult) => boolean },
  ): Promise<ExecResult> {
    return this.runner.run(argv, options)
  }

  /** Files of many job folders in one remote script (exit statuses, cancel markers, job ids), by request index. */
  async readJobFiles(requests: readonly JobFilesRequest[]): Promise<Map<number, JobFilesFound>> {
    const result = await this.runner.runScript(buildReadJobFilesScript(requests), {
      idempotent: true,
      jobs: requests.length,
      label: ['cat'],
      check: true,
    })
    return parseReadJobFilesOutput(result.stdout)
  }
}
