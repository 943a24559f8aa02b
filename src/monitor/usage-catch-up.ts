/**
 * The daemon's accounting catch-up: every `sync.accountingCatchUp` (5 min by default), the jobs on
 * Slurm and PBS clusters that ended within the last 6 hours without a CPU figure are asked about
 * once more (`fillEndedUsage`, one poll per cluster), so their efficiency is in the store for
 * whoever reads it — `GET /v1/efficiency` and `rpo history --efficiency --no-accounting` read only
 * the store.
 *
 * Why a catch-up and not the tick: a tick concludes a job from squeue's COMPLETED without waiting on
 * accounting (a round trip would delay its dependents), and slurmdbd stores a job's steps, and so
 * its CPU time, seconds after the job itself. Asking again later, beside the rounds, costs at most
 * one accounting command per cluster per interval and never delays a tick. A job accounting never
 * gives figures for is asked about until it is 6 hours old, then left unmeasured.
 */
import type { App } from '../create-app.js'
import { fillEndedUsage } from './ended-usage.js'

/** Ended jobs older than this are not asked about again (rpo history --efficiency still may). */
export const CATCH_UP_LOOKBACK_MS = 6 * 3_600_000
/** Attempts read per cluster and pass: the newest first. */
const ATTEMPTS_PER_PASS = 2_000

export interface CatchUpPass {
  readonly asked: number
  readonly filled: number
  /** One sentence per cluster whose accounting could not be read. */
  readonly problems: readonly string[]
}

/** One pass over every Slurm and PBS cluster of the config. */
export async function catchUpEndedUsage(
  app: Pick<App, 'config' | 'engineFor' | 'store'>,
  now: number,
): Promise<CatchUpPass> {
  const since = new Date(now - CATCH_UP_LOOKBACK_MS).toISOString()
  let asked = 0
  let filled = 0
  const problems: string[] = []
  for (const [cluster, { kind }] of Object.entries(app.config.clusters)) {
    if (kind !== 'slurm' && kind !== 'pbs') continue
    try {
      const attempts = await app.store.history.attempts({ cluster, since, limit: ATTEMPTS_PER_PASS })
      const result = await fillEndedUsage(app, attempts)
      asked += result.asked
      filled += result.filled
      problems.push(...result.problems)
    } catch (error) {
      // the store failing is said like an unreachable cluster: the next pass tries again
      problems.push(`${cluster}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  return { asked, filled, problems }
}

export interface UsageCatchUp {
  /** Resolves when the pass in flight, if any, has ended. */
  stop(): Promise<void>
}

/** Runs a pass now and then every `intervalMs` until stopped; each pass's news goes to `report`. */
export function startUsageCatchUp(
  app: Pick<App, 'config' | 'engineFor' | 'store' | 'clock'>,
  options: { readonly intervalMs: number; readonly report: (line: string) => void },
): UsageCatchUp {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let inFlight: Promise<void> = Promise.resolve()
  const pass = async () => {
    const result = await catchUpEndedUsage(app, app.clock())
    if (result.asked > 0)
      options.report(`accounting catch-up: ${result.filled} of ${result.asked} ended job(s) measured`)
    for (const problem of result.problems) options.report(`accounting catch-up: ${problem}`)
  }
  const next = () => {
    inFlight = pass()
      .catch((error: unknown) =>
        options.report(`accounting catch-up failed: ${error instanceof Error ? error.message : String(error)}`),
      )
      .finally(() => {
        if (!stopped) timer = setTimeout(next, options.intervalMs)
      })
  }
  next()
  return {
    async stop() {
      stopped = true
      clearTimeout(timer)
      await inFlight
    },
  }
}
