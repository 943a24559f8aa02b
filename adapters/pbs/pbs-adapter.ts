/**
 * The PBS adapter (PBS Pro, OpenPBS, Torque, and the Slurm Torque wrappers): composes the flavor
 * table, command builders and pure parsers of this folder with a Transport (SSH or the local shell).
 * It holds no policy. Every operation is one scheduler command for any number of jobs, and a batch
 * of submissions is one remote script (qsub-batch.ts), so a thousand jobs cost one SSH round trip.
 *
 * The flavor is configured or detected once from `qstat --version` (detectPbsFlavor): PBS Pro ≥ 19 and
 * OpenPBS are read as `qstat -f -F json -x` (history included), Torque as `qstat -x` XML, older PBS Pro
 * as `qstat -f -x` text. A server whose qstat names no version at all is treated as the Slurm Torque
 * wrappers (Debian's `slurm-wlm-torque`, see test/adapters/pbs/fixtures/slurm-torque-wrappers/README.md):
 * `qstat -f` text with bare ids, no qrerun/qalter -p/qsig, and these compensations:
 *
 * - Exit status: the wrappers print every finished job as `C` without an exit status, and rpo never
 *   assumes success. So there the job script records its own: the command runs as `bash -c <command>`
 *   and its exit status is written to `<jobDir>/exit_status` (withExitStatusFile). For a job that qstat
 *   reports finished without an exit status, the adapter reads those files (one remote script for all
 *   of them). A job rpo itself deleted (it writes `<jobDir>/cancel_requested` before qdel) is
 *   `cancelled` unless it recorded exit 0 — also when it recorded a signal's status, which it can:
 *   scancel signals the job's processes one by one. Another job killed from outside writes nothing
 *   as a rule; then (walltime, node failure) it
 *   stays `unknown` and, once the wrappers forget it (~5 min), the engine declares it lost. Real PBS
 *   and Torque report Exit_status, so their scripts run the command with `exec` as rendered and no file
 *   is read (override with `exitStatusFiles`).
 * - Hold: the wrappers print a held job as `Q`; Slurm holds a job by setting its priority to 0
 *   (scontrol(1) "hold"), which qstat prints, so a queued job with `Priority = 0` is reported `held`.
 * - Times: the wrappers print Slurm's start time as `mtime` and its end time as `ctime`.
 * - Job names: no Variable_List is printed, so the submission key must be the job name (limit 200).
 *
 * Sweeps go out as job arrays where the server has them (pbs-array.ts: `-J` on PBS Pro/OpenPBS 20+,
 * `-t` on Torque; never on the wrappers, see `capabilities`). Each instance is known by its subjob id
 * (`1234[7].server`): a poll asks for the array (`1234[].server`) with `-t` and reports each subjob
 * under its own id, never the array's record; a lookup by key lists subjobs too and reads a subjob
 * as its instance (pbs-subjobs.ts). qdel, qsig and qrerun take subjob ids; qhold and qrls on a PBS Pro
 * subjob are refused (PBS Pro holds whole arrays only). A dependent of instances waits for their whole
 * array (pbs-commands.ts pbsDependTerm).
 *
 * Where the job folders live: the adapter remembers the folder of each job it submitted; with
 * `jobsRoot` (the engine's `<jobsRoot>/<submission key>` layout) it also finds them after a restart,
 * and `findBySubmissionKey` reads `<jobDir>/job_id` (written by the batch script before rpo learns the
 * id) for jobs the scheduler no longer lists, so a job submitted just before a crash is not sent twice.
 */

