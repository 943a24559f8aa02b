/**
 * `npm run bench -- commands-per-round`, on the live testbed (test/cluster/up.sh), under its lock
 * (`flock -o /tmp/rpo-testbed.lock npm run bench -- commands-per-round`):
 * - K = 1, 10, 100 concurrent small pipelines (3 chained 1-s cpu tasks each) driven by `syncOnce(app)`
 *   rounds until all end. Per round: the scheduler commands rpo counted (SyncResult) and the RPCs
 *   slurmctld served the test user (`sdiag`, read as root: the reading itself is root's RPC). sacct
 *   goes to slurmdbd, so sdiag does not see it: rpo's count includes it, slurmctld's does not; and
 *   rpo's one submission script runs one sbatch per job (per array), each an RPC of its own there.
 *   Target (issue #11): flat in K, ≤ 2 polling commands + 1 submission script per cluster per round.
 * - 100 pipelines × 20 tasks (`sleep 1`): the wall time and RSS of the round that submits them all and
 *   of the next round (polling 2,000 jobs); then everything is cancelled.
 * Every run's name starts with one tag, so its jobs (`rpo.<run id>…`) are found and cancelled at the
 * end, also after a failure, and the bench checks that none is left.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseSdiag, rpcCountOfUser } from '../adapters/slurm/sdiag-parser.js'
import { loadPipelineText } from '../src/config/load-pipeline.js'
import { type App, createApp } from '../src/create-app.js'
import { syncOnce } from '../src/sync/sync-runs.js'
import { median, roundCommands, rssMb } from './sim-harness.js'
import { CONNECTION, type Connection } from './slurm-testbed.js'

const KS = [1, 10, 100] as const
/** Give up on a K case after this many rounds (a stuck run must not hold the testbed for ever). */
const MAX_ROUNDS = 120

