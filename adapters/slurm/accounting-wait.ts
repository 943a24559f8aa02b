/**
 * What a poll reports for jobs whose ending only accounting (sacct) can tell: squeue says they
 * ended (without an exit code) or no longer lists them. Their exit code matters — 85 means
 * "checkpointed, resume me", not a failure — so they stay `completing` until sacct has their
 * final record: for a grace period when sacct answers without one (it lags by seconds, or
 * accounting is off), and for as long as sacct itself fails (slurmdbd down), plus the grace period
 * after it answers again, while slurmctld's backlog of records reaches it.
 */
import { SchedulerCommandError, TransportError } from '../../src/core/errors.js'
import type { JobObservation, NativeJobId } from '../../src/scheduler/scheduler-adapter.js'

/** How long a job squeue reports ended may wait for its sacct record before it is taken as it is. */
export const ACCOUNTING_GRACE_MS = 60_000

export interface AccountingStatus {
  /** sacct failed in this poll. */
  readonly down: boolean
  /** How long ago sacct last failed; null when it never did. */
  readonly sinceOutageMs: number | null
  readonly now: number
}

/**
 * Turns the endings in `byId` that lack their accounting into `completing` (in place), and adds
 * a `completing` observation for each job of `needAccounting` that neither squeue nor sacct
 * reported while accounting is (or was just) unavailable: left out, it would count towards lost
 * and be run a second time.
 */
export function awaitAccounting(
  byId: Map<string, JobObservation>,
  needAccounting: readonly NativeJobId[],
  status: AccountingStatus,
): void {
  const sinceOutage = status.sinceOutageMs ?? Number.POSITIVE_INFINITY
  for (const [id, o] of byId) {
    if ((o.state !== 'succeeded' && o.state !== 'failed') || o.exitCode !== null) continue
    const endedAgo = o.endedAt ? status.now - o.endedAt.getTime() : 0
    if (!status.down && Math.min(endedAgo, sinceOutage) >= ACCOUNTING_GRACE_MS) continue
    byId.set(id, {
      ...o,
      state: 'completing',
      reason: status.down
        ? 'ended; accounting (sacct) is unavailable: waiting for it to record the exit code'
        : 'ended; waiting for accounting (sacct) to record its exit code',
    })
  }
  if (!status.down && sinceOutage >= ACCOUNTING_GRACE_MS) return
  for (const id of needAccounting) {
    if (byId.has(id)) continue
    byId.set(id, {
      jobId: id,
      state: 'completing',
      nativeState: '',
      exitCode: null,
      reason: status.down
        ? 'no longer in squeue; accounting (sacct) is unavailable: waiting for its final record'
        : 'no longer in squeue; waiting for accounting (sacct), just back, to receive its final record',
      startedAt: null,
      endedAt: null,
    })
  }
}

/**
 * sacct ran and failed (slurmdbd down: "Problem talking to the database"), or hung waiting for it:
 * its last words, else null for an error that must fail the poll (a dropped connection).
 */
export function accountingOutage(error: unknown): string | null {
  if (error instanceof SchedulerCommandError) return error.stderr.trim().split('\n').at(-1) || error.message
  if (error instanceof TransportError && error.code === 'command-timeout') return error.message
  return null
}
