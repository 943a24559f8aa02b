/**
 * Carrying an enforcement plan out on one cluster: hold, release, checkpoint-and-requeue (a
 * signal; the job's exit 85 resumes its task), cancel and renice through the adapter, marking
 * the attempts in the store and recording a `budget:<action>` journal entry on the run (and with
 * it a `budget.action` event). A failed action is reported, never thrown, so one refusal does not
 * stop the others.
 */
import type { BudgetProblem } from '../core/budget/budget-judgement.js'
import type { EnforcementPlan } from '../core/policy/enforcement-plan.js'
import { asNativeJobId, type SchedulerAdapter } from '../scheduler/scheduler-adapter.js'
import type { RunStore } from '../store/run-store.js'
import type { JudgedJob } from './in-flight-jobs.js'

export interface EnforcementOutcome {
  readonly plan: EnforcementPlan
  /** Actions the adapter carried out; a failed one is reported, not thrown. */
  readonly applied: number
  readonly failures: readonly string[]
  /** Budgets that cannot be judged (their work is held) and deadlines ranked without: each a tick error. */
  readonly problems: readonly BudgetProblem[]
}

export interface EnforcementTarget {
  readonly clusterName: string
  readonly adapter: SchedulerAdapter
  readonly store: RunStore
  /** Attempts already asked to checkpoint, so a slow save is not signalled again every round. */
  readonly signalled: Set<string>
}

export async function applyEnforcement(
  plan: EnforcementPlan,
  jobs: readonly JudgedJob[],
  target: EnforcementTarget,
  now: number,
): Promise<EnforcementOutcome> {
  const { adapter, store, signalled } = target
  const byKey = new Map(jobs.map((j) => [j.attempt.submissionKey, j]))
  const failures: string[] = []
  let applied = 0
  const at = new Date(now).toISOString()
  for (const action of plan.actions) {
    const judged = byKey.get(action.attemptKey)
    if (!judged || judged.attempt.cluster !== target.clusterName) continue
    const jobId = asNativeJobId(action.jobId)
    try {
      switch (action.kind) {
        case 'requeue': {
          // checkpoint and stop: the exit 85 resumes the task, and admission submits it held
          if (signalled.has(action.attemptKey)) continue
          const signal = judged.definition.checkpoint?.signal
          if (!signal || !adapter.capabilities.signal) continue
          await adapter.control([jobId], { kind: 'signal', signal })
          signalled.add(action.attemptKey)
          break
        }
        case 'cancel':
          await adapter.cancel([jobId])
          break
        case 'hold':
          if (!adapter.capabilities.hold) continue
          await adapter.control([jobId], { kind: 'hold' })
          await store.budgets.markAttempt(action.attemptKey, { heldReason: action.reason })
          break
        case 'release':
          if (!adapter.capabilities.hold) continue
          await adapter.control([jobId], { kind: 'release' })
          await store.budgets.markAttempt(action.attemptKey, { heldReason: null })
          break
        case 'setNice':
          if (!adapter.capabilities.priority) continue
          await adapter.control([jobId], { kind: 'nice', nice: action.nice })
          await store.budgets.markAttempt(action.attemptKey, { nice: action.nice })
          break
      }
      applied++
      if (action.kind !== 'setNice') {
        await store.appendEvent(
          judged.attempt.runId,
          {
            type: `budget:${action.kind}` as never,
            taskId: judged.attempt.taskId,
            message: `${action.kind} job ${action.jobId}: ${action.reason}`,
            data: { jobId: action.jobId, attempt: judged.attempt.attempt, reason: action.reason },
          },
          at,
        )
      }
    } catch (error) {
      failures.push(`${action.kind} ${action.jobId}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  return { plan, applied, failures, problems: plan.problems }
}