function asUser(conn: Connection, script: string): string {
  return execFileSync('su', ['-', conn.user, '-c', script], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
}

/** The test user's RPC count at slurmctld, read as root (so the reading is not counted for the user). */
function userRpcs(conn: Connection): number {
  return rpcCountOfUser(parseSdiag(execFileSync('sdiag', { encoding: 'utf8' })), conn.user)
}

const SMALL = (name: string) => `
name: ${name}
defaults:
  resources: { partition: cpu, cpus: 1, memory: 100M, time: 2m }
tasks:
  a: { command: "sleep 1" }
  b: { command: "sleep 1", after: [a] }
  c: { command: "sleep 1", after: [b] }
`

const WIDE = (name: string) => `
name: ${name}
defaults:
  resources: { partition: cpu, cpus: 1, memory: 100M, time: 2m }
tasks:
  prep: { command: "sleep 1" }
  train:
    after: [prep]
    matrix: { i: [${Array.from({ length: 18 }, (_, i) => i).join(', ')}] }
    command: "sleep 1"
  report: { command: "sleep 1", after: [train] }
`

async function testbedApp(conn: Connection, remote: string): Promise<{ app: App; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rpo-bench-cpr-'))
  writeFileSync(
    path.join(dir, 'rpo.config.yaml'),
    `store: { url: "sqlite:${path.join(dir, 'rpo.sqlite')}" }\nstateDir: ${path.join(dir, 'state')}\ndefaultCluster: testbed\nclusters:\n  testbed:\n    kind: slurm\n    ssh: { host: "${conn.host}", port: ${conn.port}, user: ${conn.user}, privateKey: "${conn.privateKeyPath}", knownHosts: "${conn.knownHostsPath}" }\n    workDir: ${remote}\n    account: ${conn.defaultAccount}\n    pollInterval: 1s\n    maxPollInterval: 5s\n`,
  )
  return { app: await createApp({ cwd: dir, env: {} }), dir }
}

async function startRuns(app: App, dir: string, count: number, make: (i: number) => string): Promise<void> {
  const engine = await app.engineFor()
  for (let i = 0; i < count; i++) await engine.startRun(loadPipelineText(path.join(dir, `p${i}.yaml`), make(i)))
}

interface RoundFigures {
  readonly rpoCommands: number
  readonly slurmctldRpcs: number
  readonly wallMs: number
  readonly running: number
}

async function round(app: App, conn: Connection): Promise<RoundFigures> {
  const before = userRpcs(conn)
  const started = performance.now()
  const results = await syncOnce(app)
  const wallMs = performance.now() - started
  const errors = results.filter((r) => r.error)
  if (errors.length > 0) throw new Error(`sync round: ${errors.length} run(s) failed to tick: ${errors[0]?.error}`)
  return {
    rpoCommands: roundCommands(results),
    slurmctldRpcs: userRpcs(conn) - before,
    wallMs,
    running: results.filter((r) => r.state === 'running').length,
  }
}

async function commandsForK(conn: Connection, tag: string, k: number): Promise<{ rpo: number; ctld: number }> {
  const remote = `${conn.workDir}/${tag}-k${k}`
  const { app, dir } = await testbedApp(conn, remote)
  const rounds: RoundFigures[] = []
  try {
    await startRuns(app, dir, k, (i) => SMALL(`${tag}-k${k}-${i}`))
    for (let n = 1; n <= MAX_ROUNDS; n++) {
      const figures = await round(app, conn)
      rounds.push(figures)
      console.log(
        `  K=${String(k).padStart(3)} round ${String(n).padStart(2)}: rpo counted ${String(figures.rpoCommands).padStart(4)} scheduler command(s), slurmctld served ${String(figures.slurmctldRpcs).padStart(4)} RPC(s) for ${conn.user}, ${(figures.wallMs / 1000).toFixed(2)} s, ${figures.running} run(s) still running`,
      )
      if (figures.running === 0) break
      await new Promise((r) => setTimeout(r, 1000))
    }
  } finally {
    await app.close()
    rmSync(dir, { recursive: true, force: true })
  }
  const rpo = median(rounds.map((r) => r.rpoCommands))
  const ctld = median(rounds.map((r) => r.slurmctldRpcs))
  console.log(
    `K=${String(k).padStart(3)}: ${rounds.length} rounds, median per round: rpo ${rpo} command(s), slurmctld ${ctld} RPC(s) (${rounds.at(-1)?.running === 0 ? 'all runs ended' : 'NOT all ended'})`,
  )
  return { rpo, ctld }
}

async function wideRound(conn: Connection, tag: string): Promise<void> {
  const remote = `${conn.workDir}/${tag}-wide`
  const { app, dir } = await testbedApp(conn, remote)
  try {
    await startRuns(app, dir, 100, (i) => WIDE(`${tag}-w-${i}`))
    const first = await round(app, conn)
    const rssFirst = rssMb()
    await new Promise((r) => setTimeout(r, 1000))
    const second = await round(app, conn)
    const rssSecond = rssMb()
    console.log(
      `100 pipelines × 20 tasks: submitting round ${(first.wallMs / 1000).toFixed(1)} s (rpo ${first.rpoCommands} commands, slurmctld ${first.slurmctldRpcs} RPCs), next round (2,000 jobs in flight) ${(second.wallMs / 1000).toFixed(1)} s (rpo ${second.rpoCommands} commands, slurmctld ${second.slurmctldRpcs} RPCs); RSS ${rssFirst.toFixed(0)} MB / ${rssSecond.toFixed(0)} MB`,
    )
  } finally {
    await app.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Cancel every job of the tag's runs still queued or running; wait until squeue lists none. */
async function cancelTagged(conn: Connection, tag: string): Promise<void> {
  const list = `squeue -h -u ${conn.user} -o '%i %j' | awk -v t=rpo.${tag} 'index($2, t) == 1 { print $1 }'`
  const found = asUser(conn, list).trim()
  if (found !== '') asUser(conn, `${list} | xargs -r scancel`)
  for (let i = 0; i < 60; i++) {
    if (asUser(conn, list).trim() === '') {
      console.log(`cleanup: ${found === '' ? 0 : found.split('\n').length} job(s) of ${tag} cancelled; none left`)
      asUser(conn, `rm -rf -- ${conn.workDir}/${tag}-*`)
      return
    }
    await new Promise((r) => setTimeout(r, 1000))
  }
  throw new Error(`bench cleanup: jobs of ${tag} still queued after scancel`)
}

export async function benchCommandsPerRound(): Promise<void> {
  console.log(
    '\n## scheduler commands per sync round (live testbed; syncOnce ticks the cluster once for every run on it)',
  )
  if (!existsSync(CONNECTION)) {
    console.log('testbed not up (run `bash test/cluster/up.sh` as root); not measured')
    return
  }
  const conn = JSON.parse(readFileSync(CONNECTION, 'utf8')) as Connection
  const tag = `cpr${Date.now()}`
  try {
    const perK: { k: number; rpo: number; ctld: number }[] = []
    for (const k of KS) perK.push({ k, ...(await commandsForK(conn, tag, k)) })
    const one = perK[0] as { rpo: number; ctld: number }
    for (const { k, rpo, ctld } of perK) {
      console.log(
        `K=${String(k).padStart(3)}: median rpo ${String(rpo).padStart(5)} commands/round (${(rpo / Math.max(1, one.rpo)).toFixed(1)}× K=1; target ≤ 3 per cluster → ${rpo <= 3 ? 'ok' : 'MISSED'}), slurmctld ${String(ctld).padStart(5)} RPCs/round (${(ctld / Math.max(1, one.ctld)).toFixed(1)}× K=1)`,
      )
    }
    const last = perK.at(-1) as { rpo: number }
    console.log(`flat in K: ${last.rpo <= 1.5 * Math.max(1, one.rpo) ? 'yes' : 'NO (grows with K)'}`)
    console.log(
      '(slurmctld counts squeue as its RPCs, not sacct (slurmdbd answers it), and each sbatch of a submission script, i.e. one per job or array)',
    )
    await wideRound(conn, tag)
  } finally {
    await cancelTagged(conn, tag)
  }
}
