/**
 * Admission against budgets: may a job whose worst case is known start without any hard cap being
 * crossed (used + committed + this job ≤ effective)? Soft caps never refuse; they mark the job
 * over-soft. `BudgetBook` is the same check made incrementally, reserving each admitted job, so a
 * batch of admissions can never together cross a cap. Refusals are values with a sentence that
 * carries the numbers, not exceptions.
 */
import { describeOwner, formatAmount } from './budget-rules.js'
import type { BudgetStatus } from './budget-status.js'
import { describeScope, meterAmount, type TresHours } from './tres-hours.js'

export interface AdmissionRequest {
  readonly project: string
  readonly user: string | null
  /** What the job may use at most: its rate × its time limit (what is left of it, for a requeued job). */
  readonly worstCase: TresHours
}

export type AdmissionDecision =
  | {
      readonly kind: 'admit'
      /** Some soft cap would be exceeded: the job may run, but ranks below in-budget work. */
      readonly overSoft: boolean
      /** The soft rules it exceeds, with a sentence each. */
      readonly softReasons: readonly { readonly ruleId: string; readonly reason: string }[]
      /** The hard rule with the least room left after this job, with the numbers; null when none counts it. */
      readonly tightest: { readonly ruleId: string; readonly reason: string } | null
    }
  | { readonly kind: 'refuse'; readonly ruleId: string; readonly reason: string }

/** Rounding slack: a job that exactly fills a budget is admitted. */
const EPSILON = 1e-9

/** One rule's running totals inside a BudgetBook. */
export interface BookLine {
  readonly status: BudgetStatus
  /** status.used plus usage accrued since the last charge. */
  used: number
  committed: number
}

export class BudgetBook {
  readonly #byProject = new Map<string, BookLine[]>()
  /** project → user → the lines that cover that owner (a nested map: no key strings on the hot path). */
  readonly #byOwner = new Map<string, Map<string | null, readonly BookLine[]>>()
  /** Sentence parts per line: its fixed words once, its totals again only when they move. */
  readonly #texts = new Map<BookLine, LineText>()

  /** @param statuses starting point; their `committed` is counted unless `withCommitted` is false. */
  constructor(statuses: readonly BudgetStatus[], withCommitted = true) {
    for (const status of statuses) {
      const lines = this.#byProject.get(status.project) ?? []
      if (lines.length === 0) this.#byProject.set(status.project, lines)
      lines.push({ status, used: status.used, committed: withCommitted ? status.committed : 0 })
    }
  }

  /** The rules that count work of this project/user, in status order (the same array for every call). */
  linesFor(project: string, user: string | null): readonly BookLine[] {
    const users = this.#byOwner.get(project) ?? new Map<string | null, readonly BookLine[]>()
    if (users.size === 0) this.#byOwner.set(project, users)
    let lines = users.get(user)
    if (!lines) {
      lines = (this.#byProject.get(project) ?? []).filter((l) => l.status.user === null || l.status.user === user)
      users.set(user, lines)
    }
    return lines
  }

  check(request: AdmissionRequest): AdmissionDecision {
    return this.#decide(request, false)
  }

  /** check, and when admitted count the request as committed on every rule that covers it. */
  admit(request: AdmissionRequest): AdmissionDecision {
    return this.#decide(request, true)
  }

  /** Count the request as committed on every rule that covers it, whether it fits or not. */
  reserve(request: AdmissionRequest): void {
    const lines = this.linesFor(request.project, request.user)
    this.reserveAmounts(lines, amountsOf(lines, request.worstCase))
  }

  /** Count usage not yet charged (accrued by running jobs since the last poll). */
  accrue(project: string, user: string | null, hours: TresHours): void {
    const lines = this.linesFor(project, user)
    for (let k = 0; k < lines.length; k++) {
      const line = lines[k] as BookLine
      line.used += meterAmount(line.status, hours, line.status.gpuWeights)
    }
  }

  /**
   * The primitives behind check and admit, for callers that meter a job once and decide many
   * times (the enforcement planner). `amounts[i]` is what the job counts on `lines[i]`.
   * Returns the index of the first hard line the job would cross, or −1.
   */
  firstRefusal(lines: readonly BookLine[], amounts: ArrayLike<number>): number {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as BookLine
      const job = amounts[i] as number
      // a job that uses none of what a rule counts is never refused by it, even at the cap
      if (line.status.cap === 'hard' && job > 0 && exceeds(line, job)) return i
    }
    return -1
  }

