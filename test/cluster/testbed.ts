/**
 * The live Slurm testbed as the cluster suites see it: connection details written by up.sh, an rpo
 * config pointing at it with a fresh work folder per test, and an SSH transport for checking what
 * Slurm itself says (sacct/squeue). Missing testbed = failing suite, never a skipped one.
 */

import { randomUUID } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { createSshTransport, type SshTransport } from '../../src/transport/ssh-transport.js'
import { makeWorkDir } from '../support/cli-harness.js'

export interface TestbedConnection {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly privateKeyPath: string
  readonly knownHostsPath: string
  readonly workDir: string
  readonly defaultAccount: string
}

const CONNECTION_FILE = path.resolve(import.meta.dirname, '.testbed/connection.json')

export function testbed(): TestbedConnection {
  if (!existsSync(CONNECTION_FILE)) {
    throw new Error(
      `the Slurm testbed is not up (${CONNECTION_FILE} is missing): run \`bash test/cluster/up.sh\` as root first`,
    )
  }
  return JSON.parse(readFileSync(CONNECTION_FILE, 'utf8')) as TestbedConnection
}

export function testbedSsh(): SshTransport {
  const t = testbed()
  return createSshTransport({
    host: t.host,
    port: t.port,
    username: t.user,
    privateKeyPath: t.privateKeyPath,
    knownHostsPath: t.knownHostsPath,
  })
}

/** A local folder with an rpo.config.yaml whose default cluster is the testbed, with its own remote work dir. */
export function testbedWorkspace(options: { pollInterval?: string; kind?: 'slurm' | 'pbs' } = {}): {
  dir: string
  remoteDir: string
} {
  const t = testbed()
  const dir = makeWorkDir('rpo-cluster-')
  const remoteDir = `${t.workDir}/t-${randomUUID().slice(0, 8)}`
  writeFileSync(
    path.join(dir, 'rpo.config.yaml'),
    `defaultCluster: testbed
clusters:
  testbed:
    kind: ${options.kind ?? 'slurm'}
    ssh: { host: "${t.host}", port: ${t.port}, user: ${t.user}, privateKey: "${t.privateKeyPath}", knownHosts: "${t.knownHostsPath}" }
    workDir: ${remoteDir}
    account: ${t.defaultAccount}
    pollInterval: ${options.pollInterval ?? '500ms'}
    maxPollInterval: 2s
`,
  )
  return { dir, remoteDir }
}

export interface SacctRow {
  readonly jobId: string
  readonly name: string
  readonly state: string
  readonly start: number
  readonly end: number
  readonly allocTres: string
  readonly nodes: string
}

/**
 * What Slurm's accounting says about these jobs (allocation rows only). By id, not by a time window:
 * `sacct --starttime` leaves out jobs cancelled before they were ever eligible to start.
 */
/**
 * Cancel the jobs of this user still queued or running whose working directory is under one of
 * `remoteDirs`, then close the connection: a test that failed half-way may leave its jobs queued,
 * and only its own may be cancelled.
 */
export async function cancelJobsUnder(ssh: SshTransport, remoteDirs: readonly string[]): Promise<void> {
  try {
    const queued = await ssh.exec(['squeue', '--me', '--noheader', '--format=%i|%Z'], { idempotent: true })
    const ours = queued.stdout
      .trim()
      .split('\n')
      .map((line) => line.split('|'))
      .filter(([, workDir]) => remoteDirs.some((dir) => workDir?.startsWith(dir)))
      .map(([jobId]) => jobId as string)
    if (ours.length > 0) await ssh.exec(['scancel', ...ours])
  } finally {
    await ssh.close()
  }
}

export async function sacctByJobIds(ssh: SshTransport, jobIds: readonly string[]): Promise<SacctRow[]> {
  const result = await ssh.exec(
    [
      'env',
      'SLURM_TIME_FORMAT=%s',
      'sacct',
      '-X',
      '--noheader',
      '--parsable2',
      `--jobs=${jobIds.join(',')}`,
      '--format=JobID,JobName%200,State,Start,End,AllocTRES,NodeList',
    ],
    { idempotent: true },
  )
  return result.stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('|'))
    .map(([jobId, name, state, start, end, allocTres, nodes]) => ({
      jobId: jobId as string,
      name: name as string,
      state: state as string,
      start: Number(start),
      end: Number(end),
      allocTres: allocTres as string,
      nodes: nodes as string,
    }))
}

/** Wait until sacct has caught up with squeue (it lags by a few seconds on the testbed). */
export async function sacctSettled(
  ssh: SshTransport,
  jobIds: readonly string[],
  timeoutMs = 20_000,
): Promise<SacctRow[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const rows = await sacctByJobIds(ssh, jobIds)
    const done = rows.filter((r) => !['PENDING', 'RUNNING', 'REQUEUED'].includes(r.state) && r.end > 0)
    if (done.length >= jobIds.length || Date.now() > deadline) return rows
    await new Promise((r) => setTimeout(r, 500))
  }
}
