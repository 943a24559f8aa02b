/**
 * The composition root: config → store → adapter → engine. The only place that decides which
 * adapter and transport a cluster gets; everything else receives what it needs.
 */
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { LocalAdapter } from '../adapters/local/local-adapter.js'
import { type LoadConfigOptions, loadConfig, type ResolvedCluster, type ResolvedConfig } from './config/load-config.js'
import { RpoError } from './core/errors.js'
import { Engine } from './engine/engine.js'
import { openDatabase } from './store/open-store.js'
import { RunStore } from './store/run-store.js'

export interface App {
  readonly config: ResolvedConfig
  readonly store: RunStore
  /** The engine for a cluster (created on first use, one per cluster). */
  engineFor(clusterName?: string | null): Promise<Engine>
  close(): Promise<void>
}

export interface CreateAppOptions extends LoadConfigOptions {
  readonly config?: ResolvedConfig
  readonly clock?: () => number
}

export async function createApp(options: CreateAppOptions = {}): Promise<App> {
  const config = options.config ?? loadConfig(options)
  const store = new RunStore(await openDatabase(config.store))
  const engines = new Map<string, Engine>()
  return {
    config,
    store,
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
      const engine = createEngine(config, cluster, store, options.clock)
      engines.set(name, engine)
      return engine
    },
    async close() {
      for (const engine of engines.values()) await engine.close()
      await store.close()
    },
  }
}

function createEngine(config: ResolvedConfig, cluster: ResolvedCluster, store: RunStore, clock?: () => number): Engine {
  if (cluster.kind === 'local') {
    const jobsRoot = path.join(config.stateDir, 'jobs')
    return new Engine({
      store,
      adapter: new LocalAdapter({ cluster, jobsRoot }),
      clusterName: cluster.name,
      jobsRoot,
      runsRoot: path.join(config.stateDir, 'runs'),
      readFile: readLocalFile,
      capacity: {
        cpus: cluster.cpus,
        memoryMb: cluster.memoryMb,
        gpus: Object.fromEntries(cluster.gpus.map((g) => [g.type, g.count])),
      },
      ...(clock ? { clock } : {}),
    })
  }
  throw new RpoError(
    'usage',
    `cluster "${cluster.name}": the ${cluster.kind} adapter is not available in this version of rpo`,
  )
}

async function readLocalFile(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
}
