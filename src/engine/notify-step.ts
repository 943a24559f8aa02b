/**
 * The tick's notify step: after a cluster round, what changed that someone should hear of — a
 * running run's projected completion passing its deadline (or no longer), its bottleneck stage
 * changing, a budget reaching 80 % or 100 % or heading to run out within its period. The decision is
 * src/core/notify's (what is true now against what was last notified); the store writes each change
 * with its event only if nobody wrote it first (notification-store.ts), so two daemons ticking, or
 * a restarted one, say each change once.
 *
 * Projections cost a walk of each run's tasks, so a cluster is checked at most once per interval
 * of the engine's clock (default 1 min), not every round of a fast-ticking follower.
 */
import type { BudgetStatus } from '../core/budget/budget-status.js'
import {
  type BudgetStandingInput,
  bottleneckSubject,
  budgetSubject,
  deadlineSubject,
  decideNotifications,
  type Notice,
  type RunDeadlineInput,
} from '../core/notify/decide-notifications.js'
import type { NewRpoEvent } from '../events/event-schemas.js'
import { EstimateHistoryCache } from '../monitor/estimate-history.js'
import { projectRunSummaryOf, runDeadline } from '../monitor/run-estimate.js'
import type { RunStore } from '../store/run-store.js'
import type { RoundRun } from './observe-step.js'

/** Checks one cluster round's running runs (and every budget); returns the notifications stored. */
export type NotificationCheck = (cluster: string, runs: readonly RoundRun[], now: number) => Promise<number>

export interface NotificationCheckOptions {
  readonly store: RunStore
  /** Each project's deadline from the config (a run's pipeline deadline comes first). */
  readonly projectDeadlines: Readonly<Record<string, string | undefined>>
  /** Where every budget stands (BudgetService.statuses); absent: budgets are not watched. */
  readonly budgetStatuses?: (now: number) => Promise<readonly BudgetStatus[]>
  /** At most one check per cluster this often (ms of the engine's clock). @default 60000 */
  readonly intervalMs?: number
  /** @default DEFAULT_RECOVERY_MARGIN_SECONDS */
  readonly recoveryMarginSeconds?: number
}

export function notificationChecker(options: NotificationCheckOptions): NotificationCheck {
  const histories = new EstimateHistoryCache(options.store)
  const intervalMs = options.intervalMs ?? 60_000
  const checkedAt = new Map<string, number>()
  return async (cluster, runs, now) => {
    const last = checkedAt.get(cluster)
    // a clock that went back checks again rather than waiting out the difference
    if (last !== undefined && now - last < intervalMs && now >= last) return 0
    checkedAt.set(cluster, now)
    const history = await histories.get(
      runs.map(({ run }) => run.pipelineName),
      now,
    )
    const runInputs: RunDeadlineInput[] = runs.map(({ run, snapshot }) => {
      const projection = projectRunSummaryOf(run, snapshot, history, now)
      const deadline = runDeadline(run, options.projectDeadlines)
      return {
        runId: run.id,
        project: run.project,
        deadline: deadline === null ? null : Date.parse(deadline),
        projectedEnd: projection.projectedEnd,
        bottleneck: projection.bottleneck,
        remainingCriticalPathSeconds: projection.remainingCriticalPathSeconds,
      }
    })
    const budgets = options.budgetStatuses ? (await options.budgetStatuses(now)).map(standingOf) : []
    const subjects = [
      ...runInputs.flatMap((r) => [deadlineSubject(r.runId), bottleneckSubject(r.runId)]),
      ...budgets.flatMap((b) => [`${budgetSubject(b)}:used`, `${budgetSubject(b)}:projection`]),
    ]
    if (subjects.length === 0) return 0
    const changes = decideNotifications(
      { runs: runInputs, budgets, last: await options.store.notifications.states(subjects) },
      options.recoveryMarginSeconds === undefined ? {} : { recoveryMarginSeconds: options.recoveryMarginSeconds },
    )
    if (changes.length === 0) return 0
    const at = new Date(now).toISOString()
    const applied = await options.store.notifications.apply(
      changes.map((c) => ({
        subject: c.subject,
        from: c.from,
        to: c.to,
        event: c.notice ? eventOf(c.notice, at) : null,
      })),
      at,
    )
    return applied.filter((c) => c.event !== null).length
  }
}

function standingOf(s: BudgetStatus): BudgetStandingInput {
  return {
    ruleId: s.ruleId,
    project: s.project,
    user: s.user,
    resource: s.resource,
    gpuType: s.gpuType,
    cap: s.cap,
    used: s.used,
    effective: s.effective,
    period: s.window.label,
    // a rolling window moves with now: it is one period for as long as the rule stands
    periodKey: s.window.includesUntil ? s.window.label : new Date(s.window.from).toISOString(),
    projectedExhaustion: s.projectedExhaustion,
  }
}

function eventOf(notice: Notice, at: string): NewRpoEvent {
  return { ...notice, at, taskId: null } as NewRpoEvent
}
