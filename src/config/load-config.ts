/**
 * Finding, reading, validating and freezing the config. Order: --config, $RPO_CONFIG, rpo.config.{yaml,yml,json}
 * in the working folder, then the built-in default (local executor, SQLite in ./.rpo). Paths in the
 * file are relative to the file; the result is deeply frozen and carries resolved units.
 */
import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { RpoError } from '../core/errors.js'
import type { GpuModelOverride } from '../core/gpu/gpu-catalog.js'
import { parseDurationSeconds, parseMemoryMb } from '../core/pipeline/units.js'
import { type ClusterConfig, type ConfigFile, ConfigSchema, type GpuModelConfig } from './config-schema.js'
import { readDocumentFile, validateDocument } from './document.js'

export const CONFIG_FILE_NAMES = ['rpo.config.yaml', 'rpo.config.yml', 'rpo.config.json'] as const

export type StoreTarget =
  | { readonly kind: 'sqlite'; readonly path: string; readonly busyTimeoutMs: number }
  | { readonly kind: 'postgres'; readonly url: string }

export interface ResolvedLocalCluster {
  readonly kind: 'local'
  readonly name: string
  readonly cpus: number
  readonly memoryMb: number
  readonly gpus: readonly { readonly type: string; readonly count: number; readonly memoryMb: number | null }[]
  /** What the config says about its GPU types, over the shipped catalog. */
  readonly gpuCatalog?: Readonly<Record<string, GpuModelOverride>>
  readonly killGraceMs: number
  readonly pollIntervalMs: number
}

export interface ResolvedBatchCluster {
  readonly kind: 'slurm' | 'pbs'
  readonly name: string
  readonly raw: Extract<ClusterConfig, { kind: 'slurm' | 'pbs' }>
  /** What the config says about its GPU types, over the shipped catalog. */
  readonly gpuCatalog?: Readonly<Record<string, GpuModelOverride>>
  readonly pollIntervalMs: number
  readonly maxPollIntervalMs: number
}

export type ResolvedCluster = ResolvedLocalCluster | ResolvedBatchCluster

export interface ResolvedConfig {
  /** The file it came from, or null for the built-in default. */
  readonly file: string | null
  readonly baseDir: string
  readonly store: StoreTarget
  readonly stateDir: string
  readonly defaultCluster: string
  readonly clusters: Readonly<Record<string, ResolvedCluster>>
  readonly projects: ConfigFile['projects']
  /** Global budget admins; null when the config names none. */
  readonly admins: readonly string[] | null
  readonly enforcement: ConfigFile['enforcement']
  readonly sync: ConfigFile['sync']
  /** Webhooks `rpo daemon` delivers events to (src/notify/webhook-dispatcher.ts). */
  readonly webhooks: ConfigFile['webhooks']
}

export interface LoadConfigOptions {
  readonly configPath?: string | undefined
  readonly cwd?: string
  readonly env?: NodeJS.ProcessEnv
}

export function findConfigFile(options: LoadConfigOptions = {}): string | null {
  const cwd = options.cwd ?? process.cwd()
  if (options.configPath) return path.resolve(cwd, options.configPath)
  const fromEnv = (options.env ?? process.env).RPO_CONFIG
  if (fromEnv) return path.resolve(cwd, fromEnv)
  for (const name of CONFIG_FILE_NAMES) {
    const candidate = path.join(cwd, name)
    if (existsSync(candidate)) return candidate
  }
  return null
}

export function loadConfig(options: LoadConfigOptions = {}): ResolvedConfig {
  const cwd = options.cwd ?? process.cwd()
  const file = findConfigFile(options)
  const parsed = file
    ? validateDocument(readDocumentFile(file, 'config'), ConfigSchema, 'config-invalid')
    : ConfigSchema.parse({})
  const baseDir = file ? path.dirname(file) : cwd
  const config = resolveConfig(parsed, file, baseDir, options.env ?? process.env)
  return deepFreeze(config)
}

