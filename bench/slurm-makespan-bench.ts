/**
 * `rpo run` of prep → 20 GPU trains → report (1-s tasks) against the same DAG sbatch'ed by hand on
 * the login node with --dependency=afterok and watched with squeue until every job has ended. Both
 * are wall times from the first command to knowing the DAG is done, and both watch at the same
 * cadence (rpo's pollInterval is the hand watcher's sleep). Slurm's own makespans (sacct: first
 * submit → last end) are printed beside them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadPipelineText } from '../src/config/load-pipeline.js'
import { createApp } from '../src/create-app.js'
import { followRun } from '../src/engine/follow-run.js'
import { asUser, type Connection, median } from './slurm-testbed.js'

/** How often both sides look at the queue. */
const WATCH_SECONDS = 1
const TRAINS = 20

const DAG = (prefix: string) => `
name: ${prefix}
defaults:
  resources: { time: 2m, memory: 100M }
tasks:
  prep: { command: "sleep 1", resources: { partition: cpu } }
  train:
    after: [prep]
    matrix: { i: [${Array.from({ length: TRAINS }, (_, i) => i).join(', ')}] }
    command: "sleep 1"
    resources: { partition: gpu, gpus: 1 }
  report: { command: "sleep 1", after: [train], resources: { partition: cpu } }
`

/** Slurm's makespan: first submission to last end, from sacct (whole seconds); throws unless all COMPLETED. */
function sacctMakespan(conn: Connection, ids: string): number {
  const out = asUser(conn, `sacct -X --noheader --parsable2 --jobs=${ids} --format=Submit,End,State`)
  const rows = out
    .trim()
    .split('\n')
    .map((l) => l.split('|'))
  const notDone = rows.filter((r) => r[2] !== 'COMPLETED')
  if (notDone.length > 0) throw new Error(`makespan DAG: ${notDone.length} job(s) did not complete: ${notDone[0]}`)
  const times = rows.map((r) => [Date.parse(`${r[0]}Z`), Date.parse(`${r[1]}Z`)] as const)
  return (Math.max(...times.map((t) => t[1])) - Math.min(...times.map((t) => t[0]))) / 1000
}

export async function benchMakespan(conn: Connection, tag: string, rounds = 3): Promise<void> {
  const hand: { wall: number; slurm: number }[] = []
  const rpo: { wall: number; slurm: number }[] = []
  for (let i = 0; i < rounds; i++) {
    // alternate who goes first: the cluster is shared with other work on this machine
    if (i % 2 === 0) {
      hand.push(await byHand(conn, tag))
      rpo.push(await withRpo(conn, tag))
    } else {
      rpo.push(await withRpo(conn, tag))
      hand.push(await byHand(conn, tag))
    }
  }
  const walls = (xs: typeof hand) => xs.map((x) => x.wall)
  const slurms = (xs: typeof hand) => xs.map((x) => x.slurm)
  const row = (name: string, xs: typeof hand) =>
    `${name.padEnd(58)} median ${median(walls(xs)).toFixed(1).padStart(6)} s   (${rounds} rounds: ${walls(xs)
      .map((w) => w.toFixed(1))
      .join(', ')}; Slurm makespan median ${median(slurms(xs)).toFixed(0)} s)`
  console.log(row(`prep → ${TRAINS} GPU trains → report (1 s tasks), by hand`, hand))
  console.log(row('  the same DAG with rpo run', rpo))
  console.log(
    `${'  ratio rpo / by hand (wall, both watching every 1 s)'.padEnd(58)} ${(median(walls(rpo)) / median(walls(hand))).toFixed(2)}× (target ≤ 1.1×; per round: ${rpo.map((r, i) => (r.wall / (hand[i] as typeof r).wall).toFixed(2)).join(', ')})`,
  )
}

/** One sbatch per job with afterok, then squeue every WATCH_SECONDS until none is left unfinished. */
async function byHand(conn: Connection, tag: string): Promise<{ wall: number; slurm: number }> {
  const sbatch = `sbatch --parsable -A ${conn.defaultAccount} --mem=100M -t 2 -J ${tag}-hand`
  const out = asUser(
    conn,
    [
      'cd /tmp && s=$(date +%s%N)',
      `p=$(${sbatch} -p cpu --wrap 'sleep 1') && all=$p && ids=''`,
      `for i in $(seq ${TRAINS}); do t=$(${sbatch} -p gpu --gres=gpu:1 --dependency=afterok:$p --wrap 'sleep 1'); ids="$ids:$t"; all="$all,$t"; done`,
      `r=$(${sbatch} -p cpu --dependency=afterok$ids --wrap 'sleep 1') && all="$all,$r"`,
      `while squeue -h -j $all -t PD,R,CG,CF,S 2>/dev/null | grep -q .; do sleep ${WATCH_SECONDS}; done`,
      'e=$(date +%s%N); echo "$(( (e - s) / 1000000 )) $all"',
    ].join('\n'),
  )
  const [ms, ids] = out.trim().split(' ')
  // sacct may not have the last end yet
  await new Promise((r) => setTimeout(r, 3000))
  return { wall: Number(ms) / 1000, slurm: sacctMakespan(conn, ids as string) }
}

/** `rpo run` through the library: config, store, SSH and all, until followRun returns. */
async function withRpo(conn: Connection, tag: string): Promise<{ wall: number; slurm: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rpo-bench-'))
  const remote = `${conn.workDir}/${tag}-makespan-${Date.now()}`
  writeFileSync(
    path.join(dir, 'rpo.config.yaml'),
    `defaultCluster: testbed\nclusters:\n  testbed:\n    kind: slurm\n    ssh: { host: "${conn.host}", port: ${conn.port}, user: ${conn.user}, privateKey: "${conn.privateKeyPath}", knownHosts: "${conn.knownHostsPath}" }\n    workDir: ${remote}\n    account: ${conn.defaultAccount}\n    pollInterval: ${WATCH_SECONDS}s\n    maxPollInterval: 5s\n`,
  )
  const started = performance.now()
  const app = await createApp({ cwd: dir })
  let wall: number
  let jobIds: string
  let state: string
  try {
    // the run id (in every job name) starts with the tag, so cancelTaggedJobs finds what a failure left
    const loaded = loadPipelineText(path.join(dir, 'dag.yaml'), DAG(tag))
    const engine = await app.engineFor()
    const { run } = await engine.startRun(loaded)
    state = await followRun(engine, run.id, { pollIntervalMs: WATCH_SECONDS * 1000, maxPollIntervalMs: 5000 })
    wall = (performance.now() - started) / 1000
    jobIds = (await app.store.listAttempts(run.id)).map((a) => a.jobId).join(',')
  } finally {
    await app.close()
    rmSync(dir, { recursive: true, force: true })
  }
  if (state !== 'succeeded') throw new Error(`makespan run ended ${state}`)
  await new Promise((r) => setTimeout(r, 3000))
  asUser(conn, `rm -rf -- ${remote}`)
  return { wall, slurm: sacctMakespan(conn, jobIds) }
}