  reserveAmounts(lines: readonly BookLine[], amounts: ArrayLike<number>): void {
    for (let i = 0; i < lines.length; i++) (lines[i] as BookLine).committed += amounts[i] as number
  }

  /** accrue with the amounts metered already (`amounts[i]` on `lines[i]`). */
  accrueAmounts(lines: readonly BookLine[], amounts: ArrayLike<number>): void {
    for (let i = 0; i < lines.length; i++) (lines[i] as BookLine).used += amounts[i] as number
  }

  /**
   * The refusal sentence of one line for a job of `amount`, followed by `suffix`. A long queue
   * behind a reached cap asks for thousands of these in a tick, so the parts are kept per line.
   */
  refusalReason(line: BookLine, amount: number, suffix = ''): string {
    return this.#textOf(line).refusal(line, amount, suffix)
  }

  /** The hard line with the least room left after the job, with its sentence; null when none counts it. */
  tightestFit(
    lines: readonly BookLine[],
    amounts: ArrayLike<number>,
  ): { readonly ruleId: string; readonly reason: string } | null {
    const k = this.tightestLine(lines, amounts)
    const fit = lines[k]
    if (!fit) return null
    return { ruleId: fit.status.ruleId, reason: this.fitReason(fit, amounts[k] as number) }
  }

  /** The index of the hard line with the least room left after the job, or −1 when none counts it. */
  tightestLine(lines: readonly BookLine[], amounts: ArrayLike<number>): number {
    let tightest = -1
    let tightestRoom = Number.POSITIVE_INFINITY
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as BookLine
      const job = amounts[i] as number
      if (line.status.cap !== 'hard' || job <= 0) continue
      const room = line.status.effective - (line.used + line.committed + job)
      if (room < tightestRoom) [tightest, tightestRoom] = [i, room]
    }
    return tightest
  }

  /** "project vision's hard gpu-hours cap: used … <= 15.0 (month 2026-11)" at the given totals (default: the line's now). */
  fitReason(line: BookLine, amount: number, used = line.used, committed = line.committed): string {
    const text = this.#textOf(line)
    return `${text.fitHead}${text.totals(used, committed)}${formatAmount(amount)}${text.fitTail}`
  }

  /**
   * The refusal sentence at totals recorded earlier in a pass: a caller that decides thousands of
   * jobs keeps the numbers and builds the sentence only when someone reads it.
   */
  refusalReasonAt(line: BookLine, amount: number, used: number, committed: number, suffix = ''): string {
    const text = this.#textOf(line)
    return `${text.exceedHead}${text.totals(used, committed)}${formatAmount(amount)}${text.exceedTail}${suffix}`
  }

  #textOf(line: BookLine): LineText {
    let text = this.#texts.get(line)
    if (!text) {
      text = new LineText(line.status)
      this.#texts.set(line, text)
    }
    return text
  }

  #decide(request: AdmissionRequest, reserve: boolean): AdmissionDecision {
    const lines = this.linesFor(request.project, request.user)
    const amounts = amountsOf(lines, request.worstCase)
    const refusing = this.firstRefusal(lines, amounts)
    if (refusing >= 0) {
      const line = lines[refusing] as BookLine
      return {
        kind: 'refuse',
        ruleId: line.status.ruleId,
        reason: this.refusalReason(line, amounts[refusing] as number),
      }
    }
    const softReasons = lines.flatMap((line, i) => {
      const job = amounts[i] as number
      return line.status.cap === 'soft' && job > 0 && exceeds(line, job)
        ? [{ ruleId: line.status.ruleId, reason: explainExcess(line, job) }]
        : []
    })
    // the sentences show the totals before this job is counted in them
    const decision: AdmissionDecision = {
      kind: 'admit',
      overSoft: softReasons.length > 0,
      softReasons,
      tightest: this.tightestFit(lines, amounts),
    }
    if (reserve) this.reserveAmounts(lines, amounts)
    return decision
  }
}

