/**
 * The local executor: runs each attempt as a detached launcher process (templates/local/launcher.mjs)
 * that records its outcome in the job directory, so rpo can crash, restart and pick its jobs up
 * again. The job directory is the local "scheduler's" state: job id = submission key = folder name.
 * GPUs declared in the config are handed out as CUDA_VISIBLE_DEVICES indices.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { constants } from 'node:os'
import path from 'node:path'
import type { ResolvedLocalCluster } from '../../src/config/load-config.js'
import { RpoError } from '../../src/core/errors.js'
import type { JobState } from '../../src/core/job/job-state.js'
import { templatePath } from '../../src/package-root.js'
import type { ChangeNotifier } from '../../src/scheduler/change-notifier.js'
import {
  asNativeJobId,
  type Inventory,
  type JobControl,
  type JobObservation,
  type JobSubmission,
  type NativeJobId,
  type SchedulerAdapter,
  type SubmissionKey,
  type SubmitResult,
  unsupportedControl,
} from '../../src/scheduler/scheduler-adapter.js'
import { localTaskCommand } from '../../src/script/local-task-command.js'
import { killLeftovers } from './leftover-processes.js'

const LAUNCHER_GONE = 'launcher-gone'
const MAX_TIMER_MS = 2 ** 31 - 1

export interface LocalAdapterOptions {
  readonly cluster: ResolvedLocalCluster
  /** Folder that holds one sub-folder per attempt (`<jobsRoot>/<submission key>`). */
  readonly jobsRoot: string
}

interface LaunchStatus {
  state: 'running' | 'succeeded' | 'failed' | 'timeout' | 'cancelled' | 'out_of_memory'
  launcherPid: number
  pid?: number
  startedAt: string
  endedAt?: string
  exitCode?: number | null
  signal?: string | null
  reason?: string | null
  /** The most memory the task's processes were seen to hold (where the launcher can measure it). */
  maxRssMb?: number
}

interface JobFile {
  command: string
  cwd: string
  env: Record<string, string>
  timeLimitSeconds: number
  killGraceMs: number
  gpuDevices: number[]
  cpus: number
  memoryMb: number
  /** A checkpointing task: send `signal` to the command `leadSeconds` before the time limit. */
  checkpointWarning?: { signal: string; leadSeconds: number }
}

export class LocalAdapter implements SchedulerAdapter, ChangeNotifier {
  readonly kind = 'local' as const
  readonly capabilities = {
    nativeDependencies: false,
    hold: false,
    arrays: false,
    wholeArrayDependencies: false,
    priority: false,
    signal: true,
    signalsBeforeLimit: true,
  }
  readonly #cluster: ResolvedLocalCluster
  readonly #jobsRoot: string
  readonly #children = new Set<ChildProcess>()
  /** Keys launched by this process (their launcher may not have taken its lock yet). */
  readonly #launched = new Set<string>()
  /** GPU device indices held by jobs this adapter knows to be running. */
  readonly #gpuHolders = new Map<string, number[]>()
  #wake: (() => void) | null = null

  constructor(options: LocalAdapterOptions) {
    this.#cluster = options.cluster
    // absolute: the launcher marks the job's processes with this folder, whatever its working folder
    this.#jobsRoot = path.resolve(options.jobsRoot)
  }

