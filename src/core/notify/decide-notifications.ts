/**
 * Which notifications a tick owes: a pure function of what is true now (each running run's
 * projection against its deadline, each budget's standing) and what was last notified of each
 * subject (the store's `notification_states`). It returns the subjects whose state changed, each
 * with the notice that says it or none (a change recorded silently, so the next crossing is said
 * again). Deciding again from its own result yields nothing: a notice is said once per change.
 *
 * Subjects and their states (no row = the first state listed):
 *   deadline:run:<id>     on-track | at-risk   at-risk when slack < 0; back to on-track (notice
 *                                              `recovered`) only when slack ≥ the recovery margin,
 *                                              so a projection wavering around the deadline is
 *                                              not said every tick
 *   bottleneck:run:<id>   <stage>              the first bottleneck silently; a different one later
 *                                              is `bottleneck.changed`; none (the run ending) keeps it
 *   budget:<scope>:<period>:used       below | warning | exhausted   (80 %, 100 % of the effective
 *                                              amount) rising: the highest level reached is said;
 *                                              falling (a grant, a bigger amount): silent
 *   budget:<scope>:<period>:projection lasts | runs-out   runs-out: the burn rate exhausts it within
 *                                              its period before it is exhausted; said when it becomes so
 * A budget's period is part of its subject: a new month starts from `below` again.
 */

export interface RunDeadlineInput {
  readonly runId: string
  readonly project: string | null
  /** ms; null: the run has no deadline (only its bottleneck is followed). */
  readonly deadline: number | null
  /** ms. */
  readonly projectedEnd: number
  readonly bottleneck: string | null
  readonly remainingCriticalPathSeconds: number
}

export interface BudgetStandingInput {
  readonly ruleId: string
  readonly project: string
  readonly user: string | null
  readonly resource: string
  readonly gpuType: string | null
  readonly cap: 'hard' | 'soft'
  readonly used: number
  readonly effective: number
  /** The period's label (`month 2026-11`) and a key that changes when a new period starts. */
  readonly period: string
  readonly periodKey: string
  /** ISO 8601; null when the burn rate does not exhaust it within the period. */
  readonly projectedExhaustion: string | null
}

export interface NotificationInputs {
  readonly runs: readonly RunDeadlineInput[]
  readonly budgets: readonly BudgetStandingInput[]
  /** Last notified state per subject (absent: never notified). */
  readonly last: ReadonlyMap<string, string>
}

export interface NotificationOptions {
  /** Slack (s) an at-risk run must regain before it is said to have recovered. @default 600 */
  readonly recoveryMarginSeconds?: number
}

export type Notice =
  | {
      readonly type: 'deadline.at-risk'
      readonly project: string | null
      readonly runId: string
      readonly payload: {
        readonly state: 'at-risk' | 'recovered'
        readonly projectedEnd: string
        readonly deadline: string
        readonly slackSeconds: number
        readonly bottleneck: string | null
      }
    }
  | {
      readonly type: 'bottleneck.changed'
      readonly project: string | null
      readonly runId: string
      readonly payload: { readonly from: string; readonly to: string; readonly remainingCriticalPathSeconds: number }
    }
  | {
      readonly type: 'budget.threshold'
      readonly project: string
      readonly runId: null
      readonly payload: {
        readonly level: 'warning' | 'exhausted' | 'projected'
        readonly budget: string
        readonly user: string | null
        readonly resource: string
        readonly gpuType: string | null
        readonly cap: 'hard' | 'soft'
        readonly percent: number
        readonly used: number
        readonly effective: number
        readonly period: string
        readonly projectedExhaustion: string | null
      }
    }

export interface SubjectChange {
  readonly subject: string
  readonly from: string | null
  readonly to: string
  readonly notice: Notice | null
}

export const DEFAULT_RECOVERY_MARGIN_SECONDS = 600
export const WARNING_PERCENT = 80

export const deadlineSubject = (runId: string) => `deadline:run:${runId}`
export const bottleneckSubject = (runId: string) => `bottleneck:run:${runId}`

/** A budget's subject prefix: its owner and scope, not its rule id (`rpo budget set` renumbers those). */
export function budgetSubject(b: Pick<BudgetStandingInput, 'project' | 'user' | 'resource' | 'gpuType' | 'periodKey'>) {
  return `budget:${b.project}:${b.user ?? '*'}:${b.resource}:${b.gpuType ?? '*'}:${b.periodKey}`
}

