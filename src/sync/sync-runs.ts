/**
 * Scheduled sync: one tick for every unfinished run (`rpo sync`, for cron), and the daemon that
 * does it on a node-cron schedule. A store-wide `sync` lease keeps two daemons from ticking at once
 * (the engine's lease mechanism, so a killed daemon's lease is taken over at once on its machine);
 * each run's own lease keeps a daemon and an `rpo run` from ticking the same run together.
 */
import cron from 'node-cron'
import { isRpoError } from '../core/errors.js'
import type { App } from '../create-app.js'
import { Leases, localOwner } from '../engine/leases.js'

export interface SyncResult {
  readonly runId: string
  readonly state: string
  readonly submitted: number
  readonly schedulerCommands: number
  readonly error: string | null
}

export async function syncOnce(app: App): Promise<SyncResult[]> {
  const runs = await app.store.listRuns({ limit: 10_000, states: ['running'] })
  const results: SyncResult[] = []
  for (const run of runs) {
    try {
      const engine = await app.engineFor(run.cluster)
      const tick = await engine.tick(run.id)
      results.push({
        runId: run.id,
        state: tick.state,
        submitted: tick.submitted,
        schedulerCommands: tick.schedulerCommands,
        error: null,
      })
    } catch (error) {
      // one run's trouble (its cluster unreachable, its lease held) must not stop the others
      const message = isRpoError(error) ? `${error.code}: ${error.message}` : String(error)
      results.push({ runId: run.id, state: run.state, submitted: 0, schedulerCommands: 0, error: message })
    }
  }
  return results
}

const SYNC_LEASE_MS = 10 * 60_000

export interface DaemonOptions {
  readonly log: (line: string) => void
  /** Resolves the daemon when aborted (tests); SIGTERM/SIGINT do the same. */
  readonly signal?: AbortSignal
}

export async function startDaemon(app: App, options: DaemonOptions): Promise<void> {
  const leases = new Leases(app.store, { owner: localOwner('daemon') })
  const tick = async () => {
    // renewed every tick; a daemon on another machine that dies is waited out for this long
    const holder = await leases.take('sync', SYNC_LEASE_MS)
    if (holder !== null) {
      options.log(`another rpo daemon (${holder}) holds the sync lease; skipping this tick`)
      return
    }
    const results = await syncOnce(app)
    for (const r of results)
      options.log(
        `${r.runId}: ${r.error ? `error ${r.error}` : `${r.state}, ${r.submitted} submitted, ${r.schedulerCommands} scheduler command(s)`}`,
      )
  }
  let running: Promise<void> = Promise.resolve()
  const task = cron.schedule(
    app.config.sync.schedule,
    () => {
      running = tick().catch((error) =>
        options.log(`tick failed: ${error instanceof Error ? error.message : String(error)}`),
      )
      return running
    },
    { noOverlap: true, name: 'rpo-sync' },
  )
  running = tick().catch((error) =>
    options.log(`tick failed: ${error instanceof Error ? error.message : String(error)}`),
  )
  await new Promise<void>((resolve) => {
    const stop = () => resolve()
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
    options.signal?.addEventListener('abort', stop)
  })
  await task.stop()
  await running
  await leases.releaseAll()
}