  jobDir(key: string): string {
    return path.join(this.#jobsRoot, key)
  }

  async inventory(options: { readonly freeGpus?: boolean } = {}): Promise<Inventory> {
    const gpus = this.#cluster.gpus.map((g) => ({ type: g.type, count: g.count }))
    return {
      nodes: [
        {
          name: 'localhost',
          cpus: this.#cluster.cpus,
          memoryMb: this.#cluster.memoryMb,
          gpus,
          partitions: [],
          state: 'idle',
          // what #allocateGpus would find free now: placement must not pick a type it cannot start on
          ...(options.freeGpus ? { gpusFree: this.#freeGpus() } : {}),
        },
      ],
    }
  }

  /** How many devices of each GPU type no running job holds. */
  #freeGpus(): { type: string; count: number }[] {
    return this.#gpuDevices().map(({ type, free }) => ({ type, count: free.length }))
  }

  /** Each GPU type's devices (indices in config order) that no running job holds. */
  #gpuDevices(): { type: string; free: number[] }[] {
    const busy = new Set([...this.#gpuHolders.values()].flat())
    let index = 0
    return this.#cluster.gpus.map((gpu) => {
      const devices = Array.from({ length: gpu.count }, (_, i) => index + i)
      index += gpu.count
      return { type: gpu.type, free: devices.filter((d) => !busy.has(d)) }
    })
  }

  async submit(jobs: readonly JobSubmission[]): Promise<readonly SubmitResult[]> {
    const results: SubmitResult[] = []
    for (const job of jobs) {
      const dir = this.jobDir(job.submissionKey)
      if (path.resolve(job.jobDir) !== path.resolve(dir)) {
        throw new RpoError('internal', `local job ${job.submissionKey}: job directory must be ${dir}`)
      }
      let command: string
      try {
        command = localTaskCommand(job)
      } catch (error) {
        if (!(error instanceof RpoError)) throw error
        results.push({ kind: 'rejected', submissionKey: job.submissionKey, message: error.message })
        continue
      }
      // a resend after a crash: the launcher already started, so there is nothing to do
      if (!existsSync(path.join(dir, 'status.json'))) this.#launch(job, dir, command)
      results.push({ kind: 'submitted', submissionKey: job.submissionKey, jobId: asNativeJobId(job.submissionKey) })
    }
    return results
  }

  #launch(job: JobSubmission, dir: string, command: string): void {
    mkdirSync(dir, { recursive: true })
    const gpuDevices = this.#allocateGpus(job)
    const env: Record<string, string> = { ...job.env }
    if (job.resources.gpus) env.CUDA_VISIBLE_DEVICES = gpuDevices.join(',')
    if (job.checkpoint) {
      // the helper ships with the package: import it from there
      env.RPO_CHECKPOINT_LIB = templatePath('checkpoint')
      env.PYTHONPATH = [env.RPO_CHECKPOINT_LIB, env.PYTHONPATH ?? process.env.PYTHONPATH].filter(Boolean).join(':')
    }
    const jobFile: JobFile = {
      // the task's command behind its software environment (src/script/local-task-command.ts)
      command,
      cwd: job.workDir,
      env,
      timeLimitSeconds: job.resources.timeLimitSeconds,
      killGraceMs: this.#cluster.killGraceMs,
      gpuDevices,
      cpus: job.resources.cpus,
      memoryMb: job.resources.memoryMb,
      ...(job.checkpoint
        ? { checkpointWarning: { signal: `SIG${job.checkpoint.signal}`, leadSeconds: job.checkpoint.leadSeconds } }
        : {}),
    }
    const file = path.join(dir, 'job.json')
    writeFileSync(`${file}.tmp`, JSON.stringify(jobFile, null, 2))
    renameSync(`${file}.tmp`, file)
    const child = spawn(process.execPath, [templatePath('local', 'launcher.mjs'), dir], {
      detached: true,
      stdio: 'ignore',
      cwd: job.workDir,
    })
    child.on('error', () => undefined)
    this.#children.add(child)
    this.#launched.add(job.submissionKey)
    child.on('exit', () => {
      this.#children.delete(child)
      this.#gpuHolders.delete(job.submissionKey)
      this.#wake?.()
    })
    child.unref()
    if (gpuDevices.length > 0) this.#gpuHolders.set(job.submissionKey, gpuDevices)
  }

