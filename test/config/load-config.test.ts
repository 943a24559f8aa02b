/**
 * Finding, validating, resolving and freezing the config: the built-in default, YAML and JSON
 * files, --config and $RPO_CONFIG, located errors with suggestions, and $RPO_STORE.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PbsAdapter } from '../../adapters/pbs/pbs-adapter.js'
import { PBS_FLAVOR_NAMES } from '../../adapters/pbs/pbs-flavors.js'
import { loadConfig, type ResolvedLocalCluster } from '../../src/config/load-config.js'
import { type RpoError, SpecError } from '../../src/core/errors.js'
import { createApp } from '../../src/create-app.js'
import { asSubmissionKey } from '../../src/scheduler/scheduler-adapter.js'

let root: string
let counter = 0

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'rpo-config-test-'))
})

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

function folder(files: Record<string, string> = {}): string {
  const dir = path.join(root, `case-${++counter}`)
  mkdirSync(dir, { recursive: true })
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    writeFileSync(path.join(dir, name), text)
  }
  return dir
}

function errorOf(fn: () => unknown): RpoError {
  try {
    fn()
  } catch (error) {
    return error as RpoError
  }
  throw new Error('expected the config to be rejected')
}

describe('without a config file', () => {
  it('uses a local cluster and a SQLite store in .rpo under the working folder', () => {
    const cwd = folder()
    const config = loadConfig({ cwd, env: {} })
    expect(config.file).toBeNull()
    expect(config.baseDir).toBe(cwd)
    expect(config.store).toEqual({ kind: 'sqlite', path: path.join(cwd, '.rpo', 'rpo.sqlite'), busyTimeoutMs: 5000 })
    expect(config.stateDir).toBe(path.join(cwd, '.rpo'))
    expect(config.defaultCluster).toBe('local')
    const local = config.clusters.local as ResolvedLocalCluster
    expect(local).toMatchObject({ kind: 'local', name: 'local', gpus: [], killGraceMs: 10_000, pollIntervalMs: 250 })
    expect(local.cpus).toBeGreaterThan(0)
    expect(local.memoryMb).toBeGreaterThan(0)
    expect(config.projects).toEqual({})
  })
})

describe('a config file', () => {
  it('found in the working folder, with a local cluster that has GPUs, paths relative to the file', () => {
    const cwd = folder({
      'rpo.config.yaml': [
        'store:',
        '  url: sqlite:state/store.db',
        '  busyTimeout: 2s',
        'stateDir: runs',
        'defaultCluster: workstation',
        'clusters:',
        '  workstation:',
        '    kind: local',
        '    cpus: 16',
        '    memory: 64G',
        '    gpus:',
        '      - { type: a100, count: 2, memory: 80G }',
        '      - { type: t4, count: 1 }',
        '    killGrace: 30s',
        'projects:',
        '  vision: { importance: 2 }',
        '',
      ].join('\n'),
    })
    const config = loadConfig({ cwd, env: {} })
    expect(config.file).toBe(path.join(cwd, 'rpo.config.yaml'))
    expect(config.store).toEqual({ kind: 'sqlite', path: path.join(cwd, 'state', 'store.db'), busyTimeoutMs: 2000 })
    expect(config.stateDir).toBe(path.join(cwd, 'runs'))
    expect(config.clusters.workstation).toEqual({
      kind: 'local',
      name: 'workstation',
      cpus: 16,
      memoryMb: 65536,
      gpus: [
        { type: 'a100', count: 2, memoryMb: 81920 },
        { type: 't4', count: 1, memoryMb: null },
      ],
      // the per-GPU memory overrides the GPU catalog's (an a100 is 40 GB unless said otherwise)
      gpuCatalog: { a100: { memoryMb: 81920 }, t4: {} },
      killGraceMs: 30_000,
      pollIntervalMs: 250,
    })
    expect(config.projects.vision).toMatchObject({ importance: 2, budgets: [] })
  })

  it('may be JSON, and resolves relative paths against its own folder rather than the working folder', () => {
    const dir = folder({ 'conf/rpo.json': JSON.stringify({ store: { url: 'sqlite:db/rpo.sqlite' } }) })
    const cwd = folder()
    const config = loadConfig({ cwd, configPath: path.join(dir, 'conf/rpo.json'), env: {} })
    expect(config.store).toMatchObject({ kind: 'sqlite', path: path.join(dir, 'conf', 'db', 'rpo.sqlite') })
  })

  it('is taken from $RPO_CONFIG when no --config is given, and --config wins over it', () => {
    const dir = folder({
      'a.yaml': 'defaultCluster: a\nclusters:\n  a: { kind: local, cpus: 1 }\n',
      'b.yaml': 'defaultCluster: b\nclusters:\n  b: { kind: local, cpus: 2 }\n',
      'rpo.config.yaml': 'stateDir: ignored\n',
    })
    expect(loadConfig({ cwd: dir, env: { RPO_CONFIG: 'a.yaml' } }).defaultCluster).toBe('a')
    expect(loadConfig({ cwd: dir, configPath: 'b.yaml', env: { RPO_CONFIG: 'a.yaml' } }).defaultCluster).toBe('b')
  })

  it('reports a missing --config file clearly', () => {
    const cwd = folder()
    const error = errorOf(() => loadConfig({ cwd, configPath: 'nope.yaml', env: {} }))
    expect(error.code).toBe('config-not-found')
    expect(error.message).toContain(path.join(cwd, 'nope.yaml'))
    expect(error.message).toContain('no such file')
  })

  it('resolves a Slurm cluster with its polling defaults', () => {
    const cwd = folder({
      'rpo.config.yaml': [
        'defaultCluster: hpc',
        'clusters:',
        '  hpc:',
        '    kind: slurm',
        '    workDir: /scratch/rpo',
        '    ssh: { host: login.example.org, user: alice }',
        '',
      ].join('\n'),
    })
    const config = loadConfig({ cwd, env: {} })
    expect(config.clusters.hpc).toMatchObject({
      kind: 'slurm',
      name: 'hpc',
      pollIntervalMs: 15_000,
      maxPollIntervalMs: 120_000,
    })
    expect(config.clusters.hpc?.kind === 'slurm' && config.clusters.hpc.raw.ssh).toMatchObject({
      port: 22,
      trustOnFirstUse: false,
    })
  })
})

describe('a PBS cluster', () => {
  function pbsConfig(flavor: string, extra: readonly string[] = []): string {
    return folder({
      'rpo.config.yaml': [
        'defaultCluster: hpc',
        'store: { url: sqlite:rpo.sqlite }',
        'clusters:',
        '  hpc:',
        '    kind: pbs',
        `    flavor: ${flavor}`,
        '    workDir: /scratch/rpo',
        '    ssh: { host: login.example.org, user: alice }',
        ...extra.map((line) => `    ${line}`),
        '',
      ].join('\n'),
    })
  }

  it('asks for the GPU type in select chunks through the resource the site names, and refuses a bad name', async () => {
    const app = await createApp({
      config: loadConfig({ cwd: pbsConfig('pbspro', ['gpuTypeResource: gputype']), env: {} }),
    })
    try {
      const engine = await app.engineFor('hpc')
      const [rendered] = (engine.adapter as PbsAdapter).renderScripts([
        {
          submissionKey: asSubmissionKey('rpo.gpus-1.train.0.1'),
          runId: 'gpus-1',
          taskId: 'train',
          attempt: 1,
          command: 'python train.py',
          workDir: '/scratch/rpo',
          jobDir: '/scratch/rpo/jobs/rpo.gpus-1.train.0.1',
          env: {},
          resources: {
            cpus: 4,
            memoryMb: 16_000,
            timeLimitSeconds: 3600,
            nodes: 1,
            gpus: { count: 2, types: ['a100'] },
          },
          dependsOn: [],
          project: null,
        },
      ])
      expect(rendered?.script).toMatch(/^#PBS -l select=1:ncpus=4:mem=16000mb:ngpus=2:gputype=a100$/m)
    } finally {
      await app.close()
    }
    const error = errorOf(() => loadConfig({ cwd: pbsConfig('pbspro', ['gpuTypeResource: "gpu type"']), env: {} }))
    expect(error.message).toMatch(/clusters\.hpc\.gpuTypeResource: expected a PBS resource name/)
  })

  it('may name every flavor the PBS adapter can detect, so detection can be skipped for any of them', () => {
    for (const flavor of PBS_FLAVOR_NAMES) {
      const config = loadConfig({ cwd: pbsConfig(flavor), env: {} })
      const cluster = config.clusters.hpc
      expect(cluster?.kind !== 'local' && cluster?.raw.kind === 'pbs' && cluster.raw.flavor).toBe(flavor)
    }
  })

  it('named slurm-torque gets the Slurm Torque wrappers row without asking qstat', async () => {
    // the adapter is built without connecting (the SSH transport connects on first use)
    const app = await createApp({ config: loadConfig({ cwd: pbsConfig('slurm-torque'), env: {} }) })
    try {
      const adapter = (await app.engineFor('hpc')).adapter
      expect(adapter).toBeInstanceOf(PbsAdapter)
      const pbs = adapter as PbsAdapter
      expect(pbs.dialect).toEqual({ flavor: 'slurm-torque', version: null, format: 'text' })
      // the wrappers' row: qstat cannot tell array tasks apart, and there is no qalter -p or qsig
      expect(pbs.capabilities).toMatchObject({ arrays: false, priority: false, signal: false })
    } finally {
      await app.close()
    }
  })

  it('rejects a flavor that is not a row of the table, listing the ones there are', () => {
    const error = errorOf(() => loadConfig({ cwd: pbsConfig('lsf'), env: {} }))
    expect(error).toBeInstanceOf(SpecError)
    expect(error.message).toContain('slurm-torque')
  })
})

describe('config errors', () => {
  it('rejects a defaultCluster that is not defined, listing the clusters there are', () => {
    const cwd = folder({ 'rpo.config.yaml': 'defaultCluster: gpu-box\n' })
    const error = errorOf(() => loadConfig({ cwd, env: {} }))
    expect(error.code).toBe('config-invalid')
    expect(error.message).toContain('rpo.config.yaml')
    expect(error.message).toContain('defaultCluster: "gpu-box" is not one of the clusters (local)')
  })

  it('suggests the key a typo meant, with file:line:col', () => {
    const cwd = folder({ 'rpo.config.yaml': 'store:\n  url: sqlite:x.db\n  busyTimeuot: 1s\n' })
    const error = errorOf(() => loadConfig({ cwd, env: {} }))
    expect(error).toBeInstanceOf(SpecError)
    expect(error.code).toBe('config-invalid')
    expect(error.message).toMatch(
      /rpo\.config\.yaml:3:\d+: store\.busyTimeuot: unknown key "busyTimeuot" \(did you mean "busyTimeout"\?\)/,
    )
  })

  it('suggests a top-level key too', () => {
    const cwd = folder({ 'rpo.config.yaml': 'clusterz: {}\n' })
    expect(errorOf(() => loadConfig({ cwd, env: {} })).message).toContain(
      'unknown key "clusterz" (did you mean "clusters"?)',
    )
  })

  it('shows the value it got for a wrong type', () => {
    const cwd = folder({ 'rpo.config.yaml': 'clusters:\n  box:\n    kind: local\n    cpus: many\n' })
    const error = errorOf(() => loadConfig({ cwd, env: {} }))
    expect(error.message).toMatch(/rpo\.config\.yaml:4:\d+: clusters\.box\.cpus: .*got "many"/)
  })

  it('rejects an invalid cron schedule', () => {
    const cwd = folder({ 'rpo.config.yaml': 'sync:\n  schedule: every minute\n' })
    expect(errorOf(() => loadConfig({ cwd, env: {} })).message).toContain('sync.schedule: expected a cron expression')
  })
})

describe('the resolved config', () => {
  it('is deeply frozen', () => {
    const cwd = folder({
      'rpo.config.yaml': 'clusters:\n  local: { kind: local, cpus: 2, gpus: [{ type: t4, count: 1 }] }\n',
    })
    const config = loadConfig({ cwd, env: {} })
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.store)).toBe(true)
    expect(Object.isFrozen(config.clusters)).toBe(true)
    const local = config.clusters.local as ResolvedLocalCluster
    expect(Object.isFrozen(local.gpus)).toBe(true)
    expect(Object.isFrozen(local.gpus[0])).toBe(true)
    expect(() => {
      ;(config as { defaultCluster: string }).defaultCluster = 'other'
    }).toThrow(TypeError)
  })

  it('takes the store URL from $RPO_STORE over the file', () => {
    const cwd = folder({ 'rpo.config.yaml': 'store:\n  url: sqlite:file.db\n' })
    const pgUrl = 'postgres://rpo@db.example.org:5432/rpo'
    expect(loadConfig({ cwd, env: { RPO_STORE: pgUrl } }).store).toEqual({ kind: 'postgres', url: pgUrl })
    expect(loadConfig({ cwd, env: { RPO_STORE: 'sqlite:/var/lib/rpo/rpo.sqlite' } }).store).toMatchObject({
      kind: 'sqlite',
      path: '/var/lib/rpo/rpo.sqlite',
    })
    expect(loadConfig({ cwd: folder(), env: { RPO_STORE: 'postgresql://x@h/db' } }).store.kind).toBe('postgres')
  })
})
