/**
 * What the simulator benches share: rpo's real engine and store (SQLite in a temp folder) in front
 * of a simulated cluster, wrapped as an App so `syncOnce(app)` drives it exactly as `rpo sync` drives
 * a real cluster; seeded randomness for workloads; the pure planning of a round timed on its own.
 * createApp knows no simulated clusters, so the App here is createApp's (config, store, budgets)
 * with `engineFor` answering the simulated cluster's engine.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { SimAdapter } from '../adapters/sim/sim-adapter.js'
import { SimClock } from '../adapters/sim/sim-clock.js'
import { SimCluster, type SimClusterOptions } from '../adapters/sim/sim-cluster.js'
import { planCluster, type RunPlanInput } from '../src/core/scheduling/plan-cluster.js'
import { type App, createApp } from '../src/create-app.js'
import { Engine } from '../src/engine/engine.js'
import { liveAttempts, observeAttempts } from '../src/engine/observe-step.js'
import type { SyncResult } from '../src/sync/sync-runs.js'

export const SIM_CLUSTER = 'sim'

export interface SimApp {
  readonly app: App
  readonly engine: Engine
  readonly cluster: SimCluster
  readonly adapter: SimAdapter
  readonly clock: SimClock
  /** Close the app and delete the temp folder (the SQLite store). */
  dispose(): Promise<void>
}

/** rpo (engine, SQLite store, budgets) over a fresh simulated cluster, at virtual time `startMs`. */
export async function createSimApp(
  startMs: number,
  cluster: Omit<SimClusterOptions, 'clock'>,
  options: { maxActive?: number } = {},
): Promise<SimApp> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rpo-sim-bench-'))
  // a local cluster only to satisfy the config's schema: engineFor answers the simulated one
  writeFileSync(
    path.join(dir, 'rpo.config.yaml'),
    `store: { url: "sqlite:${path.join(dir, 'rpo.sqlite')}" }\nstateDir: ${path.join(dir, 'state')}\ndefaultCluster: ${SIM_CLUSTER}\nclusters:\n  ${SIM_CLUSTER}: { kind: local, cpus: 1, memory: 1G }\n`,
  )
  const clock = new SimClock(startMs)
  const base = await createApp({ cwd: dir, env: {}, clock: () => clock.now() })
  const simCluster = new SimCluster({ ...cluster, clock })
  const adapter = new SimAdapter({ cluster: simCluster })
  // as createApp builds a Slurm cluster's engine: the scheduler queues (no capacity), budgets on
  const engine = new Engine({
    store: base.store,
    adapter,
    clusterName: SIM_CLUSTER,
    jobsRoot: '/sim/jobs',
    runsRoot: '/sim/runs',
    jobWorkDir: '/sim/work',
    readFile: async () => null,
    capacity: null,
    ...(options.maxActive !== undefined ? { maxActive: options.maxActive } : {}),
    budget: base.budgets,
    clock: () => clock.now(),
  })
  const app: App = {
    config: base.config,
    store: base.store,
    budgets: base.budgets,
    events: base.events,
    engineFor: async () => engine,
    clock: () => clock.now(),
    close: async () => {
      await engine.close()
      await base.close()
    },
  }
  return {
    app,
    engine,
    cluster: simCluster,
    adapter,
    clock,
    async dispose() {
      await app.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * The pure decision of one round, timed apart from I/O: every running run's snapshot is loaded and
 * observed first (a separate adapter, so the engine's command counts stay untouched), then
 * one `planCluster` call over all of them is timed, as the cluster tick makes it. Returns milliseconds.
 */
export async function timePlanning(sim: SimApp): Promise<{ ms: number; runs: number }> {
  const observer = new SimAdapter({ cluster: sim.cluster })
  const deps = { adapter: observer, jobsRoot: '/sim/jobs', readFile: async () => null }
  const runs = await sim.app.store.listRuns({ limit: 100_000, states: ['running'] })
  const inputs: RunPlanInput[] = []
  for (const run of runs) {
    const { snapshot } = await sim.app.store.loadSnapshot(run.id)
    inputs.push({ snapshot, observations: await observeAttempts(deps, liveAttempts(snapshot)), cluster: 'sim' })
  }
  const now = sim.clock.now()
  const started = performance.now()
  // the cluster tick's one decision: every run on the cluster planned together
  planCluster(inputs, {
    cluster: 'sim',
    now,
    capacity: null,
    maxActive: 10_000,
    lostAfterMissedPolls: 3,
    nativeDependencies: true,
    schedulerThrottles: false,
    wholeArrayDependencies: false,
  })
  return { ms: performance.now() - started, runs: inputs.length }
}

/** A number in [0, 1) that depends only on (seed, key): workloads reproducible across runs and sizes. */
export function seededUnit(seed: number, key: string): number {
  // FNV-1a over the key, mixed with the seed, then one round of mulberry32
  let h = 0x811c9dc5 ^ seed
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  let t = (h + 0x6d2b79f5) | 0
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
}

/** Scheduler commands a sync round ran: every run's result repeats its cluster round's count, so each cluster counts once. */
export function roundCommands(results: readonly SyncResult[]): number {
  const byCluster = new Map(results.map((r) => [r.cluster, r.schedulerCommands]))
  let total = 0
  for (const commands of byCluster.values()) total += commands
  return total
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5)
}

export function rssMb(): number {
  return process.memoryUsage().rss / 1024 / 1024
}