  #allocateGpus(job: JobSubmission): number[] {
    const request = job.resources.gpus
    if (!request) return []
    for (const { type, free } of this.#gpuDevices()) {
      if (request.types.length > 0 && !request.types.includes(type)) continue
      if (free.length >= request.count) return free.slice(0, request.count)
    }
    // the planner only starts work that fits, so this means its view and ours disagree
    throw new RpoError('resources-unsatisfiable', `no ${request.count} free GPU(s) for ${job.submissionKey}`)
  }

  async poll(jobIds: readonly NativeJobId[]): Promise<readonly JobObservation[]> {
    const observations: JobObservation[] = []
    for (const jobId of jobIds) {
      const observation = this.#observe(jobId)
      if (!observation) continue
      // a job reported lost must not go on running beside the attempt that replaces it
      if (observation.nativeState === LAUNCHER_GONE) {
        const status = readJson<LaunchStatus>(path.join(this.jobDir(jobId), 'status.json'))
        await killLeftovers(status?.pid, this.jobDir(jobId))
      }
      observations.push(observation)
    }
    return observations
  }

  #observe(jobId: NativeJobId): JobObservation | null {
    const dir = this.jobDir(jobId)
    const status = readJson<LaunchStatus>(path.join(dir, 'status.json'))
    if (!status) {
      if (!existsSync(path.join(dir, 'job.json'))) return null
      return {
        jobId,
        state: 'pending',
        nativeState: 'starting',
        exitCode: null,
        startedAt: null,
        endedAt: null,
        name: jobId,
      }
    }
    const job = readJson<JobFile>(path.join(dir, 'job.json'))
    if (status.state === 'running') {
      if (!isAlive(status.launcherPid)) {
        // the launcher died without recording an end (killed, or the machine restarted)
        return {
          jobId,
          state: 'node_fail',
          nativeState: LAUNCHER_GONE,
          exitCode: null,
          reason: 'the local launcher process disappeared before the task ended',
          startedAt: new Date(status.startedAt),
          endedAt: null,
          name: jobId,
        }
      }
      if (job && job.gpuDevices.length > 0) this.#gpuHolders.set(jobId, job.gpuDevices)
    } else {
      this.#gpuHolders.delete(jobId)
    }
    const state: JobState = status.state
    const endedAt = status.endedAt ? new Date(status.endedAt) : null
    const startedAt = new Date(status.startedAt)
    return {
      jobId,
      state,
      nativeState: status.state,
      exitCode: status.exitCode ?? null,
      signal: status.signal ?? null,
      reason: status.reason ?? null,
      startedAt,
      endedAt,
      name: jobId,
      usage: {
        elapsedSeconds: ((endedAt ?? new Date()).getTime() - startedAt.getTime()) / 1000,
        ...(status.maxRssMb === undefined ? {} : { maxRssMb: status.maxRssMb }),
        allocTres: job ? { cpu: job.cpus, mem: job.memoryMb, 'gres/gpu': job.gpuDevices.length } : {},
      },
    }
  }

  async findBySubmissionKey(keys: readonly SubmissionKey[]): Promise<ReadonlyMap<SubmissionKey, NativeJobId>> {
    const found = new Map<SubmissionKey, NativeJobId>()
    for (const key of keys) {
      // the launcher's lock means it started and owns the job; before that, a resend is harmless
      // (a second launcher would find the lock taken and leave)
      const dir = this.jobDir(key)
      const started = existsSync(path.join(dir, 'launcher.lock')) || existsSync(path.join(dir, 'status.json'))
      if (started || this.#launched.has(key)) found.set(key, asNativeJobId(key))
    }
    return found
  }

  async cancel(jobIds: readonly NativeJobId[]): Promise<void> {
    for (const jobId of jobIds) await this.#cancelOne(jobId)
  }

  async #cancelOne(jobId: NativeJobId): Promise<void> {
    const dir = this.jobDir(jobId)
    if (!existsSync(dir)) return
    // a launcher that has not started yet reads this marker and never runs the command
    writeFileSync(path.join(dir, 'cancel-requested'), '')
    const deadline = Date.now() + 5000
    for (;;) {
      const status = readJson<LaunchStatus>(path.join(dir, 'status.json'))
      if (status) {
        if (status.state !== 'running') return
        if (isAlive(status.launcherPid)) signal(status.launcherPid, 'SIGTERM')
        else await killLeftovers(status.pid, dir)
        return
      }
      // no lock: the launcher has not begun and will see the marker; lock without status: it is starting
      if (!existsSync(path.join(dir, 'launcher.lock')) || Date.now() > deadline) return
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }

  /**
   * Signal a running task's command (the launcher's child), e.g. USR2 to ask it to checkpoint. No
   * holds (the planner keeps work back in rpo instead) and no nice: there is no queue here.
   */
  async control(jobIds: readonly NativeJobId[], action: JobControl): Promise<void> {
    if (action.kind !== 'signal') throw unsupportedControl('the local executor', action, 'it has no queue')
    await this.#signal(jobIds, action.signal)
  }

  async #signal(jobIds: readonly NativeJobId[], name: string): Promise<void> {
    const signalName = `SIG${name.replace(/^SIG/, '')}` as NodeJS.Signals
    if (!(signalName in constants.signals)) throw new RpoError('usage', `not a signal name: ${JSON.stringify(name)}`)
    for (const jobId of jobIds) {
      const status = readJson<LaunchStatus>(path.join(this.jobDir(jobId), 'status.json'))
      if (status?.state === 'running' && status.pid) signal(status.pid, signalName)
    }
  }

  /** Resolves when one of the jobs started here ends, or after `timeoutMs`. */
  waitForChange(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      // setTimeout fires a delay past 2^31-1 ms at once; waking early is harmless, spinning is not
      const timer = setTimeout(done, Math.min(timeoutMs, MAX_TIMER_MS))
      const self = this
      function done() {
        clearTimeout(timer)
        if (self.#wake === done) self.#wake = null
        resolve()
      }
      this.#wake = done
    })
  }

  async close(): Promise<void> {
    this.#wake?.()
  }
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T
  } catch {
    return null
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch {
    // already gone
  }
}