import { readFileSync } from 'node:fs'
import { RpoError, SchedulerCommandError } from '../../src/core/errors.js'
import { packageRoot } from '../../src/package-root.js'
import { stageCheckpointHelper } from '../../src/scheduler/checkpoint-helper.js'
import { readOutputTails } from '../../src/scheduler/output-tails.js'
import { runBatchScript } from '../../src/scheduler/run-batch-script.js'
import type {
  Inventory,
  InventoryNode,
  JobObservation,
  JobSubmission,
  NativeJobId,
  SchedulerAdapter,
  SchedulerCapabilities,
  SubmissionKey,
  SubmitResult,
} from '../../src/scheduler/scheduler-adapter.js'
import { asNativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import { isSafeName } from '../../src/script/shell-quote.js'
import { readUtcOffsetMinutes } from '../../src/transport/cluster-clock.js'
import type { ExecResult, Transport } from '../../src/transport/transport.js'
import { groupPbsSweeps, type PbsBatchUnit, renderPbsArrayScript } from './pbs-array.js'
import {
  isPbsServerUnavailable,
  onlyUnknownPbsJobs,
  pbsCommandError,
  pbsJobsAlreadyGone,
} from './pbs-command-errors.js'
import {
  buildPbsnodesArgv,
  buildQalterPriorityArgv,
  buildQdelArgv,
  buildQholdArgv,
  buildQrerunArgv,
  buildQrlsArgv,
  buildQsigArgv,
  buildQstatAllArgv,
  buildQstatArgv,
  buildQstatVersionArgv,
} from './pbs-commands.js'
import { detectPbsFlavor, PBS_FLAVORS, type PbsDialect, type PbsFlavorName, pbsDialectFor } from './pbs-flavors.js'
import { PbsJobFolders, pbsJobSequence } from './pbs-job-folders.js'
import { findPbsJobsBySubmissionKey, PBS_JOB_ID, type PbsJobRecord, toPbsJobObservations } from './pbs-job-record.js'
import {
  findPbsMemoryKillMessage,
  pbsOutputFiles,
  pbsOverMemoryFromAccounting,
  pbsOverMemoryFromOutput,
} from './pbs-memory-kill.js'
import { parsePbsQstatOutput } from './pbs-qstat-output.js'
import { PBS_JOB_TEMPLATE_FILE, type PbsScriptOptions, renderPbsScript } from './pbs-script.js'
import { isPbsFinishedState } from './pbs-states.js'
import { pbsArrayParentId, pbsRecordKey, pbsSubjobIndex } from './pbs-subjobs.js'
import { parsePbsnodesJson, parsePbsnodesText, parsePbsnodesXml } from './pbsnodes-parser.js'
import {
  buildMarkAndDeleteScript,
  buildQsubBatchScript,
  buildReadJobFilesScript,
  type JobFilesFound,
  type JobFilesRequest,
  parseQsubBatchOutput,
  parseReadJobFilesOutput,
  pbsJobDir,
  type QsubBatchJob,
  withExitStatusFile,
} from './qsub-batch.js'

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

// Slurm job names have no small limit; the wrappers show no Variable_List, so the key must fit here
const WRAPPERS_MAX_JOB_NAME = 200

export class PbsAdapter implements SchedulerAdapter {
  readonly kind = 'pbs' as const
  readonly #transport: Transport
  readonly #options: PbsAdapterOptions
  readonly #template: string
  #dialect: PbsDialect | null
  #detecting: Promise<PbsDialect> | null = null
  #utcOffsetMinutes: number | null = null
  readonly #jobFolders: PbsJobFolders
  /** Checkpoint helper folders already copied to the cluster by this adapter. */
  readonly #stagedHelpers = new Set<string>()
  /** Scheduler commands run so far (each qstat/pbsnodes/qdel/qhold/qrls/qrerun/qalter/qsig and each qsub batch). */
  commandsRun = 0

  constructor(options: PbsAdapterOptions) {
    this.#transport = options.transport
    this.#options = options
    this.#jobFolders = new PbsJobFolders(options.jobsRoot)
    this.#dialect = options.flavor === undefined ? null : pbsDialectFor(options.flavor)
    this.#template = readFileSync(`${packageRoot()}/${PBS_JOB_TEMPLATE_FILE}`, 'utf8')
  }

  /** What this server can do; conservative (no requeue, arrays, priority, signal) until the flavor is known. */
  get capabilities(): SchedulerCapabilities {
    const full = this.#dialect?.recognized === true
    return {
      nativeDependencies: true,
      hold: true,
      requeue: full, // qrerun: broken in the Slurm wrappers
      arrays: this.#arraysOn(this.#dialect),
      wholeArrayDependencies: this.#arraysOn(this.#dialect),
      // the job script arms its own timer for a checkpointing job (pbs-script.ts buildPbsSignalTimer)
      signalsBeforeLimit: true,
      priority: full, // qalter -p: not in the Slurm wrappers
      signal: full, // qsig: not in the Slurm wrappers
    }
  }

  // The Slurm Torque wrappers' qsub takes -t (it becomes sbatch --array), but their qstat prints the
  // array's tasks as plain Slurm job ids without an index, so no instance could be told apart or
  // observed: never arrays there. PBS Pro before OpenPBS 20 has no `%` throttle (pbs-flavors.ts).
  #arraysOn(dialect: PbsDialect | null): boolean {
    return (
      dialect?.recognized === true &&
      this.#options.arrays !== false &&
      PBS_FLAVORS[dialect.flavor].arrays.supported(dialect.version)
    )
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
      const result = await this.#transport.exec(argv, { idempotent: true, timeoutMs: this.#timeout() })
      if (result.exitCode === 127 || /command not found|No such file or directory/i.test(result.stderr)) {
        throw new SchedulerCommandError(
          'command-failed',
          argv,
          result.exitCode,
          result.stderr,
          `qstat is not available on ${this.#transport.description}: is this a PBS or Torque login node?`,
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

  /**
   * The batch script for one job, as it would be submitted (for `rpo compile`). Needs the flavor:
   * configure it, or let any other call (inventory, which `rpo compile` runs first) detect it.
   */
  renderScript(job: JobSubmission): string {
    if (this.#dialect === null) {
      throw new RpoError(
        'internal',
        'the PBS flavor is not known yet: configure `flavor`, or detect it (adapter.detect()) before rendering',
      )
    }
    return this.#render(job, this.#dialect)
  }

  /** The scripts of a batch (`rpo compile`): one per scheduler job, a sweep's array carrying all its instances. */
  renderScripts(jobs: readonly JobSubmission[]): { keys: string[]; script: string }[] {
    const dialect = this.#dialect
    if (dialect === null) return jobs.map((job) => ({ keys: [job.submissionKey], script: this.renderScript(job) }))
    return this.#units(jobs, dialect).map((unit) => ({
      keys: (unit.array?.members ?? [unit.job]).map((m) => m.submissionKey),
      script: this.#renderUnit(unit, dialect),
    }))
  }

  async inventory(): Promise<Inventory> {
    const dialect = await this.detect()
    const result = await this.#run(buildPbsnodesArgv(dialect), { idempotent: true })
    const options =
      this.#options.script?.gpuTypeResource === undefined
        ? {}
        : { gpuTypeResource: this.#options.script.gpuTypeResource }
    const nodes: InventoryNode[] =
      dialect.format === 'json'
        ? parsePbsnodesJson(result.stdout, options)
        : dialect.format === 'xml'
          ? parsePbsnodesXml(result.stdout, options)
          : parsePbsnodesText(result.stdout, options)
    return { nodes }
  }

  async submit(jobs: readonly JobSubmission[]): Promise<readonly SubmitResult[]> {
    if (jobs.length === 0) return []
    const dialect = await this.detect()
    await stageCheckpointHelper(this.#transport, jobs, this.#stagedHelpers)
    const early = new Map<string, SubmitResult>()
    const batch: QsubBatchJob[] = []
    for (const unit of this.#units(jobs, dialect)) {
      const refuse = (message: string) => {
        for (const { submissionKey } of unit.array?.members ?? [unit.job]) {
          early.set(submissionKey, { kind: 'rejected', submissionKey, message })
        }
      }
      // an in-batch upstream this adapter refused: the dependent cannot be wired, refuse it too
      if (unit.job.dependsOn.some((d) => d.jobId === null && early.has(d.submissionKey))) {
        refuse('an upstream job of this batch was refused')
        continue
      }
      try {
        batch.push({ ...unit, script: this.#renderUnit(unit, dialect) })
      } catch (error) {
        if (!(error instanceof RpoError) || error.code !== 'spec-invalid') throw error
        refuse(error.message)
      }
    }
    const submitted = new Map<string, SubmitResult>()
    if (batch.length > 0) {
      this.commandsRun++
      const script = buildQsubBatchScript(batch, { flavor: dialect.flavor })
      const result = await runBatchScript(this.#transport, script, this.#timeout(jobs.length))
      const results = parseQsubBatchOutput(result.stdout, batch)
      const folders = new Map(
        batch.flatMap((b) => (b.array?.members ?? [b.job]).map((m) => [m.submissionKey as string, pbsJobDir(m)])),
      )
      for (const r of results) {
        if (r.kind === 'submitted') this.#jobFolders.remember(r.jobId, folders.get(r.submissionKey))
        submitted.set(r.submissionKey, r)
      }
      const unavailable = results.find((r) => r.kind === 'rejected' && isPbsServerUnavailable(r.message))
      if (unavailable?.kind === 'rejected') {
        // the server did not refuse the jobs, it did not answer: the engine finds what got through by key
        throw new SchedulerCommandError('scheduler-unavailable', ['qsub'], result.exitCode, unavailable.message)
      }
      const expected = batch.reduce((n, b) => n + (b.array?.members.length ?? 1), 0)
      if (results.length < expected && result.exitCode !== 0) {
        // the script died part way: the engine finds what did get submitted by submission key
        throw new SchedulerCommandError(
          'command-failed',
          ['qsub'],
          result.exitCode,
          result.stderr,
          `batch submission stopped after ${results.length} of ${expected} job(s): ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`,
        )
      }
    }
    return jobs.flatMap((job) => {
      const r = early.get(job.submissionKey) ?? submitted.get(job.submissionKey)
      return r ? [r] : []
    })
  }

  async poll(jobIds: readonly NativeJobId[]): Promise<readonly JobObservation[]> {
    if (jobIds.length === 0) return []
    const dialect = await this.detect()
    const zone = { utcOffsetMinutes: await this.#clusterUtcOffset() }
    // a subjob is asked for through its array with -t, which lists every subjob (queued ones too) on
    // PBS Pro and Torque alike; the array's own record never stands for an instance (another sequence)
    const subjobs = jobIds.some((id) => pbsSubjobIndex(id) !== null)
    const query = [...new Set(jobIds.map((id) => (pbsSubjobIndex(id) === null ? id : (pbsArrayParentId(id) ?? id))))]
    const result = await this.#run(buildQstatArgv(dialect, query, { subjobs }), {
      idempotent: true,
      allowFailure: onlyUnknownPbsJobs,
    })
    const asked = new Set(jobIds.map(pbsJobSequence))
    const printed = parsePbsQstatOutput(dialect, result.stdout, zone).filter((r) => asked.has(pbsJobSequence(r.jobId)))
    const records = await this.#withJobFiles(dialect, printed)
    const observed = await this.#recogniseMemoryKills(
      dialect,
      this.#observe(dialect, records),
      records.map((r) => r.record),
    )
    const bySequence = new Map<string, JobObservation>()
    for (const o of observed) bySequence.set(pbsJobSequence(o.jobId), o)
    // one observation per id asked about, under the id as rpo knows it; ids qstat did not print are absent
    return jobIds.flatMap((id) => {
      const o = bySequence.get(pbsJobSequence(id))
      return o ? [{ ...o, jobId: id }] : []
    })
  }

  async findBySubmissionKey(keys: readonly SubmissionKey[]): Promise<ReadonlyMap<SubmissionKey, NativeJobId>> {
    const found = new Map<SubmissionKey, NativeJobId>()
    if (keys.length === 0) return found
    const dialect = await this.detect()
    const zone = { utcOffsetMinutes: await this.#clusterUtcOffset() }
    // PBS cannot select by name or variable: list every job (history too where the server keeps it,
    // subjobs one by one where sweeps may be arrays) and filter; a subjob stands for its instance
    const argv = buildQstatAllArgv(dialect, { subjobs: this.#arraysOn(dialect) })
    const result = await this.#run(argv, { idempotent: true, allowFailure: onlyUnknownPbsJobs })
    const cutoff = Date.now() - (this.#options.lookbackDays ?? 14) * 86_400_000
    const records = parsePbsQstatOutput(dialect, result.stdout, zone).filter(
      (r) => r.createdAt === null || r.createdAt.getTime() >= cutoff,
    )
    for (const [key, id] of findPbsJobsBySubmissionKey(records, keys, pbsRecordKey)) found.set(key, id)
    // jobs the scheduler no longer lists (the wrappers forget finished jobs after ~5 min): the id the
    // batch script wrote to the job folder proves the job was submitted, so it is not sent again
    const jobsRoot = this.#options.jobsRoot
    const rest = keys.filter((k) => !found.has(k) && isSafeName(k))
    if (jobsRoot !== undefined && rest.length > 0) {
      const files = await this.#readJobFiles(rest.map((k) => ({ dir: `${jobsRoot}/${k}`, files: ['jobId'] })))
      rest.forEach((key, i) => {
        const id = files.get(i)?.jobId
        if (id !== undefined && PBS_JOB_ID.test(id)) found.set(key, asNativeJobId(id))
      })
    }
    if (jobsRoot !== undefined) for (const [key, id] of found) this.#jobFolders.remember(id, `${jobsRoot}/${key}`)
    return found
  }

  async cancel(jobIds: readonly NativeJobId[]): Promise<void> {
    if (jobIds.length === 0) return
    const dialect = await this.detect()
    const argv = buildQdelArgv(jobIds)
    // a job that already ended needs no deleting: the wrappers' qdel then exits non-zero in silence
    if (!this.#usesExitStatusFiles(dialect)) {
      await this.#run(argv, { idempotent: true, allowFailure: pbsJobsAlreadyGone })
      return
    }
    // without exit statuses a deleted job looks like any job killed from outside: mark it first
    const dirs = jobIds.flatMap((id) => {
      const dir = this.#jobFolders.ofJob(id)
      return dir === undefined ? [] : [dir]
    })
    this.commandsRun++
    const result = await this.#transport.execScript(buildMarkAndDeleteScript(dirs, argv), {
      idempotent: true,
      timeoutMs: this.#timeout(),
    })
    if (result.exitCode !== 0 && !pbsJobsAlreadyGone(result)) throw pbsCommandError(argv, result)
  }

  /** `qhold`; refused for one instance of a PBS Pro job array (see #refuseSubjobHold). */
  async hold(jobIds: readonly NativeJobId[]): Promise<void> {
    if (jobIds.length === 0) return
    await this.#refuseSubjobHold(jobIds, 'holding (qhold)')
    await this.#run(buildQholdArgv(jobIds), { idempotent: true })
  }

  /** `qrls`; refused for one instance of a PBS Pro job array (see #refuseSubjobHold). */
  async release(jobIds: readonly NativeJobId[]): Promise<void> {
    if (jobIds.length === 0) return
    await this.#refuseSubjobHold(jobIds, 'releasing (qrls)')
    await this.#run(buildQrlsArgv(jobIds), { idempotent: true })
  }

  // PBS Pro qhold(1B)/qrls(1B) act on jobs and whole arrays, "not on subjobs": holding the array
  // instead would silently hold its other instances too, so say so rather than do it
  async #refuseSubjobHold(jobIds: readonly NativeJobId[], what: string): Promise<void> {
    const subjob = jobIds.find((id) => pbsSubjobIndex(id) !== null)
    if (subjob === undefined) return
    const dialect = await this.detect()
    if (PBS_FLAVORS[dialect.flavor].arrays.holdSubjobs) return
    throw new RpoError(
      'usage',
      `${what} one instance of a job array is not possible on ${this.#describeDialect()}: ${subjob} is a subjob, ` +
        `and PBS Pro holds and releases whole arrays only (${pbsArrayParentId(subjob)}); ` +
        'hold the whole array, or submit sweeps without arrays (PBS adapter option arrays: false)',
    )
  }

  /** Put running jobs back in the queue (`qrerun`; they must be rerunnable, `script.rerunnable`). */
  async requeue(jobIds: readonly NativeJobId[]): Promise<void> {
    await this.#require('requeue', 'requeue (qrerun)')
    if (jobIds.length > 0) await this.#run(buildQrerunArgv(jobIds), { idempotent: true })
  }

  /** The priority within the queue, -1024 (lowest) … 1023: `qalter -p`. */
  async setPriority(jobIds: readonly NativeJobId[], priority: number): Promise<void> {
    await this.#require('priority', 'changing a job priority (qalter -p)')
    if (jobIds.length > 0) await this.#run(buildQalterPriorityArgv(jobIds, priority), { idempotent: true })
  }

  /**
   * The contract's Slurm-style nice (0 highest … 10000 lowest, src/core/policy/nice-levels.ts) as a
   * PBS priority (1023 highest … -1024 lowest).
   */
  async setNice(jobIds: readonly NativeJobId[], nice: number): Promise<void> {
    const clamped = Math.min(10_000, Math.max(0, nice))
    await this.setPriority(jobIds, Math.round(1023 - (clamped / 10_000) * 2047))
  }

  /** Send a signal to running jobs: `qsig -s <signal>`. */
  async signal(jobIds: readonly NativeJobId[], signal: string): Promise<void> {
    await this.#require('signal', 'signalling a job (qsig)')
    if (jobIds.length > 0) await this.#run(buildQsigArgv(jobIds, signal), { idempotent: false })
  }

  async close(): Promise<void> {
    await this.#transport.close()
  }

  #units(jobs: readonly JobSubmission[], dialect: PbsDialect): PbsBatchUnit[] {
    return this.#arraysOn(dialect) ? groupPbsSweeps(jobs, dialect.flavor) : jobs.map((job) => ({ job }))
  }

  #renderUnit(unit: PbsBatchUnit, dialect: PbsDialect): string {
    if (unit.array === undefined) return this.#render(unit.job, dialect)
    const members = unit.array.members.map((m) => ({ ...m, command: this.#command(m, dialect) }))
    return renderPbsArrayScript(unit.array, members, this.#scriptOptions(dialect))
  }

  #render(job: JobSubmission, dialect: PbsDialect): string {
    return renderPbsScript(
      this.#template,
      { ...job, command: this.#command(job, dialect) },
      this.#scriptOptions(dialect),
    )
  }

  // the command as the script runs it: recording its own exit status where the server reports none
  #command(job: JobSubmission, dialect: PbsDialect): string {
    return this.#usesExitStatusFiles(dialect) ? withExitStatusFile(job.command, pbsJobDir(job)) : job.command
  }

  #scriptOptions(dialect: PbsDialect): PbsScriptOptions {
    const script = this.#options.script ?? {}
    const wrappers = !dialect.recognized
    return {
      ...script,
      flavor: dialect.flavor,
      ...(wrappers && script.maxJobNameLength === undefined ? { maxJobNameLength: WRAPPERS_MAX_JOB_NAME } : {}),
    }
  }

  #usesExitStatusFiles(dialect: PbsDialect): boolean {
    return this.#options.exitStatusFiles ?? !dialect.recognized
  }

  // finished jobs without an exit status: the exit status (or rpo's cancel marker) from the job folder
  async #withJobFiles(
    dialect: PbsDialect,
    records: readonly PbsJobRecord[],
  ): Promise<{ record: PbsJobRecord; cancelled: boolean }[]> {
    const plain = records.map((record) => ({ record, cancelled: false }))
    if (!this.#usesExitStatusFiles(dialect)) return plain
    const wanted = plain.flatMap((entry, i) => {
      if (!isPbsFinishedState(entry.record.nativeState) || entry.record.exitStatus !== null) return []
      const dir = this.#jobFolders.of(entry.record)
      return dir === undefined ? [] : [{ i, dir }]
    })
    if (wanted.length === 0) return plain
    const files = await this.#readJobFiles(wanted.map((w) => ({ dir: w.dir, files: ['exitStatus', 'cancelMarker'] })))
    wanted.forEach(({ i, dir }, n) => {
      const found: JobFilesFound = files.get(n) ?? {}
      const entry = plain[i] as { record: PbsJobRecord; cancelled: boolean }
      this.#jobFolders.remember(entry.record.jobId, dir)
      const exitStatus =
        found.exitStatus !== undefined && /^-?\d{1,5}$/.test(found.exitStatus) ? Number(found.exitStatus) : null
      // rpo deleted it and it did not succeed: cancelled, whatever it recorded. qdel (scancel) signals
      // every process of the job in turn, so when the command dies first the job script may still
      // write 143 before its own signal lands — a failure only by the order of two kill() calls
      if (found.cancelMarker !== undefined && exitStatus !== 0) {
        entry.cancelled = true
      } else if (exitStatus !== null) {
        const family = entry.record.family ?? PBS_FLAVORS[dialect.flavor].exitStatusFamily
        entry.record = { ...entry.record, exitStatus, family }
      }
    })
    return plain
  }

  #observe(dialect: PbsDialect, entries: readonly { record: PbsJobRecord; cancelled: boolean }[]): JobObservation[] {
    const family = PBS_FLAVORS[dialect.flavor].exitStatusFamily
    const observations = toPbsJobObservations(
      entries.map((e) => e.record),
      { family },
    )
    return observations.map((o, i) => {
      const { record, cancelled } = entries[i] as { record: PbsJobRecord; cancelled: boolean }
      if (cancelled) {
        return { ...o, state: 'cancelled', reason: 'deleted by rpo (qdel); this server reports no exit status' }
      }
      // Slurm (behind the wrappers) holds a job by setting its priority to 0; qstat prints it as Q
      if (!dialect.recognized && o.state === 'pending' && record.attributes.Priority?.trim() === '0') {
        return { ...o, state: 'held', reason: 'held (priority 0: qhold or qsub -h)' }
      }
      if (pbsSubjobIndex(record.jobId) === null) return o
      // a subjob carries its array's name: report the instance it runs
      const named = { ...o, name: pbsRecordKey(record) ?? o.name }
      // held by the server itself for its array's throttle (pbs-flavors.ts): it releases it itself
      const silent = PBS_FLAVORS[dialect.flavor].arrays.silentThrottleHolds
      if (silent && o.state === 'held' && !/[uosp]/.test(record.holdTypes ?? '')) {
        return { ...named, state: 'pending', reason: 'waiting for a slot of its job array (held by the server itself)' }
      }
      return named
    })
  }

  // a MoM polling memory kills with a plain signal status on some servers (pbs-memory-kill.ts):
  // accounting's figures, else the MoM's message in the job's output, make it out_of_memory
  async #recogniseMemoryKills(
    dialect: PbsDialect,
    observations: readonly JobObservation[],
    records: readonly PbsJobRecord[],
  ): Promise<JobObservation[]> {
    const judged = observations.map(pbsOverMemoryFromAccounting)
    // behind the wrappers a job Slurm SIGKILLed wrote no exit status: finished, outcome unknown
    const candidate = (o: JobObservation, record: PbsJobRecord) =>
      o.state === 'failed' ||
      (this.#usesExitStatusFiles(dialect) && o.state === 'unknown' && isPbsFinishedState(record.nativeState))
    const unexplained = judged.flatMap((o, i) => {
      const record = records[i]
      const dir = record !== undefined && candidate(o, record) ? this.#jobFolders.of(record) : undefined
      return dir === undefined ? [] : [{ i, files: pbsOutputFiles(dir) }]
    })
    if (unexplained.length === 0) return judged
    this.commandsRun++
    const tails = await readOutputTails(this.#transport, unexplained, this.#timeout(unexplained.length))
    unexplained.forEach(({ i }, n) => {
      const message = findPbsMemoryKillMessage(tails.get(n) ?? '')
      const o = judged[i]
      if (message !== null && o !== undefined) judged[i] = pbsOverMemoryFromOutput(o, message)
    })
    return judged
  }

  async #readJobFiles(requests: readonly JobFilesRequest[]): Promise<Map<number, JobFilesFound>> {
    const result = await this.#transport.execScript(buildReadJobFilesScript(requests), {
      idempotent: true,
      timeoutMs: this.#timeout(requests.length),
    })
    if (result.exitCode !== 0) throw pbsCommandError(['cat'], result)
    return parseReadJobFilesOutput(result.stdout)
  }

  async #require(capability: 'requeue' | 'priority' | 'signal', what: string): Promise<void> {
    await this.detect()
    if (!this.capabilities[capability]) {
      throw new RpoError(
        'usage',
        `${what} is not supported by this PBS server (${this.#describeDialect()}): the Slurm Torque wrappers lack it`,
      )
    }
  }

  #describeDialect(): string {
    const d = this.#dialect
    if (d === null) return 'flavor unknown'
    if (!d.recognized) return 'qstat names no version: the Slurm Torque wrappers'
    return `${d.flavor}${d.version === null ? '' : ` ${d.version}`}`
  }

  // text and some JSON output print local wall-clock times: learn the cluster's offset once
  async #clusterUtcOffset(): Promise<number> {
    this.#utcOffsetMinutes ??= await readUtcOffsetMinutes(this.#transport)
    return this.#utcOffsetMinutes
  }

  #timeout(jobs = 1): number {
    return (this.#options.commandTimeoutMs ?? 120_000) + jobs * 200
  }

  async #run(
    argv: readonly string[],
    options: { idempotent: boolean; allowFailure?: (result: ExecResult) => boolean },
  ): Promise<ExecResult> {
    this.commandsRun++
    const result = await this.#transport.exec(argv, { idempotent: options.idempotent, timeoutMs: this.#timeout() })
    if (result.exitCode === 0 || options.allowFailure?.(result)) return result
    throw pbsCommandError(argv, result)
  }
}
