/**
 * The composition root: config → store → adapter → engine (one per cluster). The only place that
 * decides which adapter and transport a cluster gets; everything else receives what it needs.
 */
import { readFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { LocalAdapter } from '../adapters/local/local-adapter.js'
import { PbsAdapter } from '../adapters/pbs/pbs-adapter.js'
import { SlurmAdapter } from '../adapters/slurm/slurm-adapter.js'
import { BudgetService } from './budget/budget-service.js'
import { type LoadConfigOptions, loadConfig, type ResolvedCluster, type ResolvedConfig } from './config/load-config.js'
import { RpoError } from './core/errors.js'
import { buildGpuCatalog } from './core/gpu/gpu-catalog.js'
import { parseDurationSeconds } from './core/pipeline/units.js'
import { Engine, type EngineGpuOptions, type EngineOptions } from './engine/engine.js'
import { notificationChecker } from './engine/notify-step.js'
import { runRanker } from './engine/rank-runs.js'
import { EventLog } from './events/event-log.js'
import { TickErrorRecorder } from './events/record-tick-errors.js'
import { openDatabase } from './store/open-store.js'
import { RunStore } from './store/run-store.js'
import { CountingTransport } from './transport/counting-transport.js'
import { createLocalTransport } from './transport/local-transport.js'
import { createSshTransport } from './transport/ssh-transport.js'
import type { Transport } from './transport/transport.js'

export interface App {
  readonly config: ResolvedConfig
  readonly store: RunStore
  /** Budgets, priorities and their enforcement, shared by every cluster's engine. */
  readonly budgets: BudgetService
  /** The event log: `for await (const e of app.events.follow({ fromId }))`. */
  readonly events: EventLog
  /** The engine for a cluster (created on first use, one per cluster). */
  engineFor(clusterName?: string | null): Promise<Engine>
  /** The engines' clock (ms since the epoch): what "now" is for choosing which clusters have work. */
  readonly clock: () => number
  close(): Promise<void>
}

export interface CreateAppOptions extends LoadConfigOptions {
  readonly config?: ResolvedConfig
  readonly clock?: () => number
  /** How often event followers poll the store for other processes' events (ms; default 1000). */
  readonly eventPollIntervalMs?: number
}

export async function createApp(options: CreateAppOptions = {}): Promise<App> {
  const config = options.config ?? loadConfig(options)
  const store = new RunStore(await openDatabase(config.store))
  const budgets = new BudgetService(config, store)
  const events = new EventLog(store.events, {
    ...(options.eventPollIntervalMs !== undefined ? { pollIntervalMs: options.eventPollIntervalMs } : {}),
  })
  const tickErrors = new TickErrorRecorder(events, options.clock)
  const engines = new Map<string, Engine>()
  // one checker for every engine: it keeps each cluster's last check and one history cache
  const notify = notificationChecker({
    store,
    projectDeadlines: Object.fromEntries(Object.entries(config.projects).map(([name, p]) => [name, p.deadline])),
    budgetStatuses: async (now) => (await budgets.statuses(now)).statuses,
  })
  const app: App = {
    config,
    store,
    budgets,
    events,
    clock: options.clock ?? Date.now,
    async engineFor(clusterName) {
      const name = clusterName ?? config.defaultCluster
      const existing = engines.get(name)
      if (existing) return existing
      const cluster = config.clusters[name]
      if (!cluster) {
        throw new RpoError(
          'config-invalid',
          `no cluster "${name}" in ${config.file ?? 'the config'} (clusters: ${Object.keys(config.clusters).join(', ')})`,
        )
      }
      const engine = createEngine(config, cluster, store, budgets, {
        ...(options.clock ? { clock: options.clock } : {}),
        rankRuns: runRanker(config, store, budgets),
        notify,
        // a run whose tasks span clusters is ticked by each of its clusters' engines
        peer: (other) => app.engineFor(other),
      })
      tickErrors.watch(engine.events, name)
      engines.set(name, engine)
      return engine
    },
    async close() {
      for (const engine of engines.values()) await engine.close()
      await tickErrors.settle()
      await store.close()
    },
  }
  return app
}

type EngineExtras = Pick<EngineOptions, 'clock' | 'rankRuns' | 'peer' | 'notify'>

function createEngine(
  config: ResolvedConfig,
  cluster: ResolvedCluster,
  store: RunStore,
  budget: BudgetService,
  extras: EngineExtras,
): Engine {
  if (cluster.kind === 'local') {
    const jobsRoot = path.join(config.stateDir, 'jobs')
    const adapter = new LocalAdapter({ cluster, jobsRoot })
    return new Engine({
      store,
      adapter,
      changes: adapter,
      clusterName: cluster.name,
      jobsRoot,
      runsRoot: path.join(config.stateDir, 'runs'),
      readFile: readLocalFile,
      gpus: gpuOptions(config, cluster, { alternatives: true, typed: true }),
      capacity: {
        cpus: cluster.cpus,
        memoryMb: cluster.memoryMb,
        gpus: Object.fromEntries(cluster.gpus.map((g) => [g.type, g.count])),
      },
      budget,
      ...extras,
    })
  }
  if (cluster.kind === 'slurm' || cluster.kind === 'pbs') {
    const raw = cluster.raw
    // every command the adapter runs on the cluster passes through it: the engine reports the count per tick
    const transport = new CountingTransport(
      raw.ssh
        ? createSshTransport({
            host: raw.ssh.host,
            port: raw.ssh.port,
            username: raw.ssh.user,
            ...(raw.ssh.privateKey ? { privateKeyPath: expandHome(raw.ssh.privateKey, config.baseDir) } : {}),
            ...(raw.ssh.knownHosts ? { knownHostsPath: expandHome(raw.ssh.knownHosts, config.baseDir) } : {}),
            trustOnFirstUse: raw.ssh.trustOnFirstUse,
            ...(raw.ssh.connectTimeout !== undefined
              ? { connectTimeoutMs: (parseDurationSeconds(raw.ssh.connectTimeout) as number) * 1000 }
              : {}),
          })
        : createLocalTransport(),
    )
    const jobsRoot = path.posix.join(raw.workDir, 'jobs')
    const adapter =
      raw.kind === 'pbs'
        ? new PbsAdapter({
            transport,
            ...(raw.flavor ? { flavor: raw.flavor } : {}),
            ...(raw.arrays !== undefined ? { arrays: raw.arrays } : {}),
            // PBS has queues where Slurm has partitions; it has no QOS
            script: {
              ...(raw.partition ? { queue: raw.partition } : {}),
              ...(raw.account ? { account: raw.account } : {}),
              ...(raw.gpuTypeResource ? { gpuTypeResource: raw.gpuTypeResource } : {}),
            },
            jobsRoot,
          })
        : new SlurmAdapter({
            transport,
            script: {
              ...(raw.partition ? { partition: raw.partition } : {}),
              ...(raw.account ? { account: raw.account } : {}),
              ...(raw.qos ? { qos: raw.qos } : {}),
            },
            jobsRoot,
          })
    return new Engine({
      store,
      adapter,
      commands: transport,
      renderer: adapter,
      clusterName: cluster.name,
      jobsRoot,
      runsRoot: path.posix.join(raw.workDir, 'runs'),
      jobWorkDir: raw.workDir,
      readFile: (file) => readRemoteFile(transport, file),
      capacity: null,
      // PBS has no "one of these GPU types" request: placement picks one
      gpus: gpuOptions(config, cluster, {
        alternatives: raw.kind !== 'pbs',
        typed: raw.kind !== 'pbs' || raw.gpuTypeResource !== undefined,
      }),
      maxActive: raw.maxActive,
      budget,
      ...extras,
    })
  }
  throw new RpoError('internal', `no adapter for cluster kind ${JSON.stringify((cluster as { kind: string }).kind)}`)
}

/** The cluster's GPU catalog (the shipped one with the config's overrides) and the project terms of placement. */
function gpuOptions(
  config: ResolvedConfig,
  cluster: ResolvedCluster,
  can: { readonly alternatives: boolean; readonly typed: boolean },
): EngineGpuOptions {
  return {
    catalog: buildGpuCatalog(cluster.gpuCatalog ?? {}),
    alternatives: can.alternatives,
    // PBS has no built-in GPU type resource: only a cluster that names its site's can be asked for a type
    typed: can.typed,
    costWeights: (project) => (project === null ? undefined : config.projects[project]?.gpuWeights),
    deadline: (run) => run.pipeline.deadline ?? (run.project ? (config.projects[run.project]?.deadline ?? null) : null),
  }
}

function expandHome(file: string, baseDir: string): string {
  return file.startsWith('~/') ? path.join(os.homedir(), file.slice(2)) : path.resolve(baseDir, file)
}

async function readRemoteFile(transport: Transport, file: string): Promise<string | null> {
  try {
    return await transport.readFile(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
}

async function readLocalFile(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
}
