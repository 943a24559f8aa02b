/**
 * Following a run to its end: tick, wait for a change or the poll interval, repeat. Transient store
 * and scheduler trouble (a locked store, another process holding the lease, a dropped connection)
 * is waited out with backoff, never turned into task failures.
 */
import { isRpoError } from '../core/errors.js'
import type { RunState } from '../core/scheduling/run-snapshot.js'
import type { Engine, TickResult } from './engine.js'

export interface FollowOptions {
  readonly pollIntervalMs: number
  /** Upper bound for the adaptive interval while nothing changes. @default pollIntervalMs */
  readonly maxPollIntervalMs?: number
  readonly signal?: AbortSignal
  /** Awaited: a failure of it (e.g. reading the store for a progress line) is handled like the tick's. */
  readonly onTick?: (result: TickResult) => void | Promise<void>
  readonly onTransientError?: (error: Error) => void
  /** Milliseconds on a monotonic clock, to count the interval from a tick's start. @default performance.now */
  readonly clock?: () => number
}

export async function followRun(engine: Engine, runId: string, options: FollowOptions): Promise<RunState> {
  let interval = options.pollIntervalMs
  let failures = 0
  const aborted = abortPromise(options.signal)
  const clock = options.clock ?? (() => performance.now())
  while (!options.signal?.aborted) {
    let result: TickResult
    const tickStarted = clock()
    try {
      result = await engine.tick(runId)
      await options.onTick?.(result)
      failures = 0
    } catch (error) {
      if (!isRpoError(error) || !error.retryable || failures >= 20) throw error
      failures++
      options.onTransientError?.(error)
      await sleep(Math.min(10_000, 250 * 2 ** failures), options.signal)
      continue
    }
    if (result.state !== 'running') return result.state
    // adaptive: back off while nothing moves and nothing runs (kind to slurmctld), back to the base
    // interval when something does; while a job runs its ending may come at any moment, and seeing
    // it one backed-off interval late delays its dependents by as much
    const moved = result.submitted > 0 || result.changes > 0 || (result.jobsRunning ?? 0) > 0
    interval = moved
      ? options.pollIntervalMs
      : Math.min(options.maxPollIntervalMs ?? options.pollIntervalMs, interval * 1.5)
    // the interval is counted from the tick's start: it is how often the cluster is looked at, and a
    // round slowed by SSH round trips would otherwise stretch it, seeing every ending that much later
    const wait = Math.max(0, interval - (clock() - tickStarted))
    const changes = engine.changes
    if (changes) await Promise.race([changes.waitForChange(wait), aborted])
    else await sleep(wait, options.signal)
  }
  return 'interrupted'
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done)
  })
}

function abortPromise(signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return
    if (signal.aborted) resolve()
    signal.addEventListener('abort', () => resolve(), { once: true })
  })
}
