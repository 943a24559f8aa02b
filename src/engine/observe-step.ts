/**
 * The tick's observe step: what the scheduler says about the attempts in flight of every run of a
 * cluster round, asked ONCE: attempts written but without a job id are looked up by submission key
 * in one call, the others polled in one call (one squeue + at most one sacct on Slurm, whatever the
 * number of runs; accounting's figures of jobs that ended well are asked for only where budgets
 * charge them); a job that succeeded has its $RPO_OUTPUTS read. Jobs already concluded whose
 * accounting figure budgets still await ride along in that same poll, and what is said of them is
 * handed back apart, for charging only: it never reaches the planner. Also used when a run is
 * stopped, to record what each job really reported before the stop marks the rest.
 */
import path from 'node:path'
import { isTerminalJobState, type JobState } from '../core/job/job-state.js'
import type { AttemptObservation, AttemptSnapshot, RunSnapshot } from '../core/scheduling/run-snapshot.js'
import {
  asNativeJobId,
  asSubmissionKey,
  type JobObservation,
  type PollOptions,
  type SchedulerAdapter,
} from '../scheduler/scheduler-adapter.js'
import type { RunRecord } from '../store/run-store.js'
import type { EngineEvents } from './engine-events.js'
import { attemptsOn } from './run-clusters.js'

export interface ObserveDeps {
  readonly adapter: SchedulerAdapter
  /** Where attempt folders live on the target (`<jobsRoot>/<submission key>`). */
  readonly jobsRoot: string
  readonly readFile: (file: string) => Promise<string | null>
}

/** The latest attempts of active tasks whose jobs have not ended (or were never confirmed sent). */
export function liveAttempts(snapshot: RunSnapshot): AttemptSnapshot[] {
  const activeTasks = new Set(snapshot.tasks.filter((t) => t.state === 'active').map((t) => t.id))
  return snapshot.latestAttempts.filter((a) => activeTasks.has(a.taskId) && !isTerminalJobState(a.state as JobState))
}

export interface RoundRun {
  readonly run: RunRecord
  readonly snapshot: RunSnapshot
}

/** A round's one observation: per run, for planning; and the awaited jobs', for charging only. */
export interface RoundObservations {
  readonly byRun: Map<string, AttemptObservation[]>
  /** What the poll said about `accountingJobIds` (jobs it no longer knows are absent). */
  readonly accounting: JobObservation[]
}

/**
 * One observation of the cluster for every run of the round, split back per run. An outage fails
 * the poll, never the jobs: a run then plans without observations and the next round asks again;
 * a degraded poll (Slurm's accounting down) is said the same way, with the observations it has.
 * `accountingJobIds` (concluded jobs whose accounting is awaited) go in the same poll call.
 */
export async function observeRound(
  deps: ObserveDeps & { readonly clusterName: string; readonly events: EngineEvents },
  runs: readonly RoundRun[],
  accountingJobIds: readonly string[] = [],
  chargedRunIds: ReadonlySet<string> = new Set(),
): Promise<RoundObservations> {
  const runOfKey = new Map<string, string>()
  const live: AttemptSnapshot[] = []
  // the jobs whose accounting figures are wanted: the awaited ones, and those of runs budgets charge
  const accountingOf = new Set(accountingJobIds)
  for (const { run, snapshot } of runs) {
    for (const attempt of attemptsOn(deps.clusterName, run, snapshot, liveAttempts(snapshot))) {
      runOfKey.set(attempt.submissionKey, run.id)
      live.push(attempt)
      if (chargedRunIds.has(run.id) && attempt.jobId !== null) accountingOf.add(attempt.jobId)
    }
  }
  const byRun = new Map<string, AttemptObservation[]>(runs.map(({ run }) => [run.id, []]))
  let observed: Observed = { observations: [], others: [] }
  try {
    observed = await observe(deps, live, accountingJobIds, {
      onWarning: (warning) =>
        deps.events.emit('tick:error', { step: 'observe', cause: { code: warning.code, message: warning.message } }),
      accountingOf: [...accountingOf].map(asNativeJobId),
    })
  } catch (error) {
    deps.events.tickError('observe', error, { what: 'could not poll the scheduler' })
  }
  for (const observation of observed.observations)
    byRun.get(runOfKey.get(observation.submissionKey) ?? '')?.push(observation)
  return { byRun, accounting: observed.others }
}

/**
 * Observations for the live attempts: `found`/`never-submitted` for those without a job id, and
 * `observed`/`missing` for those with one. Throws when the scheduler cannot be asked.
 */
export async function observeAttempts(
  deps: ObserveDeps,
  live: readonly AttemptSnapshot[],
  poll: PollOptions = {},
): Promise<AttemptObservation[]> {
  return (await observe(deps, live, [], poll)).observations
}

