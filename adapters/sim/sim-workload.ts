/**
 * What a simulated job really does, declared instead of run: how much work it has, how it ends,
 * whether and how often it checkpoints, and whether it speaks the checkpoint protocol of
 * docs/checkpointing.md (asked to checkpoint, it saves and exits 85). The default model reads the
 * job's environment, so a pipeline file can declare its tasks' behaviour (`env: { RPO_SIM_DURATION: 2h }`).
 */
import { RpoError } from '../../src/core/errors.js'
import { parseDurationSeconds } from '../../src/core/pipeline/units.js'
import type { JobSubmission } from '../../src/scheduler/scheduler-adapter.js'

/** A job's true behaviour, every field decided. Times are seconds of work (= seconds of running). */
export interface SimWorkload {
  /** Work to do; at full speed a run of this long finishes it. */
  readonly durationSeconds: number
  /** Exit code when the work is done (or when it crashes at `failAtSeconds`, where 0 becomes 1). */
  readonly exitCode: number
  /** Crash when progress reaches this point; null: never. */
  readonly failAtSeconds: number | null
  /** Periodic checkpoints at every multiple of this much progress (aligned, as the protocol's steps are); null: none. */
  readonly checkpointEverySeconds: number | null
  /** Asked with `checkpointSignal`, the job saves its progress and exits 85; otherwise that signal kills it. */
  readonly checkpointOnSignal: boolean
  /** Signal name without `SIG`. */
  readonly checkpointSignal: string
  /** How long the save on signal takes before the exit 85 (the job does no work meanwhile). */
  readonly checkpointSaveSeconds: number
  /** The scheduler sends `checkpointSignal` this long before the time limit (Slurm `--signal=B:SIG@lead`); null: never. */
  readonly signalLeadSeconds: number | null
  /** Goes back to the queue after a node failure (Slurm `--requeue`) instead of ending `node_fail`. */
  readonly requeueable: boolean
  /** Starts from the newest checkpoint even on its first run (`RPO_RESUME=1`, a new attempt of a task). */
  readonly resume: boolean
  /** Who owns the checkpoints: the same key for every attempt of a task (its `RPO_CHECKPOINT_DIR`). */
  readonly checkpointKey: string
}

/** What a workload model returns: the duration, and whatever else differs from the defaults. */
export type SimWorkloadSpec = Partial<SimWorkload> & { readonly durationSeconds: number }

/** Decides each submission's true work. Must be deterministic: same job, same answer. */
export type SimWorkloadModel = (job: JobSubmission) => SimWorkloadSpec

/** The environment names the default model reads (besides the protocol's own RPO_CHECKPOINT_*). */
export const SIM_ENV = {
  duration: 'RPO_SIM_DURATION',
  exit: 'RPO_SIM_EXIT',
  failAt: 'RPO_SIM_FAIL_AT',
  failAttempts: 'RPO_SIM_FAIL_ATTEMPTS',
  checkpointEvery: 'RPO_SIM_CHECKPOINT_EVERY',
  checkpointOnSignal: 'RPO_SIM_CHECKPOINT_ON_SIGNAL',
  checkpointSave: 'RPO_SIM_CHECKPOINT_SAVE',
  requeue: 'RPO_SIM_REQUEUE',
} as const

// docs/checkpointing.md: "Default when unset: every 600 s of wall time"
const PROTOCOL_DEFAULT_EVERY_SECONDS = 600

/**
 * The default model: the job's environment says what it does.
 * - `RPO_SIM_DURATION` (seconds or `90s`, `2h`, `1d`, `HH:MM:SS`; default `defaultDurationSeconds`),
 *   `RPO_SIM_EXIT` (default 0),
 * - `RPO_SIM_FAIL_AT` crash at this progress, only on attempts ≤ `RPO_SIM_FAIL_ATTEMPTS` when set,
 * - `RPO_SIM_CHECKPOINT_EVERY` (a duration or `never`), `RPO_SIM_CHECKPOINT_ON_SIGNAL` (0/1),
 *   `RPO_SIM_CHECKPOINT_SAVE` (a duration), `RPO_SIM_REQUEUE` (0/1),
 * - and the protocol's own: a job with `RPO_CHECKPOINT_DIR` checkpoints every `RPO_CHECKPOINT_EVERY`
 *   (its time part; 600 s when unset) and on `RPO_CHECKPOINT_SIGNAL`; `RPO_CHECKPOINT_LEAD_SECONDS`
 *   is when the scheduler signals it; `RPO_RESUME=1` resumes from the task's checkpoints.
 * @throws RpoError `spec-invalid` naming the variable whose value is not understood.
 */
