/**
 * Scheduled sync: one cluster tick for every cluster with running work or jobs awaiting their
 * accounting figure (`rpo sync`, for cron), and the daemon that does it on a node-cron schedule. Clusters are shared through their leases: a
 * cluster whose round another process (a daemon, an `rpo run`) is doing is left to it, and the
 * daemon retries it as soon as that lease expires — so a killed daemon's clusters are taken over
 * within one lease period, on any host. The daemon also delivers the config's webhooks
 * (src/notify/webhook-dispatcher.ts) and catches up on ended jobs' accounting figures
 * (src/monitor/usage-catch-up.ts), beside the rounds.
 */
import cron from 'node-cron'
import { isRpoError } from '../core/errors.js'
import { parseDurationSeconds } from '../core/pipeline/units.js'
import type { App } from '../create-app.js'
import type { ClusterTickResult } from '../engine/cluster-tick.js'
import { clusterLease, Leases } from '../engine/leases.js'
import { clustersOf } from '../engine/run-clusters.js'
import { startUsageCatchUp } from '../monitor/usage-catch-up.js'
import { createWebhookDispatcher } from '../notify/webhook-dispatcher.js'

export interface SyncResult {
  readonly runId: string
  readonly cluster: string
  readonly state: string
  readonly submitted: number
  /** Scheduler commands of the cluster round the run was planned in. */
  readonly schedulerCommands: number
  /** Why this process did not tick it (another one does): not an error. */
  readonly note: string | null
  readonly error: string | null
}

export interface ClusterSync {
  readonly cluster: string
  /** The round, or null when it failed as a whole (`error`). */
  readonly round: ClusterTickResult | null
  readonly error: string | null
}

/**
 * The clusters with work, each with its running runs: those with running runs, and those where
 * jobs already concluded still await their accounting figure (a finished run's last jobs), with no
 * runs — their round polls those jobs for charging only, until the grace after each job's end.
 */
export async function clustersWithWork(app: App): Promise<Map<string, { id: string; state: string }[]>> {
  const runs = await app.store.listRuns({ limit: 10_000, states: ['running'] })
  const byCluster = new Map<string, { id: string; state: string }[]>()
  for (const run of runs)
    for (const name of clustersOf(run)) {
      const onCluster = byCluster.get(name)
      if (onCluster) onCluster.push(run)
      else byCluster.set(name, [run])
    }
  const awaiting = await app.store.budgets.clustersAwaitingAccounting(new Date(app.clock()).toISOString())
  // a cluster since removed from the config has no engine to ask: its waits run out unanswered
  for (const name of awaiting)
    if (!byCluster.has(name) && Object.hasOwn(app.config.clusters, name)) byCluster.set(name, [])
  return byCluster
}

/** One round of one cluster; its failure (the cluster unreachable, the store busy) is returned, not thrown. */
export async function syncCluster(app: App, cluster: string): Promise<ClusterSync> {
  try {
    const engine = await app.engineFor(cluster)
    return { cluster, round: await engine.tickCluster(), error: null }
  } catch (error) {
    return { cluster, round: null, error: isRpoError(error) ? `${error.code}: ${error.message}` : String(error) }
  }
}

export async function syncOnce(app: App): Promise<SyncResult[]> {
  const results: SyncResult[] = []
  for (const [cluster, runs] of await clustersWithWork(app)) {
    // one cluster's trouble (unreachable, its lease held) must not stop the others
    const { round, error } = await syncCluster(app, cluster)
    const ticked = new Map((round?.runs ?? []).map((r) => [r.runId, r]))
    for (const run of runs) {
      const tick = ticked.get(run.id)
      const note = round?.heldBy
        ? `cluster ${cluster} is ticked by ${round.heldBy}`
        : round?.skipped.includes(run.id)
          ? 'planned by another of its clusters this round'
          : null
      results.push({
        runId: run.id,
        cluster,
        state: tick?.state ?? run.state,
        submitted: tick?.submitted ?? 0,
        schedulerCommands: round?.schedulerCommands ?? 0,
        note,
        error,
      })
    }
  }
  return results
}

export interface DaemonOptions {
  readonly log: (line: string) => void
  /** Resolves the daemon when aborted (tests); SIGTERM/SIGINT do the same. */
  readonly signal?: AbortSignal
}

export async function startDaemon(app: App, options: DaemonOptions): Promise<void> {
  const leases = new Leases(app.store)
  // webhooks are delivered beside the rounds, never inside them: a hanging receiver delays no tick
  const webhooks = app.config.webhooks.length > 0 ? createWebhookDispatcher(app, { report: options.log }) : null
  webhooks?.start()
  // efficiency figures of ended jobs, asked for beside the rounds (src/monitor/usage-catch-up.ts)
  const catchUp = startUsageCatchUp(app, {
    intervalMs: (parseDurationSeconds(app.config.sync.accountingCatchUp) ?? 300) * 1000,
    report: options.log,
  })
  const retries = new Map<string, NodeJS.Timeout>()
  let stopped = false
  // one round at a time per cluster: a retry and a scheduled round never overlap
  const busy = new Map<string, Promise<void>>()
  const tickOne = (cluster: string): Promise<void> => {
    const previous = busy.get(cluster) ?? Promise.resolve()
    const next = previous.then(() => (stopped ? undefined : roundOf(cluster)))
    busy.set(cluster, next)
    return next
  }
  const roundOf = async (cluster: string) => {
    clearTimeout(retries.get(cluster))
    retries.delete(cluster)
    const { round, error } = await syncCluster(app, cluster)
    if (error || !round) {
      options.log(`cluster ${cluster}: error ${error}`)
      return
    }
    if (round.heldBy) {
      // retried as soon as that lease runs out: if its holder died, we take the cluster over then
      const expires = await leases.expiresAt(clusterLease(cluster)).catch(() => null)
      const wait = Math.max(50, (expires ?? Date.now() + 1000) - Date.now() + 50)
      options.log(`cluster ${cluster}: ticked by ${round.heldBy}; retrying in ${Math.ceil(wait / 1000)}s`)
      if (!stopped)
        retries.set(
          cluster,
          setTimeout(() => void tickOne(cluster), wait),
        )
      return
    }
    for (const r of round.runs)
      options.log(`${r.runId}: ${r.state}, ${r.submitted} submitted, ${r.schedulerCommands} scheduler command(s)`)
    options.log(
      `cluster ${cluster}: ${round.runs.length} run(s), ${round.submitted} submitted, ${round.schedulerCommands} scheduler command(s)`,
    )
  }
  const tick = async () => {
    const clusters = [...(await clustersWithWork(app)).keys()]
    await Promise.all(clusters.map((cluster) => tickOne(cluster)))
  }
  const logFailure = (error: unknown) =>
    options.log(`tick failed: ${error instanceof Error ? error.message : String(error)}`)
  let running: Promise<void> = Promise.resolve()
  const task = cron.schedule(
    app.config.sync.schedule,
    () => {
      running = tick().catch(logFailure)
      return running
    },
    { noOverlap: true, name: 'rpo-sync' },
  )
  running = tick().catch(logFailure)
  await new Promise<void>((resolve) => {
    const stop = () => resolve()
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
    options.signal?.addEventListener('abort', stop)
  })
  stopped = true
  await task.stop()
  for (const timer of retries.values()) clearTimeout(timer)
  await running
  await Promise.all(busy.values())
  await webhooks?.stop()
  await catchUp.stop()
}
