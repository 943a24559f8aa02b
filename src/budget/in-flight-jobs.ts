/**
 * The jobs in flight as budgets see them. Owns two readings of the store's in-flight attempts:
 * what they may still use at worst (commitments, for admission and reports) and the jobs an
 * enforcement decision is about (rate, elapsed, uncharged usage, critical path), plus when each
 * job was last charged, which both need so that nothing slips between two charges.
 */
import type { BudgetLedger } from '../core/budget/budget-ledger.js'
import type { Commitment } from '../core/budget/budget-status.js'
import { requestedRate } from '../core/budget/requested-tres.js'
import { scaleTresHours } from '../core/budget/tres-hours.js'
import { isTerminalJobState, type JobState } from '../core/job/job-state.js'
import type { ResolvedTask } from '../core/pipeline/resolved-pipeline.js'
import type { EnforcementJob } from '../core/policy/enforcement-plan.js'
import { computePriorities } from '../core/scheduling/priority.js'
import { attemptResources } from '../core/scheduling/run-snapshot.js'
import type { InFlightAttempt } from '../store/budget-store.js'

type GpuWeights = Readonly<Record<string, Readonly<Record<string, number>>>>

/** A job a budget decision is about, with the attempt it came from. */
export interface JudgedJob {
  readonly job: EnforcementJob
  readonly attempt: InFlightAttempt
  readonly definition: ResolvedTask
}

/**
 * What in-flight jobs may still use at worst: a running job's rate over what is left of its time
 * limit counted from its last charge (what it used since is not in the ledger yet).
 */
export function commitmentsOf(
  inFlight: readonly InFlightAttempt[],
  lastCharged: ReadonlyMap<string, number>,
  weights: GpuWeights,
): Commitment[] {
  const commitments: Commitment[] = []
  for (const attempt of inFlight) {
    // a held job commits nothing until it is released (admission re-checks it then)
    if (attempt.project === null || attempt.heldReason !== null || attempt.state === 'held') continue
    const definition = attempt.pipeline.tasks.find((t) => t.name === attempt.group)
    if (!definition) continue
    const resources = attemptResources(definition, attempt.overrides)
    commitments.push({
      project: attempt.project,
      user: attempt.user,
      rate: requestedRate(resources, weights[attempt.project] ?? {}),
      elapsedSeconds: chargedSeconds(attempt, lastCharged),
      timeLimitSeconds: resources.timeLimitSeconds,
    })
  }
  return commitments
}

/** The jobs with a scheduler id that are still queued, held or running, as enforcement reads them. */
export function judgedJobsOf(
  inFlight: readonly InFlightAttempt[],
  lastCharged: ReadonlyMap<string, number>,
  weights: GpuWeights,
  now: number,
): JudgedJob[] {
  const paths = new Map<string, Map<string, number>>()
  const jobs: JudgedJob[] = []
  for (const attempt of inFlight) {
    if (attempt.project === null || attempt.jobId === null) continue
    if (isTerminalJobState(attempt.state as JobState) || attempt.state === 'submitting') continue
    const definition = attempt.pipeline.tasks.find((t) => t.name === attempt.group)
    if (!definition) continue
    let runPaths = paths.get(attempt.runId)
    if (!runPaths) {
      runPaths = computePriorities(attempt.pipeline)
      paths.set(attempt.runId, runPaths)
    }
    const resources = attemptResources(definition, attempt.overrides)
    const running = attempt.state === 'running' || attempt.state === 'completing'
    const held = attempt.state === 'held' || attempt.heldReason !== null
    const rate = requestedRate(resources, weights[attempt.project] ?? {})
    const elapsed = running && attempt.startedAt ? Math.max(0, (now - Date.parse(attempt.startedAt)) / 1000) : 0
    // what it used since its last charge: not in the ledger yet, but spent
    const uncharged = running ? Math.max(0, elapsed - chargedSeconds(attempt, lastCharged)) : 0
    jobs.push({
      attempt,
      definition,
      job: {
        jobId: attempt.jobId,
        attemptKey: attempt.submissionKey,
        runId: attempt.runId,
        taskId: attempt.taskId,
        project: attempt.project,
        user: attempt.user,
        state: running ? 'running' : held ? 'held' : 'pending',
        heldByRpo: attempt.heldReason !== null,
        currentNice: attempt.nice,
        gpuType: resources.gpus?.types[0] ?? null,
        gpus: resources.gpus?.count ?? 0,
        rate,
        elapsedSeconds: elapsed,
        unchargedHours: scaleTresHours(rate, uncharged / 3600),
        timeLimitSeconds: resources.timeLimitSeconds,
        checkpointable: definition.checkpoint !== null,
        readySince: attempt.submittedAt,
        criticalPathSeconds: runPaths.get(attempt.group) ?? 0,
      },
    })
  }
  return jobs
}

/** Per submission key, when its job was last charged (epoch ms). */
export function lastChargeBySubmission(entries: BudgetLedger): Map<string, number> {
  const last = new Map<string, number>()
  for (const entry of entries) {
    if (entry.kind !== 'charge' || !entry.usageKey) continue
    const key = entry.usageKey.slice(0, entry.usageKey.lastIndexOf('@'))
    const at = Date.parse(entry.at)
    if (!(at <= (last.get(key) ?? Number.NEGATIVE_INFINITY))) last.set(key, at)
  }
  return last
}

/** How much of a running job's time the ledger already holds: from its start to its last charge. */
function chargedSeconds(attempt: InFlightAttempt, lastCharged: ReadonlyMap<string, number>): number {
  if (!attempt.startedAt) return 0
  const last = lastCharged.get(attempt.submissionKey)
  return last === undefined ? 0 : Math.max(0, (last - Date.parse(attempt.startedAt)) / 1000)
}