export function workloadFromEnv(job: JobSubmission, defaultDurationSeconds = 60): SimWorkloadSpec {
  const env = job.env
  const protocol = env.RPO_CHECKPOINT_DIR !== undefined && env.RPO_CHECKPOINT_DIR !== ''
  const every =
    env[SIM_ENV.checkpointEvery] !== undefined
      ? readEvery(SIM_ENV.checkpointEvery, env[SIM_ENV.checkpointEvery])
      : protocol
        ? readEvery('RPO_CHECKPOINT_EVERY', env.RPO_CHECKPOINT_EVERY ?? `${PROTOCOL_DEFAULT_EVERY_SECONDS}s`)
        : null
  const failAttempts = readInteger(SIM_ENV.failAttempts, env[SIM_ENV.failAttempts])
  const fails = failAttempts === null || job.attempt <= failAttempts
  const spec: { -readonly [K in keyof SimWorkload]?: SimWorkload[K] } & { durationSeconds: number } = {
    durationSeconds: readDuration(SIM_ENV.duration, env[SIM_ENV.duration]) ?? defaultDurationSeconds,
    exitCode: readInteger(SIM_ENV.exit, env[SIM_ENV.exit]) ?? 0,
    failAtSeconds: fails ? readDuration(SIM_ENV.failAt, env[SIM_ENV.failAt]) : null,
    checkpointEverySeconds: every,
    checkpointOnSignal:
      readFlag(SIM_ENV.checkpointOnSignal, env[SIM_ENV.checkpointOnSignal]) ?? (protocol || every !== null),
    checkpointSaveSeconds: readDuration(SIM_ENV.checkpointSave, env[SIM_ENV.checkpointSave]) ?? 0,
    signalLeadSeconds: readDuration('RPO_CHECKPOINT_LEAD_SECONDS', env.RPO_CHECKPOINT_LEAD_SECONDS),
    resume: env.RPO_RESUME === '1',
  }
  const requeueable = readFlag(SIM_ENV.requeue, env[SIM_ENV.requeue])
  if (requeueable !== null) spec.requeueable = requeueable
  if (env.RPO_CHECKPOINT_SIGNAL) spec.checkpointSignal = env.RPO_CHECKPOINT_SIGNAL
  if (protocol) spec.checkpointKey = env.RPO_CHECKPOINT_DIR as string
  return spec
}

/**
 * Fill in the defaults and check the numbers: a job that checkpoints is requeueable and answers
 * SIGUSR2 unless told otherwise; checkpoints belong to the (run, task).
 * @throws RpoError `spec-invalid` for a negative or non-finite time.
 */
export function resolveWorkload(job: JobSubmission, spec: SimWorkloadSpec): SimWorkload {
  const every = spec.checkpointEverySeconds ?? null
  const onSignal = spec.checkpointOnSignal ?? every !== null
  const workload: SimWorkload = {
    durationSeconds: spec.durationSeconds,
    exitCode: spec.exitCode ?? 0,
    failAtSeconds: spec.failAtSeconds ?? null,
    checkpointEverySeconds: every,
    checkpointOnSignal: onSignal,
    checkpointSignal: normalizeSignal(spec.checkpointSignal ?? 'USR2'),
    checkpointSaveSeconds: spec.checkpointSaveSeconds ?? 0,
    signalLeadSeconds: spec.signalLeadSeconds ?? null,
    requeueable: spec.requeueable ?? (every !== null || onSignal),
    resume: spec.resume ?? false,
    checkpointKey: spec.checkpointKey ?? `${job.runId}/${job.taskId}`,
  }
  for (const [name, value] of [
    ['durationSeconds', workload.durationSeconds],
    ['failAtSeconds', workload.failAtSeconds],
    ['checkpointSaveSeconds', workload.checkpointSaveSeconds],
    ['signalLeadSeconds', workload.signalLeadSeconds],
  ] as const) {
    if (value !== null && !(Number.isFinite(value) && value >= 0)) {
      throw new RpoError(
        'spec-invalid',
        `sim workload of ${job.submissionKey}: ${name} must be ≥ 0 seconds, got ${value}`,
      )
    }
  }
  if (every !== null && !(Number.isFinite(every) && every > 0)) {
    throw new RpoError(
      'spec-invalid',
      `sim workload of ${job.submissionKey}: checkpointEverySeconds must be > 0, got ${every}`,
    )
  }
  if (!Number.isInteger(workload.exitCode) || workload.exitCode < 0 || workload.exitCode > 255) {
    throw new RpoError(
      'spec-invalid',
      `sim workload of ${job.submissionKey}: exitCode must be 0…255, got ${workload.exitCode}`,
    )
  }
  return workload
}

const SIGNAL_NUMBERS: Readonly<Record<string, string>> = {
  '1': 'HUP',
  '2': 'INT',
  '9': 'KILL',
  '10': 'USR1',
  '12': 'USR2',
  '15': 'TERM',
}

/** `SIGUSR2`, `usr2`, `12` → `USR2` (Linux numbering). */
export function normalizeSignal(signal: string): string {
  const word = signal.trim().toUpperCase().replace(/^SIG/, '')
  return SIGNAL_NUMBERS[word] ?? word
}

function readDuration(name: string, value: string | undefined): number | null {
  if (value === undefined || value === '') return null
  const seconds = parseDurationSeconds(value)
  if (seconds === null)
    throw new RpoError('spec-invalid', `${name}=${JSON.stringify(value)} is not a duration (90, 90s, 2h, 01:30:00)`)
  return seconds
}

// the protocol's form: `600s`, `10m`, `500steps,30m`, `never`; the simulator has no steps, only time
function readEvery(name: string, value: string | undefined): number | null {
  if (value === undefined || value.trim().toLowerCase() === 'never') return null
  const times = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '' && !/^\d+\s*steps?$/i.test(part))
    .map((part) => readDuration(name, part) as number)
  return times.length === 0 ? null : Math.min(...times)
}

function readInteger(name: string, value: string | undefined): number | null {
  if (value === undefined || value === '') return null
  if (!/^\d+$/.test(value.trim()))
    throw new RpoError('spec-invalid', `${name}=${JSON.stringify(value)} is not a whole number`)
  return Number(value.trim())
}

function readFlag(name: string, value: string | undefined): boolean | null {
  if (value === undefined || value === '') return null
  if (value === '1' || value.toLowerCase() === 'true') return true
  if (value === '0' || value.toLowerCase() === 'false') return false
  throw new RpoError('spec-invalid', `${name}=${JSON.stringify(value)} must be 0 or 1`)
}
