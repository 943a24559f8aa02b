/**
 * The tick's submit step: turn the plans' submissions into jobs (with each task as this tick left
 * it), send every run's jobs of the round in one batch, and record what the scheduler answered. The attempts were written
 * `submitting` before this runs, so a crash here is recovered by looking their keys up.
 *
 * When the batch throws, what happens to its attempts depends on the error: a transient one or a
 * connection's (dropped, timed out — the far side may still be submitting), or a busy store, leaves
 * them `submitting`, looked up and sent again next tick; a
 * rejection fails them; anything else (an internal error such as a job folder that cannot be
 * written) would fail the same way every tick, so the jobs the scheduler took anyway keep their ids
 * and the others end failed with the error as the reason — the retry policy decides what follows.
 */
import { isRpoError, TransportError } from '../core/errors.js'
import type { ResolvedTask } from '../core/pipeline/resolved-pipeline.js'
import type { TickPlan } from '../core/scheduling/plan-tick.js'
import {
  type AttemptObservation,
  newTaskSnapshot,
  type RunSnapshot,
  type TaskSnapshot,
} from '../core/scheduling/run-snapshot.js'
import { budgetActionEntry, type JournalEntry } from '../events/store-events.js'
import {
  asNativeJobId,
  asSubmissionKey,
  type JobSubmission,
  type SchedulerAdapter,
  type SubmitResult,
} from '../scheduler/scheduler-adapter.js'
import type { RunRecord, RunStore } from '../store/run-store.js'
import type { EngineEvents } from './engine-events.js'
import { type GpuPlacementDeps, type JobToPlace, placeRoundGpus } from './gpu-placement-step.js'
import { buildJobSubmission, type JobLayout } from './job-submission.js'

export interface SubmitDeps {
  readonly store: RunStore
  readonly adapter: SchedulerAdapter
  readonly layout: JobLayout
  readonly events: EngineEvents
  /** ISO time, from the engine's clock. */
  readonly now: () => string
  /** GPU placement against the live inventory (gpu-placement-step.ts); absent: jobs go out as asked. */
  readonly placement?: GpuPlacementDeps
}

/** One run's share of a round's submissions. */
export interface RoundSubmission {
  readonly run: RunRecord
  readonly snapshot: RunSnapshot
  readonly plan: Pick<TickPlan, 'submissions' | 'newTasks' | 'taskUpdates'>
  readonly observations?: readonly AttemptObservation[]
}

/** Submit what the plan decided for one run; returns how many jobs the scheduler took. */
export async function submitPlanned(
  deps: SubmitDeps,
  run: RunRecord,
  snapshot: RunSnapshot,
  plan: Pick<TickPlan, 'submissions' | 'newTasks' | 'taskUpdates'>,
  observations: readonly AttemptObservation[] = [],
): Promise<number> {
  return (await submitRound(deps, [{ run, snapshot, plan, observations }])).get(run.id) ?? 0
}

/**
 * Submit every run's planned jobs in ONE batch (one remote script on Slurm/PBS), dependencies
 * within each run wired as planned; returns how many jobs the scheduler took, per run.
 */
export async function submitRound(deps: SubmitDeps, runs: readonly RoundSubmission[]): Promise<Map<string, number>> {
  const counts = new Map(runs.map((r) => [r.run.id, 0]))
  const built = runs.flatMap((r) => buildJobs(deps, r))
  const jobs = deps.placement
    ? await placeRoundGpus(deps.placement, deps.store, built, Date.parse(deps.now()))
    : built.map((b) => b.job)
  if (jobs.length === 0) return counts
  const runById = new Map(runs.map((r) => [r.run.id, r.run]))
  const runOf = new Map(jobs.map((j) => [j.submissionKey as string, runById.get(j.runId)]))
  const note = (key: string) => {
    const runId = runOf.get(key)?.id ?? ''
    counts.set(runId, (counts.get(runId) ?? 0) + 1)
  }
  // jobs a budget sends out held: each hold is a budget action, as when enforcement holds a job
  const holds = new Map(
    runs.flatMap((r) =>
      r.plan.submissions.flatMap((sub) => (sub.hold && !sub.resend ? [[sub.submissionKey, sub.hold] as const] : [])),
    ),
  )
  try {
    for (const key of await sendBatch(deps, runOf, jobs, holds)) note(key)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const code = isRpoError(error) ? error.code : 'internal'
    for (const r of runs)
      if (r.plan.submissions.length > 0) deps.events.emit('submit:error', { runId: r.run.id, code, message })
    if (isRpoError(error) && error.code === 'job-rejected') {
      await failAttempts(deps, jobs, `rejected by the scheduler: ${message}`)
      return counts
    }
    // the outcome is unknown: the attempts stay `submitting` and the next tick looks their keys up
    if (mayStillSubmit(error)) return counts
    for (const key of await settleFailedBatch(deps, runOf, jobs, message)) note(key)
  }
  return counts
}