function amountsOf(lines: readonly BookLine[], hours: TresHours): number[] {
  return lines.map((line) => meterAmount(line.status, hours, line.status.gpuWeights))
}

function exceeds(line: BookLine, job: number): boolean {
  return line.used + line.committed + job > line.status.effective + EPSILON
}

/** admit against statuses (their committed included): the one-off form of BudgetBook.check. */
export function admit(statuses: readonly BudgetStatus[], request: AdmissionRequest): AdmissionDecision {
  return new BudgetBook(statuses.filter((s) => s.project === request.project)).check(request)
}

/**
 * "project vision would exceed its hard gpu-hours cap: used 10.0 + committed 2.0 + this job 4.0 >
 * 15.0 (month 2026-11)", with how the effective amount was made when grants moved it.
 */
export function explainExcess(line: BookLine, job: number): string {
  const text = new LineText(line.status)
  return `${text.exceedHead}${text.totals(line.used, line.committed)}${formatAmount(job)}${text.exceedTail}`
}

/** "project vision's hard gpu-hours cap: used 10.0 + committed 2.0 + this job 4.0 <= 15.0 (month 2026-11)". */
export function explainFit(line: BookLine, job: number): string {
  const text = new LineText(line.status)
  return `${text.fitHead}${text.totals(line.used, line.committed)}${formatAmount(job)}${text.fitTail}`
}

/** The words of a line's sentences that do not change within a tick, and its totals while they stay put. */
class LineText {
  readonly exceedHead: string
  readonly exceedTail: string
  readonly fitHead: string
  readonly fitTail: string
  #used = Number.NaN
  #committed = Number.NaN
  #totals = ''

  constructor(s: BudgetStatus) {
    const scope = `${s.cap} ${describeScope(s)} cap: used `
    const moved =
      s.lent === 0 && s.borrowed === 0
        ? ''
        : ` = own ${formatAmount(s.amount)}${s.lent ? ` - lent ${formatAmount(s.lent)}` : ''}${s.borrowed ? ` + borrowed ${formatAmount(s.borrowed)}` : ''}`
    this.exceedHead = `${describeOwner(s)} would exceed its ${scope}`
    this.exceedTail = ` > ${formatAmount(s.effective)}${moved} (${s.window.label})`
    this.fitHead = `${describeOwner(s)}'s ${scope}`
    this.fitTail = ` <= ${formatAmount(s.effective)} (${s.window.label})`
  }

  /** exceedHead and the totals as they stand: how every refusal starts until the totals move. */
  #exceedStart = ''
  /** exceedTail and each ending callers asked for (one per project and outcome). */
  readonly #exceedEnds = new Map<string, string>()

  /** "10.0 + committed 2.0 + this job " for the given totals (a line's, as they stand or stood). */
  totals(used: number, committed: number): string {
    if (used !== this.#used || committed !== this.#committed) {
      this.#used = used
      this.#committed = committed
      this.#totals = `${formatAmount(used)} + committed ${formatAmount(committed)} + this job `
      this.#exceedStart = `${this.exceedHead}${this.#totals}`
    }
    return this.#totals
  }

  /**
   * A long queue behind a reached cap asks for thousands of these in a tick, each with its own
   * amount: two joins of parts kept per line, so a refusal costs little more than its number.
   */
  refusal(line: BookLine, amount: number, suffix: string): string {
    this.totals(line.used, line.committed)
    let end = this.#exceedEnds.get(suffix)
    if (end === undefined) {
      end = `${this.exceedTail}${suffix}`
      this.#exceedEnds.set(suffix, end)
    }
    return this.#exceedStart + formatAmount(amount) + end
  }
}
