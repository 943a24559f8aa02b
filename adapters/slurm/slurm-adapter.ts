/**
 * The Slurm adapter: composes the command builders and pure parsers of this folder with a Transport
 * (SSH or the local shell). It holds no policy. Every operation is one scheduler command for any
 * number of jobs (one squeue + at most one sacct per poll), and submissions go out as one remote
 * script per batch so a thousand jobs cost one SSH round trip. Commands run through the command
 * runner it shares with the PBS adapter (src/scheduler/command-runner.ts: timeouts, typed errors).
 */
import { readFileSync } from 'node:fs'
import { SchedulerCommandError } from '../../src/core/errors.js'
import { isTerminalJobState } from '../../src/core/job/job-state.js'
import { packageRoot } from '../../src/package-root.js'
import { stageCheckpointHelper } from '../../src/scheduler/checkpoint-helper.js'
import { CommandRunner } from '../../src/scheduler/command-runner.js'
import { readOutputTails } from '../../src/scheduler/output-tails.js'
import { runBatchScript } from '../../src/scheduler/run-batch-script.js'
import type {
  Inventory,
  JobControl,
  JobObservation,
  JobSubmission,
  NativeJobId,
  PollOptions,
  SchedulerAdapter,
  SubmissionKey,
  SubmitResult,
} from '../../src/scheduler/scheduler-adapter.js'
import { asNativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import type { RenderedScript, ScriptRenderer } from '../../src/scheduler/script-renderer.js'
import { isSafeName } from '../../src/script/shell-quote.js'
import { readUtcOffsetMinutes } from '../../src/transport/cluster-clock.js'
import type { ExecResult, Transport } from '../../src/transport/transport.js'
import { accountingOutage, awaitAccounting } from './accounting-wait.js'
import { parseSacct, sacctToJobObservations } from './sacct-parser.js'
import { type BatchJob, buildBatchSubmitScript, parseBatchSubmitOutput } from './sbatch-batch.js'
import { buildSinfoGresUsageArgv, parseSinfoFreeGpus, withFreeGpus } from './sinfo-gres-usage.js'
import { parseSinfoNodes } from './sinfo-parser.js'
import { groupIntoUnits, renderSlurmArrayScript } from './slurm-array.js'
import {
  buildSacctArgv,
  buildSacctByNameArgv,
  buildScancelArgv,
  buildScancelSignalArgv,
  buildScontrolArgv,
  buildScontrolNiceArgv,
  buildSinfoArgv,
  buildSqueueArgv,
  buildSqueueByNameArgv,
} from './slurm-commands.js'
import {
  findMemoryKillMessage,
  overMemoryFromAccounting,
  overMemoryFromOutput,
  slurmOutputFiles,
} from './slurm-memory-kill.js'
import { renderSlurmScript, SLURM_JOB_TEMPLATE_FILE, type SlurmScriptOptions } from './slurm-script.js'
import { isSqueueInvalidJobIdError, parseSqueue, squeueToJobObservations } from './squeue-parser.js'

export interface SlurmAdapterOptions {
  readonly transport: Transport
  /** Defaults for jobs that name none: partition, account, qos, checkpoint signal, requeue. */
  readonly script?: SlurmScriptOptions
  /** How far back `findBySubmissionKey` looks in accounting. @default 14 */
  readonly lookbackDays?: number
  /** Per scheduler command. @default 120000 */
  readonly commandTimeoutMs?: number
  /**
   * The engine's `<jobsRoot>/<submission key>` job folders: where the output of a job this adapter
   * did not submit itself (after a restart) is found, to tell a memory kill from a failure.
   */
  readonly jobsRoot?: string
}

// slurmctld says these when it is down or overloaded: worth retrying, never a job failure
const UNAVAILABLE =
  /Unable to contact slurm controller|Socket timed out|Connection refused|Slurm backup controller in standby|Zero Bytes were transmitted/i

/** Job folders remembered from submissions (the oldest are forgotten first; jobsRoot still finds them). */
const JOB_FOLDER_MEMORY = 10_000

export class SlurmAdapter implements SchedulerAdapter, ScriptRenderer {
  readonly kind = 'slurm' as const
  readonly capabilities = {
    nativeDependencies: true,
    hold: true,
    arrays: true,
    wholeArrayDependencies: false,
    priority: true,
    signal: true,
    signalsBeforeLimit: true,
  }
  readonly #transport: Transport
  readonly #runner: CommandRunner
  readonly #options: SlurmAdapterOptions
  readonly #template: string
  #utcOffsetMinutes: number | null = null
  readonly #stagedHelpers = new Set<string>()
  /** Job id → the folder its output goes to, for jobs this adapter submitted. */
  readonly #jobDirs = new Map<string, string>()
  /** When sacct last failed (slurmdbd down): the jobs that ended meanwhile reach accounting after it. */
  #accountingFailedAt: number | null = null

  constructor(options: SlurmAdapterOptions) {
    this.#transport = options.transport
    this.#runner = new CommandRunner({
      transport: options.transport,
      scheduler: 'Slurm',
      unavailable: UNAVAILABLE,
      ...(options.commandTimeoutMs === undefined ? {} : { timeoutMs: options.commandTimeoutMs }),
    })
    this.#options = options
    this.#template = readFileSync(`${packageRoot()}/${SLURM_JOB_TEMPLATE_FILE}`, 'utf8')
  }

  /** The batch script for one job, as it would be submitted (for `rpo compile`). */
  renderScript(job: JobSubmission): string {
    return renderSlurmScript(this.#template, job, this.#options.script ?? {})
  }

  renderScripts(jobs: readonly JobSubmission[]): RenderedScript[] {
    return this.#units(jobs).map((u) => ({
      keys: (u.members ?? [u.job]).map((m) => m.submissionKey),
      script: u.script,
    }))
  }

  #units(jobs: readonly JobSubmission[]): BatchJob[] {
    return groupIntoUnits(
      jobs,
      (job) => this.renderScript(job),
      (members) => renderSlurmArrayScript(members, this.#options.script ?? {}),
    )
  }

  async inventory(options: { readonly freeGpus?: boolean } = {}): Promise<Inventory> {
    const result = await this.#run(buildSinfoArgv(), { idempotent: true })
    const nodes = parseSinfoNodes(result.stdout)
    if (!options.freeGpus || !nodes.some((n) => n.gpus.length > 0)) return { nodes }
    const usage = await this.#run(buildSinfoGresUsageArgv(), { idempotent: true })
    return { nodes: withFreeGpus(nodes, parseSinfoFreeGpus(usage.stdout)) }
  }

  async submit(jobs: readonly JobSubmission[]): Promise<readonly SubmitResult[]> {
    if (jobs.length === 0) return []
    const batch = this.#units(jobs)
    await stageCheckpointHelper(this.#transport, jobs, this.#stagedHelpers)
    const result = await runBatchScript(this.#transport, buildBatchSubmitScript(batch), this.#timeout(jobs.length))
    const results = parseBatchSubmitOutput(result.stdout, batch)
    const folders = new Map(jobs.map((job) => [job.submissionKey as string, job.jobDir]))
    for (const r of results) if (r.kind === 'submitted') this.#rememberJobDir(r.jobId, folders.get(r.submissionKey))
    if (results.length < jobs.length && result.exitCode !== 0) {
      // the script died part way: the engine finds what did get submitted by submission key
      throw new SchedulerCommandError(
        'command-failed',
        ['sbatch'],
        result.exitCode,
        result.stderr,
        `batch submission stopped after ${results.length} of ${jobs.length} job(s): ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`,
      )
    }
    return results
  }

  async poll(jobIds: readonly NativeJobId[], options: PollOptions = {}): Promise<readonly JobObservation[]> {
    if (jobIds.length === 0) return []
    const zone = { utcOffsetMinutes: await this.#clusterUtcOffset() }
    const live = await this.#run(buildSqueueArgv(jobIds), {
      idempotent: true,
      allowFailure: (r) => isSqueueInvalidJobIdError(r.stderr),
    })
    const fromSqueue = live.exitCode === 0 ? squeueToJobObservations(parseSqueue(live.stdout, undefined, zone)) : []
    const byId = new Map(fromSqueue.map((o) => [o.jobId as string, o]))
    // finished (or purged from slurmctld) jobs: accounting has their final record and usage. A job
    // squeue shows COMPLETED has exited 0 (squeueToJobObservations): nothing more is needed to
    // conclude it, and waiting for sacct would delay its dependents and the run's end by a round
    // trip — unless its figures are wanted (budgets)
    const figuresWanted = new Set<string>(options.accountingOf ?? [])
    const needAccounting = jobIds.filter((id) => {
      const o = byId.get(id)
      if (!o) return true
      return isTerminalJobState(o.state) && (o.exitCode === null || figuresWanted.has(id))
    })
    // why sacct could not be asked (slurmdbd down): the poll goes on from squeue alone
    let accountingDown: string | null = null
    if (needAccounting.length > 0) {
      let accounting: ExecResult | null = null
      try {
        accounting = await this.#run(buildSacctArgv(needAccounting), { idempotent: true })
      } catch (error) {
        accountingDown = accountingOutage(error)
        if (accountingDown === null) throw error
      }
      for (const o of accounting ? sacctToJobObservations(parseSacct(accounting.stdout, undefined, zone)) : []) {
        const fromQueue = byId.get(o.jobId)
        // while slurmctld still lists the job, its state wins: sacct lags by seconds, and for a job
        // being requeued it still shows the run that was just killed (FAILED) — taking that would end
        // an attempt that is in fact back in the queue. sacct adds the final record and the usage.
        if (!fromQueue || (isTerminalJobState(fromQueue.state) && isTerminalJobState(o.state))) byId.set(o.jobId, o)
      }
    }
    if (accountingDown !== null) this.#accountingFailedAt = Date.now()
    awaitAccounting(byId, needAccounting, {
      down: accountingDown !== null,
      sinceOutageMs: this.#accountingFailedAt === null ? null : Date.now() - this.#accountingFailedAt,
      now: Date.now(),
    })
    if (accountingDown !== null) {
      options.onWarning?.({
        code: 'accounting-unavailable',
        message: `accounting (sacct) is unavailable (${accountingDown}): rpo goes on from squeue; ${needAccounting.length} job(s) that ended or left squeue stay completing until sacct answers`,
      })
    }
    await this.#recogniseMemoryKills(byId)
    return jobIds.flatMap((id) => {
      const o = byId.get(id)
      return o ? [o] : []
    })
  }

  // without cgroups Slurm SIGKILLs a job over its memory and records it FAILED (slurm-memory-kill.ts):
  // accounting's figures, else slurmstepd's message in the job's output, make it out_of_memory
  async #recogniseMemoryKills(byId: Map<string, JobObservation>): Promise<void> {
    const unexplained: { id: string; files: string[] }[] = []
    for (const [id, o] of byId) {
      const judged = overMemoryFromAccounting(o)
      byId.set(id, judged)
      const dir = judged.state === 'failed' ? this.#jobDirOf(id, judged.name) : undefined
      if (dir !== undefined) unexplained.push({ id, files: slurmOutputFiles(dir, id) })
    }
    if (unexplained.length === 0) return
    const tails = await readOutputTails(this.#transport, unexplained, this.#timeout(unexplained.length))
    unexplained.forEach(({ id }, i) => {
      const message = findMemoryKillMessage(tails.get(i) ?? '')
      const o = byId.get(id)
      if (message !== null && o !== undefined) byId.set(id, overMemoryFromOutput(o, message))
    })
  }

  #jobDirOf(jobId: string, name: string | undefined): string | undefined {
    const known = this.#jobDirs.get(jobId)
    if (known !== undefined) return known
    const jobsRoot = this.#options.jobsRoot
    if (jobsRoot === undefined || name === undefined) return undefined
    // an array instance carries its array's name (rpo.<run>.<task>.array.<attempt>); its folder is the instance's
    const index = /_(\d+)$/.exec(jobId)?.[1]
    const array = /^(.*)\.array\.(\d+)$/.exec(name)
    const key = index !== undefined && array !== null ? `${array[1]}.${index}.${array[2]}` : name
    return isSafeName(key) ? `${jobsRoot.replace(/\/+$/, '')}/${key}` : undefined
  }

  #rememberJobDir(jobId: string, dir: string | undefined): void {
    if (dir === undefined) return
    this.#jobDirs.delete(jobId)
    this.#jobDirs.set(jobId, dir)
    if (this.#jobDirs.size > JOB_FOLDER_MEMORY) {
      const oldest = this.#jobDirs.keys().next().value
      if (oldest !== undefined) this.#jobDirs.delete(oldest)
    }
  }

  async findBySubmissionKey(keys: readonly SubmissionKey[]): Promise<ReadonlyMap<SubmissionKey, NativeJobId>> {
    const found = new Map<SubmissionKey, NativeJobId>()
    if (keys.length === 0) return found
    const zone = { utcOffsetMinutes: await this.#clusterUtcOffset() }
    // a sweep instance may have gone out inside an array job named rpo.<run>.<task>.array.<attempt>
    const names = new Set<string>(keys)
    for (const key of keys) {
      const instance = arrayInstance(key)
      if (instance) names.add(instance.arrayName)
    }
    const keyFor = (name: string | null | undefined, jobId: string): SubmissionKey | null => {
      if (!name) return null
      if (keys.includes(name as SubmissionKey)) return name as SubmissionKey
      const index = /_(\d+)$/.exec(jobId)?.[1]
      if (index === undefined) return null
      return keys.find((k) => arrayInstance(k)?.arrayName === name && arrayInstance(k)?.index === index) ?? null
    }
    const live = await this.#run(buildSqueueByNameArgv([...names] as SubmissionKey[]), { idempotent: true })
    for (const record of parseSqueue(live.stdout, undefined, zone)) {
      const key = keyFor(record.name, record.jobId)
      if (key) found.set(key, asNativeJobId(record.jobId))
    }
    if (keys.some((k) => !found.has(k))) {
      const accounting = await this.#run(
        buildSacctByNameArgv([...names] as SubmissionKey[], { lookbackDays: this.#options.lookbackDays ?? 14 }),
        { idempotent: true },
      )
      for (const o of sacctToJobObservations(parseSacct(accounting.stdout, undefined, zone))) {
        const key = keyFor(o.name, o.jobId)
        if (key && !found.has(key)) found.set(key, o.jobId)
      }
    }
    return found
  }

  async cancel(jobIds: readonly NativeJobId[]): Promise<void> {
    if (jobIds.length > 0) await this.#run(buildScancelArgv(jobIds), { idempotent: true })
  }

  /**
   * `scontrol hold|release`, a signal to the jobs' batch shells (e.g. SIGUSR2: checkpoint now,
   * `scancel --signal --batch`), Slurm's own priority knob (`scontrol update nice`; never on held
   * jobs: an update of nice releases them, see slurm-commands.ts).
   */
  async control(jobIds: readonly NativeJobId[], action: JobControl): Promise<void> {
    if (jobIds.length === 0) return
    const argv =
      action.kind === 'hold' || action.kind === 'release'
        ? buildScontrolArgv(action.kind, jobIds)
        : action.kind === 'signal'
          ? buildScancelSignalArgv(jobIds, action.signal, 'batch')
          : buildScontrolNiceArgv(jobIds, action.nice)
    await this.#run(argv, { idempotent: true })
  }

  async close(): Promise<void> {
    await this.#transport.close()
  }

  // slurm prints local wall-clock times: learn the cluster's offset once
  async #clusterUtcOffset(): Promise<number> {
    this.#utcOffsetMinutes ??= await readUtcOffsetMinutes(this.#transport)
    return this.#utcOffsetMinutes
  }

  #timeout(jobs = 1): number {
    return this.#runner.timeout(jobs)
  }

  #run(
    argv: readonly string[],
    options: { idempotent: boolean; allowFailure?: (result: ExecResult) => boolean },
  ): Promise<ExecResult> {
    return this.#runner.run(argv, options)
  }
}

/** `rpo.<run>.<task>.<index>.<attempt>` → the array job name its sweep would have used, and the index. */
function arrayInstance(key: string): { arrayName: string; index: string } | null {
  const m = /^(.*)\.(\d+)\.(\d+)$/.exec(key)
  return m ? { arrayName: `${m[1]}.array.${m[3]}`, index: m[2] as string } : null
}