/** `observed` (outputs read if it succeeded) or `missing` for each attempt that has a job id. */
export async function pollAttempts(
  deps: ObserveDeps,
  attempts: readonly AttemptSnapshot[],
  poll: PollOptions = {},
): Promise<AttemptObservation[]> {
  return (await pollJobs(deps, attempts, [], poll)).observations
}

interface Observed {
  readonly observations: AttemptObservation[]
  /** What the poll said of the other job ids it was given. */
  readonly others: JobObservation[]
}

async function observe(
  deps: ObserveDeps,
  live: readonly AttemptSnapshot[],
  otherJobIds: readonly string[],
  poll: PollOptions,
): Promise<Observed> {
  const unsent = live.filter((a) => a.jobId === null)
  const observations: AttemptObservation[] = []
  if (unsent.length > 0) {
    const found = await deps.adapter.findBySubmissionKey(unsent.map((a) => asSubmissionKey(a.submissionKey)))
    for (const attempt of unsent) {
      const jobId = found.get(asSubmissionKey(attempt.submissionKey))
      observations.push(
        jobId
          ? { kind: 'found', submissionKey: attempt.submissionKey, jobId }
          : { kind: 'never-submitted', submissionKey: attempt.submissionKey },
      )
    }
  }
  const polled = await pollJobs(deps, live, otherJobIds, poll)
  return { observations: [...observations, ...polled.observations], others: polled.others }
}

/** One poll call for the attempts with a job id and the other job ids, whichever are there. */
async function pollJobs(
  deps: ObserveDeps,
  attempts: readonly AttemptSnapshot[],
  otherJobIds: readonly string[],
  poll: PollOptions,
): Promise<Observed> {
  const withJob = attempts.filter((a) => a.jobId !== null)
  const ids = [...new Set([...withJob.map((a) => a.jobId as string), ...otherJobIds])]
  if (ids.length === 0) return { observations: [], others: [] }
  const polled = await deps.adapter.poll(ids.map(asNativeJobId), poll)
  const byId = new Map(polled.map((o) => [o.jobId as string, o]))
  // the outputs of every job that succeeded, read together: one file read after another cost a
  // round trip each over SSH, which a wide stage ending at once paid in series
  const outputs = await readAllOutputs(
    deps,
    withJob.filter((a) => byId.get(a.jobId as string)?.state === 'succeeded').map((a) => a.submissionKey),
  )
  const observations: AttemptObservation[] = []
  for (const attempt of withJob) {
    const job = byId.get(attempt.jobId as string)
    if (!job) {
      observations.push({ kind: 'missing', submissionKey: attempt.submissionKey })
      continue
    }
    const read = outputs.get(attempt.submissionKey) ?? { outputs: null, error: null }
    observations.push({
      kind: 'observed',
      submissionKey: attempt.submissionKey,
      job,
      outputs: read.outputs,
      outputsError: read.error,
    })
  }
  const others = [...new Set(otherJobIds)].flatMap((id) => {
    const job = byId.get(id)
    return job ? [job] : []
  })
  return { observations, others }
}

/** Outputs files read at most this many at a time (SFTP requests in flight on one channel). */
const OUTPUT_READS_IN_FLIGHT = 16

async function readAllOutputs(
  deps: ObserveDeps,
  keys: readonly string[],
): Promise<Map<string, { outputs: Record<string, unknown> | null; error: string | null }>> {
  const results = new Map<string, { outputs: Record<string, unknown> | null; error: string | null }>()
  let next = 0
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++] as string
      results.set(key, await readOutputs(deps, key))
    }
  }
  await Promise.all(Array.from({ length: Math.min(OUTPUT_READS_IN_FLIGHT, keys.length) }, worker))
  return results
}

async function readOutputs(
  deps: ObserveDeps,
  submissionKey: string,
): Promise<{ outputs: Record<string, unknown> | null; error: string | null }> {
  const file = path.posix.join(deps.jobsRoot, submissionKey, 'outputs.json')
  const text = await deps.readFile(file)
  if (text === null || text.trim() === '') return { outputs: null, error: null }
  try {
    const value = JSON.parse(text) as unknown
    if (value && typeof value === 'object' && !Array.isArray(value))
      return { outputs: value as Record<string, unknown>, error: null }
    return {
      outputs: null,
      error: `$RPO_OUTPUTS (${file}) must hold a JSON object, got ${Array.isArray(value) ? 'a list' : typeof value}`,
    }
  } catch (error) {
    return { outputs: null, error: `$RPO_OUTPUTS (${file}) is not valid JSON: ${(error as Error).message}` }
  }
}
