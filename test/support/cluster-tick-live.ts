/**
 * What the live cluster-tick suites share: a config naming the testbed as one or more clusters with
 * a fast daemon schedule, many runs started at once through the library, `rpo daemon` children and
 * the rounds they log, and the cleanup that leaves nothing behind on the cluster (every job whose
 * name carries the test's tag is cancelled, every spawned process killed).
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { createApp } from '../../src/create-app.js'
import type { SshTransport } from '../../src/transport/ssh-transport.js'
import { testbed } from '../cluster/testbed.js'
import { isProcessAlive, makeWorkDir, type SpawnedCli, spawnCli } from './cli-harness.js'

/** A pipeline-name prefix unique to one test: its jobs are named `rpo.<tag>…` on the cluster. */
export function tickTag(): string {
  return `ct${randomBytes(3).toString('hex')}`
}

export interface TickWorkspace {
  readonly dir: string
  readonly remoteDir: string
}

/**
 * A local folder with an rpo.config.yaml: each named cluster is the testbed under its `kind`, all
 * sharing one remote work folder (one file system, as two clusters of one site often do).
 */
export function tickWorkspace(options: {
  readonly tag: string
  readonly clusters: Readonly<Record<string, 'slurm' | 'pbs'>>
  readonly store?: string
  readonly schedule?: string
}): TickWorkspace {
  const t = testbed()
  const dir = makeWorkDir('rpo-cluster-tick-')
  const remoteDir = `${t.workDir}/${options.tag}`
  const clusters = Object.entries(options.clusters)
    .map(
      ([name, kind]) => `  ${name}:
    kind: ${kind}
    ssh: { host: "${t.host}", port: ${t.port}, user: ${t.user}, privateKey: "${t.privateKeyPath}", knownHosts: "${t.knownHostsPath}" }
    workDir: ${remoteDir}
    account: ${t.defaultAccount}
    pollInterval: 500ms
    maxPollInterval: 1s
`,
    )
    .join('')
  writeFileSync(
    path.join(dir, 'rpo.config.yaml'),
    `defaultCluster: ${Object.keys(options.clusters)[0]}
store: { url: "${options.store ?? 'sqlite:.rpo/rpo.sqlite'}", busyTimeout: 20s }
sync: { schedule: "${options.schedule ?? '*/2 * * * * *'}" }
clusters:
${clusters}`,
  )
  return { dir, remoteDir }
}

/** Start `count` runs at once through the library (none is ticked: the daemon moves them). */
export async function startRuns(dir: string, count: number, pipeline: (i: number) => string): Promise<string[]> {
  const app = await createApp({ cwd: dir })
  try {
    const engine = await app.engineFor()
    const ids: string[] = []
    for (let i = 0; i < count; i++) {
      const loaded = loadPipelineText(path.join(dir, `p${i}.yaml`), pipeline(i))
      ids.push((await engine.startRun(loaded, { resume: false })).run.id)
    }
    return ids
  } finally {
    await app.close()
  }
}

/** One cluster round as `rpo daemon` logged it. */
export interface LoggedRound {
  readonly at: number
  readonly cluster: string
  readonly runs: number
  readonly submitted: number
  readonly commands: number
}

const ROUND_LINE = /^(\S+) cluster (\S+): (\d+) run\(s\), (\d+) submitted, (\d+) scheduler command\(s\)$/

export function loggedRounds(stderr: string, cluster?: string): LoggedRound[] {
  return stderr
    .split('\n')
    .map((line) => ROUND_LINE.exec(line))
    .flatMap((m) =>
      m
        ? [
            {
              at: Date.parse(m[1] as string),
              cluster: m[2] as string,
              runs: Number(m[3]),
              submitted: Number(m[4]),
              commands: Number(m[5]),
            },
          ]
        : [],
    )
    .filter((r) => cluster === undefined || r.cluster === cluster)
}

/** Spawned processes of a test, killed at its end whatever happened. */
export class Processes {
  readonly #all: SpawnedCli[] = []

