/**
 * `rpo explain <task>`: why a task is where it is — its state and rpo's reason, what it waits for
 * (upstream tasks, a budget, the scheduler), its priority score and the terms that make it, the
 * decision the enforcement would take for its job, and its project's budgets. Read-only.
 */
import type { JobExplanation } from '../core/policy/enforcement-plan.js'
import type { ProjectScore } from '../core/policy/priority-score.js'
import { requireTask } from '../core/scheduling/run-snapshot.js'
import { PLACED_EVENT } from '../engine/gpu-placement-step.js'
import type { RunStore } from '../store/run-store.js'
import { type BudgetReportLine, budgetReportLines } from './budget-report.js'
import type { BudgetService } from './budget-service.js'

export interface TaskExplanation {
  readonly runId: string
  readonly taskId: string
  readonly project: string | null
  readonly state: string
  readonly reason: string | null
  readonly attempt: {
    readonly number: number
    readonly jobId: string | null
    readonly jobState: string
    readonly schedulerState: string | null
    readonly schedulerReason: string | null
    readonly heldByRpo: string | null
    readonly nice: number | null
  } | null
  /** Plain sentences, most pressing first. */
  readonly waitingFor: readonly string[]
  /** The enforcement's judgement of the task's job (absent without budgets or priorities). */
  readonly job: JobExplanation | null
  readonly projectScore: ProjectScore | null
  readonly budgets: readonly BudgetReportLine[]
  /** Why the project's budget (or the decision) cannot be judged: its work waits meanwhile. */
  readonly budgetProblems: readonly string[]
  /** What the task's jobs said about their checkpoints (newest last), for tasks that checkpoint. */
  readonly checkpoints: readonly string[]
  /** The GPU types its latest submission asked for and why (the `task:placed` journal entry); null: none decided. */
  readonly placement: string | null
}