function buildJobs(deps: SubmitDeps, { run, snapshot, plan, observations = [] }: RoundSubmission): JobToPlace[] {
  if (plan.submissions.length === 0) return []
  const tasks = new Map(snapshot.tasks.map((t) => [t.id, t]))
  for (const instance of plan.newTasks) tasks.set(instance.id, newTaskSnapshot(instance))
  // submit with what this tick decided: a resume's count, escalated memory, excluded nodes
  for (const [id, patch] of plan.taskUpdates) {
    const task = tasks.get(id)
    if (task) tasks.set(id, { ...task, ...patch })
  }
  // with the ids this tick's lookup found by submission key: a resend after a dropped
  // connection may depend on a job that did reach the scheduler and is not in this batch
  const knownJobIds = new Map([
    ...snapshot.latestAttempts.flatMap((a) => (a.jobId ? [[a.submissionKey, a.jobId] as const] : [])),
    ...observations.flatMap((o) => (o.kind === 'found' ? [[o.submissionKey, o.jobId] as const] : [])),
  ])
  // a resend after a crash goes out held if it was to be held
  const heldReasons = new Map(
    snapshot.latestAttempts.flatMap((a) => (a.heldReason ? [[a.submissionKey, a.heldReason] as const] : [])),
  )
  const definitions = new Map(run.pipeline.tasks.map((t) => [t.name, t]))
  return plan.submissions.map((s) => {
    const task = tasks.get(s.taskId) as TaskSnapshot
    const definition = definitions.get(task.group) as ResolvedTask
    const job = buildJobSubmission(deps.layout, {
      run,
      task,
      definition,
      attempt: s.attempt,
      submissionKey: s.submissionKey,
    })
    const dependsOn = s.dependsOn.map((d) => {
      const jobId = knownJobIds.get(d.submissionKey)
      return {
        submissionKey: asSubmissionKey(d.submissionKey),
        jobId: jobId ? asNativeJobId(jobId) : null,
        condition: d.condition,
      }
    })
    const hold = s.hold ?? (s.resend ? heldReasons.get(s.submissionKey) : undefined)
    return { run, definition, job: { ...job, dependsOn, ...(hold ? { hold: true } : {}) } }
  })
}

type RunOfKey = ReadonlyMap<string, RunRecord | undefined>

/** Send the batch; returns the submission keys the scheduler took. */
async function sendBatch(
  deps: SubmitDeps,
  runOf: RunOfKey,
  jobs: readonly JobSubmission[],
  holds: ReadonlyMap<string, string>,
): Promise<string[]> {
  const results = await deps.adapter.submit(jobs)
  // fault injection for the crash-safety tests: die after the scheduler took the jobs and before
  // their ids are recorded — the worst moment for exactly-once submission
  if (process.env.RPO_FAULT_INJECT === 'crash-after-submit') process.kill(process.pid, 'SIGKILL')
  const now = deps.now()
  await deps.store.updateAttempts(
    new Map(
      results.map((r) => [
        r.submissionKey as string,
        r.kind === 'submitted'
          ? { jobId: r.jobId as string, state: 'pending' as const }
          : { state: 'failed' as const, reason: `rejected by the scheduler: ${r.message}`, endedAt: now },
      ]),
    ),
    now,
  )
  const byKey = new Map(jobs.map((j) => [j.submissionKey as string, j]))
  await recordHolds(deps, runOf, byKey, results, holds, now)
  const submitted: string[] = []
  for (const result of results) {
    const job = byKey.get(result.submissionKey) as JobSubmission
    const runId = runOf.get(result.submissionKey)?.id ?? job.runId
    if (result.kind === 'rejected') {
      deps.events.emit('submit:error', {
        runId,
        code: 'job-rejected',
        message: `${job.taskId}: ${result.message}`,
      })
      continue
    }
    submitted.push(result.submissionKey)
    deps.events.emit('task:submitted', {
      runId,
      taskId: job.taskId,
      message: `submitted as ${result.jobId}`,
      jobId: result.jobId,
      attempt: job.attempt,
    })
  }
  return submitted
}