export function resolveConfig(
  parsed: ConfigFile,
  file: string | null,
  baseDir: string,
  env: NodeJS.ProcessEnv,
): ResolvedConfig {
  const clusters: Record<string, ResolvedCluster> = {}
  for (const [name, cluster] of Object.entries(parsed.clusters)) clusters[name] = resolveCluster(name, cluster)
  if (!clusters[parsed.defaultCluster]) {
    throw new RpoError(
      'config-invalid',
      `${file ?? 'config'}: defaultCluster: "${parsed.defaultCluster}" is not one of the clusters (${Object.keys(clusters).join(', ') || 'none'})`,
    )
  }
  return {
    file,
    baseDir,
    store: resolveStore(
      env.RPO_STORE ?? parsed.store.url,
      env.RPO_STORE === undefined ? `${file ?? 'config'}: store.url` : 'RPO_STORE',
      parsed.store.busyTimeout,
      baseDir,
    ),
    stateDir: path.resolve(baseDir, parsed.stateDir),
    defaultCluster: parsed.defaultCluster,
    clusters,
    projects: parsed.projects,
    admins: parsed.admins ?? null,
    enforcement: parsed.enforcement,
    sync: parsed.sync,
    webhooks: parsed.webhooks,
  }
}

const STORE_FORMS = 'sqlite:<path>, a file path, postgres://… or postgresql://…'

function resolveStore(url: string, where: string, busyTimeout: string | number, baseDir: string): StoreTarget {
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', url }
  // any other scheme (mysql://, sqlite://…) would otherwise become a SQLite file named after the URL
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]
  if (scheme) {
    const shown = url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')
    throw new RpoError(
      'config-invalid',
      `${where}: "${shown}" is not a store rpo can use (${scheme}://); expected ${STORE_FORMS}`,
    )
  }
  const file = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url
  if (file === '') throw new RpoError('config-invalid', `${where}: expected ${STORE_FORMS}`)
  return {
    kind: 'sqlite',
    path: file === ':memory:' ? file : path.resolve(baseDir, file.replace(/^~(?=\/)/, os.homedir())),
    busyTimeoutMs: (parseDurationSeconds(busyTimeout) as number) * 1000,
  }
}

function resolveCluster(name: string, cluster: ClusterConfig): ResolvedCluster {
  if (cluster.kind === 'local') {
    return {
      kind: 'local',
      name,
      cpus: cluster.cpus ?? os.availableParallelism(),
      memoryMb:
        cluster.memory === undefined
          ? Math.floor(os.totalmem() / 1024 / 1024)
          : (parseMemoryMb(cluster.memory) as number),
      gpus: cluster.gpus.map((g) => ({
        type: g.type,
        count: g.count,
        memoryMb: g.memory === undefined ? null : parseMemoryMb(g.memory),
      })),
      gpuCatalog: Object.fromEntries(cluster.gpus.map((g) => [g.type, gpuOverride(g)])),
      killGraceMs: (parseDurationSeconds(cluster.killGrace) as number) * 1000,
      pollIntervalMs: (parseDurationSeconds(cluster.pollInterval) as number) * 1000,
    }
  }
  return {
    kind: cluster.kind,
    name,
    raw: cluster,
    gpuCatalog: Object.fromEntries(Object.entries(cluster.gpus ?? {}).map(([type, g]) => [type, gpuOverride(g)])),
    pollIntervalMs: (parseDurationSeconds(cluster.pollInterval) as number) * 1000,
    maxPollIntervalMs: (parseDurationSeconds(cluster.maxPollInterval) as number) * 1000,
  }
}

function gpuOverride(g: GpuModelConfig): GpuModelOverride {
  return {
    ...(g.memory === undefined ? {} : { memoryMb: parseMemoryMb(g.memory) as number }),
    ...(g.speed === undefined ? {} : { speed: g.speed }),
    ...(g.cost === undefined ? {} : { cost: g.cost }),
    ...(g.architecture === undefined ? {} : { architecture: g.architecture }),
    ...(g.interconnect === undefined ? {} : { interconnect: g.interconnect }),
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const inner of Object.values(value)) deepFreeze(inner)
  }
  return value
}