  spawn(dir: string, args: readonly string[]): SpawnedCli {
    const cli = spawnCli(dir, args)
    this.#all.push(cli)
    return cli
  }

  async killAll(): Promise<void> {
    for (const cli of this.#all) {
      const pid = cli.child.pid
      if (pid !== undefined && isProcessAlive(pid)) cli.child.kill('SIGKILL')
      await cli.exited()
    }
  }
}

/**
 * Cancel every job of this user whose name starts with `rpo.<tag>` (only this test's runs carry the
 * tag), and say how many were still queued or running.
 */
export async function cancelTagged(ssh: SshTransport, tag: string): Promise<number> {
  const listed = await ssh.exec(['squeue', '-h', '-u', testbed().user, '-o', '%i %j'], { idempotent: true })
  const ids = listed.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([id, name]) => id && name?.startsWith(`rpo.${tag}`))
    .map(([id]) => (id as string).split('_')[0] as string)
  if (ids.length > 0) await ssh.exec(['scancel', ...new Set(ids)], { idempotent: true })
  return ids.length
}

/**
 * Cancel every job the store in `dir` knows of that is still queued or running (PBS jobs carry
 * short hashed names, not the tag: the store is what knows them). Returns how many were cancelled.
 */
export async function cancelStoredJobs(ssh: SshTransport, dir: string): Promise<number> {
  const app = await createApp({ cwd: dir })
  try {
    const runs = await app.store.listRuns({ limit: 10_000 })
    const attempts = (await Promise.all(runs.map((r) => app.store.listAttempts(r.id)))).flat()
    const ids = new Set(attempts.flatMap((a) => (a.jobId ? [a.jobId.split(/[._[]/)[0] as string] : [])))
    if (ids.size === 0) return 0
    const listed = await ssh.exec(['squeue', '-h', '-u', testbed().user, '-o', '%A %i'], { idempotent: true })
    const live = listed.stdout
      .split('\n')
      .flatMap((l) => l.trim().split(/\s+/))
      .map((id) => id.split('_')[0] as string)
      .filter((id) => ids.has(id))
    if (live.length > 0) await ssh.exec(['scancel', ...new Set(live)], { idempotent: true })
    return live.length
  } finally {
    await app.close()
  }
}

export interface TaggedJob {
  readonly jobId: string
  readonly name: string
  readonly state: string
  readonly submit: number
  readonly start: number
  readonly end: number
}

const SACCT_FORMAT = '--format=JobID,JobName%200,State,Submit,Start,End'

function parseSacct(stdout: string): TaggedJob[] {
  return stdout
    .split('\n')
    .map((l) => l.split('|'))
    .filter((fields) => fields.length === 6)
    .map(([jobId, name, state, submit, start, end]) => ({
      jobId: jobId as string,
      name: name as string,
      state: state as string,
      submit: Number(submit),
      start: Number(start),
      end: Number(end),
    }))
}

/** What Slurm's accounting says about these jobs (allocation rows), with their submit times. */
export async function sacctJobs(ssh: SshTransport, jobIds: readonly string[]): Promise<TaggedJob[]> {
  const result = await ssh.exec(
    [
      'env',
      'SLURM_TIME_FORMAT=%s',
      'sacct',
      '-X',
      '--noheader',
      '--parsable2',
      `--jobs=${jobIds.join(',')}`,
      SACCT_FORMAT,
    ],
    { idempotent: true },
  )
  return parseSacct(result.stdout)
}

/** Every job Slurm's accounting knows under this test's tag since `sinceMs` (unix ms). */
export async function sacctTagged(ssh: SshTransport, tag: string, sinceMs: number): Promise<TaggedJob[]> {
  const since = new Date(sinceMs - 60_000).toISOString().slice(0, 19)
  const result = await ssh.exec(
    ['env', 'SLURM_TIME_FORMAT=%s', 'sacct', '-X', '--noheader', '--parsable2', `--starttime=${since}`, SACCT_FORMAT],
    { idempotent: true },
  )
  return parseSacct(result.stdout).filter((j) => j.name.startsWith(`rpo.${tag}`))
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function until<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs: number,
  everyMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}