/** A `budget:hold` journal entry (a `budget.action` event) per job the scheduler took held for a budget. */
async function recordHolds(
  deps: SubmitDeps,
  runOf: RunOfKey,
  byKey: ReadonlyMap<string, JobSubmission>,
  results: readonly SubmitResult[],
  holds: ReadonlyMap<string, string>,
  now: string,
): Promise<void> {
  const journal = new Map<string, JournalEntry[]>()
  for (const result of results) {
    const reason = holds.get(result.submissionKey)
    if (result.kind !== 'submitted' || reason === undefined) continue
    const job = byKey.get(result.submissionKey) as JobSubmission
    const runId = runOf.get(result.submissionKey)?.id ?? job.runId
    const entries = journal.get(runId) ?? []
    if (entries.length === 0) journal.set(runId, entries)
    entries.push(budgetActionEntry('hold', { taskId: job.taskId, jobId: result.jobId, attempt: job.attempt }, reason))
  }
  for (const [runId, entries] of journal) await deps.store.appendEvents(runId, entries, now)
}

/**
 * After a batch failed for a reason that is not transient: the jobs the scheduler has under their
 * keys keep their ids, the others end failed. If the scheduler cannot even be asked, they stay
 * `submitting` for the next tick to look up.
 */
async function settleFailedBatch(
  deps: SubmitDeps,
  runOf: RunOfKey,
  jobs: readonly JobSubmission[],
  message: string,
): Promise<string[]> {
  let found: ReadonlyMap<string, string>
  try {
    found = await deps.adapter.findBySubmissionKey(jobs.map((j) => j.submissionKey))
  } catch {
    return []
  }
  await deps.store.updateAttempts(
    new Map(
      jobs.flatMap((j) =>
        found.has(j.submissionKey)
          ? [
              [
                j.submissionKey as string,
                { jobId: found.get(j.submissionKey) as string, state: 'pending' as const },
              ] as const,
            ]
          : [],
      ),
    ),
    deps.now(),
  )
  await failAttempts(
    deps,
    jobs.filter((j) => !found.has(j.submissionKey)),
    `submission failed: ${message}`,
  )
  for (const job of jobs) {
    const jobId = found.get(job.submissionKey)
    if (jobId)
      deps.events.emit('task:submitted', {
        runId: runOf.get(job.submissionKey)?.id ?? job.runId,
        taskId: job.taskId,
        message: `submitted as ${jobId}`,
        jobId,
        attempt: job.attempt,
      })
  }
  return [...found.keys()]
}

async function failAttempts(deps: SubmitDeps, jobs: readonly JobSubmission[], reason: string): Promise<void> {
  if (jobs.length === 0) return
  const endedAt = deps.now()
  await deps.store.updateAttempts(
    new Map(jobs.map((j) => [j.submissionKey as string, { state: 'failed' as const, reason, endedAt }])),
    endedAt,
  )
}

/**
 * Transient errors, and any trouble with the connection (a timed-out command may still be
 * submitting on the far side): a lookup now could miss a job that appears a moment later.
 */
function mayStillSubmit(error: unknown): boolean {
  return isRpoError(error) && (error.retryable || error instanceof TransportError)
}