export async function explainTask(
  store: RunStore,
  budgets: BudgetService,
  runId: string,
  taskId: string,
  now: number,
): Promise<TaskExplanation> {
  const { run, snapshot } = await store.loadSnapshot(runId)
  const task = requireTask(snapshot, taskId)
  const attempt = snapshot.latestAttempts.find((a) => a.taskId === taskId) ?? null
  const definition = snapshot.pipeline.tasks.find((t) => t.name === task.group)
  const waitingFor: string[] = []
  if (task.state === 'pending' || task.state === 'retry_wait') {
    const byGroup = new Map<string, string[]>()
    for (const t of snapshot.tasks) {
      const states = byGroup.get(t.group)
      if (states) states.push(t.state)
      else byGroup.set(t.group, [t.state])
    }
    for (const dep of definition?.after ?? []) {
      const states = byGroup.get(dep.task) ?? []
      const open = states.filter((s) => s !== 'succeeded' && s !== 'skipped').length
      if (open > 0) waitingFor.push(`upstream ${dep.task}: ${open} of ${states.length} not finished`)
    }
    if (task.state === 'retry_wait' && task.nextAttemptAt) waitingFor.push(`its next attempt at ${task.nextAttemptAt}`)
  }
  if (task.reason?.startsWith('budget:')) waitingFor.push(task.reason)
  if (attempt?.heldReason) waitingFor.push(`held by rpo: ${attempt.heldReason}`)
  if (attempt && (attempt.state === 'pending' || attempt.state === 'held') && task.state === 'active') {
    waitingFor.push(
      `the scheduler: job ${attempt.jobId ?? '(being submitted)'} is ${attempt.nativeState ?? attempt.state}${attempt.reason ? ` (${attempt.reason})` : ''}`,
    )
  }
  // what cannot be judged is said in the explanation, never a reason to explain nothing
  const budgetProblems: string[] = []
  const decided = await budgets.decide(now).catch((error: unknown) => {
    budgetProblems.push(`the budget decision cannot be made: ${messageOf(error)}`)
    return null
  })
  const job = decided?.plan.explanations.find((e) => e.attemptKey === attempt?.submissionKey) ?? null
  const projectScore = decided?.plan.projectScores.find((p) => p.project === run.project) ?? null
  const judged = await budgets.statuses(now).catch((error: unknown) => {
    budgetProblems.push(`budgets cannot be read: ${messageOf(error)}`)
    return null
  })
  const statuses = judged?.statuses ?? []
  for (const problem of judged?.problems ?? []) {
    if (problem.project === run.project) budgetProblems.push(problem.message)
  }
  const journal = definition?.checkpoint || definition?.resources.gpus ? await store.listEvents(runId, 0, 100_000) : []
  const checkpoints = definition?.checkpoint
    ? journal
        .filter((e) => e.taskId === taskId && (e.type === 'task:checkpoint' || e.type === 'task:checkpoint-requested'))
        .map((e) => e.message)
    : []
  // the newest placement: the one the latest attempt went out with
  const placement = journal.filter((e) => e.taskId === taskId && e.type === PLACED_EVENT).at(-1)?.message ?? null
  return {
    runId,
    taskId,
    project: run.project,
    state: task.state,
    reason: task.reason,
    attempt: attempt && {
      number: attempt.attempt,
      jobId: attempt.jobId,
      jobState: attempt.state,
      schedulerState: attempt.nativeState,
      schedulerReason: attempt.reason,
      heldByRpo: attempt.heldReason ?? null,
      nice: attempt.nice ?? null,
    },
    waitingFor,
    job,
    projectScore,
    budgets: run.project === null ? [] : budgetReportLines(statuses, { project: run.project }),
    budgetProblems: [...new Set(budgetProblems)],
    checkpoints,
    placement,
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** The explanation as text for the terminal. */
export function renderExplanation(e: TaskExplanation): string {
  const lines = [`${e.taskId} (run ${e.runId}${e.project ? `, project ${e.project}` : ''}): ${e.state}`]
  if (e.reason) lines.push(`  reason: ${e.reason}`)
  if (e.attempt) {
    lines.push(
      `  attempt ${e.attempt.number}: job ${e.attempt.jobId ?? '-'} ${e.attempt.jobState}${e.attempt.schedulerState ? ` (${e.attempt.schedulerState})` : ''}${e.attempt.nice !== null ? `, nice ${e.attempt.nice}` : ''}`,
    )
  }
  if (e.placement) lines.push(`  placement: ${e.placement}`)
  if (e.waitingFor.length > 0) {
    lines.push('  waiting for:')
    for (const w of e.waitingFor) lines.push(`    - ${w}`)
  }
  if (e.job) {
    lines.push(`  decision: ${e.job.decision} — ${e.job.reason}`)
    lines.push(`  rank ${e.job.rank + 1}, score ${e.job.score.toFixed(3)} (project ${e.job.projectScore.toFixed(3)})`)
  }
  if (e.projectScore) {
    const t = e.projectScore.terms
    lines.push(
      `  priority terms: importance ${t.importance}, urgency ${t.urgency.toFixed(2)}${t.slackSeconds !== null ? ` (slack ${Math.round(t.slackSeconds / 3600)} h${t.deadlineUnreachable ? '; deadline cannot be met any more: ranks below work still at risk' : ''})` : ''}, fair share ${t.fairShare.toFixed(2)}${t.targetShare !== null ? ` (target ${(t.targetShare * 100).toFixed(0)}%, actual ${((t.actualShare ?? 0) * 100).toFixed(0)}%)` : ''}, progress lag ${t.progressLag.toFixed(2)}${e.projectScore.overSoft ? '; over a soft cap: ranks below in-budget work' : ''}`,
    )
  }
  if (e.checkpoints.length > 0) {
    lines.push('  checkpoints:')
    for (const c of e.checkpoints.slice(-5)) lines.push(`    - ${c}`)
  }
  for (const problem of e.budgetProblems) lines.push(`  ! ${problem}`)
  for (const b of e.budgets) {
    lines.push(
      `  budget ${b.resource}${b.gpuType ? `:${b.gpuType}` : ''}${b.user ? ` (${b.user})` : ''} ${b.cap}: used ${b.used.toFixed(2)} + committed ${b.committed.toFixed(2)} of ${b.budget.toFixed(2)} (${b.window}), ${b.state}`,
    )
  }
  return lines.join('\n')
}
