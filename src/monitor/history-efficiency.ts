/**
 * The efficiency report of a history window as `rpo history --efficiency --json` prints it and
 * `GET /v1/efficiency` answers it: one function, so the two cannot drift. The attempts are read from
 * the store; only when the caller allows it (the CLI, unless --no-accounting) are the clusters'
 * accounting asked for figures not stored yet. The HTTP API never allows it: a request reads the
 * store only, it never polls a cluster.
 */
import { type EfficiencyReport, efficiencyReport } from '../core/estimate/efficiency-report.js'
import type { App } from '../create-app.js'
import type { HistoryFilter } from '../store/history-queries.js'
import { fillEndedUsage } from './ended-usage.js'

/** Newest attempts read when the caller gives no limit. */
export const DEFAULT_EFFICIENCY_ATTEMPTS = 10_000

export interface AccountingAsked {
  /** Jobs whose figures were asked of accounting, and how many came back with a CPU figure. */
  readonly asked: number
  readonly filled: number
  /** One sentence per cluster that could not be asked. */
  readonly problems: readonly string[]
}

export interface HistoryEfficiency extends EfficiencyReport {
  readonly filter: HistoryFilter
  readonly accounting: AccountingAsked
}

export async function historyEfficiency(
  app: Pick<App, 'config' | 'engineFor' | 'store'>,
  filter: HistoryFilter,
  options: { readonly askAccounting: boolean },
): Promise<HistoryEfficiency> {
  let attempts = await app.store.history.attempts(filter)
  let accounting: AccountingAsked = { asked: 0, filled: 0, problems: [] }
  if (options.askAccounting) {
    const filled = await fillEndedUsage(app, attempts)
    attempts = filled.attempts
    accounting = { asked: filled.asked, filled: filled.filled, problems: filled.problems }
  }
  return { filter, accounting, ...efficiencyReport(attempts) }
}