export function decideNotifications(inputs: NotificationInputs, options: NotificationOptions = {}): SubjectChange[] {
  const margin = options.recoveryMarginSeconds ?? DEFAULT_RECOVERY_MARGIN_SECONDS
  const changes: SubjectChange[] = []
  for (const run of inputs.runs) {
    const deadline = decideDeadline(run, inputs.last.get(deadlineSubject(run.runId)) ?? null, margin)
    if (deadline) changes.push(deadline)
    const bottleneck = decideBottleneck(run, inputs.last.get(bottleneckSubject(run.runId)) ?? null)
    if (bottleneck) changes.push(bottleneck)
  }
  for (const budget of inputs.budgets) {
    const prefix = budgetSubject(budget)
    const used = decideBudgetUse(budget, `${prefix}:used`, inputs.last.get(`${prefix}:used`) ?? null)
    if (used) changes.push(used)
    const projection = decideBudgetProjection(
      budget,
      `${prefix}:projection`,
      inputs.last.get(`${prefix}:projection`) ?? null,
    )
    if (projection) changes.push(projection)
  }
  return changes
}

function decideDeadline(run: RunDeadlineInput, last: string | null, margin: number): SubjectChange | null {
  if (run.deadline === null) return null
  const slackSeconds = (run.deadline - run.projectedEnd) / 1000
  const wasAtRisk = last === 'at-risk'
  const atRisk = wasAtRisk ? slackSeconds < margin : slackSeconds < 0
  if (atRisk === wasAtRisk) return null
  return {
    subject: deadlineSubject(run.runId),
    from: last,
    to: atRisk ? 'at-risk' : 'on-track',
    notice: {
      type: 'deadline.at-risk',
      project: run.project,
      runId: run.runId,
      payload: {
        state: atRisk ? 'at-risk' : 'recovered',
        projectedEnd: new Date(run.projectedEnd).toISOString(),
        deadline: new Date(run.deadline).toISOString(),
        slackSeconds,
        bottleneck: run.bottleneck,
      },
    },
  }
}

function decideBottleneck(run: RunDeadlineInput, last: string | null): SubjectChange | null {
  if (run.bottleneck === null || run.bottleneck === last) return null
  return {
    subject: bottleneckSubject(run.runId),
    from: last,
    to: run.bottleneck,
    notice:
      last === null
        ? null
        : {
            type: 'bottleneck.changed',
            project: run.project,
            runId: run.runId,
            payload: { from: last, to: run.bottleneck, remainingCriticalPathSeconds: run.remainingCriticalPathSeconds },
          },
  }
}

const USE_LEVELS = ['below', 'warning', 'exhausted'] as const
type UseLevel = (typeof USE_LEVELS)[number]

/** used ÷ effective × 100, to 0.1; an amount of 0 is reached by any use. */
export function percentUsed(used: number, effective: number): number {
  if (effective <= 0) return used > 0 ? 100 : 0
  return Math.round((used / effective) * 1000) / 10
}

function useLevelOf(b: BudgetStandingInput): UseLevel {
  // the same tolerance budget-status.ts judges a cap reached with
  if (b.used > 0 && b.used >= b.effective - 1e-9) return 'exhausted'
  if (b.effective > 0 && b.used >= (b.effective * WARNING_PERCENT) / 100) return 'warning'
  return 'below'
}

function decideBudgetUse(b: BudgetStandingInput, subject: string, last: string | null): SubjectChange | null {
  const level = useLevelOf(b)
  const before = USE_LEVELS.indexOf((last ?? 'below') as UseLevel)
  const now = USE_LEVELS.indexOf(level)
  if (now === before || (last === null && level === 'below')) return null
  // an unknown stored state (a newer rpo's) counts as below: said again rather than never
  const rising = now > Math.max(0, before)
  return {
    subject,
    from: last,
    to: level,
    notice: rising && level !== 'below' ? budgetNotice(b, level) : null,
  }
}

function decideBudgetProjection(b: BudgetStandingInput, subject: string, last: string | null): SubjectChange | null {
  const runsOut = b.projectedExhaustion !== null && useLevelOf(b) !== 'exhausted'
  const state = runsOut ? 'runs-out' : 'lasts'
  if (state === (last ?? 'lasts')) return null
  return { subject, from: last, to: state, notice: runsOut ? budgetNotice(b, 'projected') : null }
}

function budgetNotice(b: BudgetStandingInput, level: 'warning' | 'exhausted' | 'projected'): Notice {
  return {
    type: 'budget.threshold',
    project: b.project,
    runId: null,
    payload: {
      level,
      budget: b.ruleId,
      user: b.user,
      resource: b.resource,
      gpuType: b.gpuType,
      cap: b.cap,
      percent: percentUsed(b.used, b.effective),
      used: b.used,
      effective: b.effective,
      period: b.period,
      projectedExhaustion: b.projectedExhaustion,
    },
  }
}
