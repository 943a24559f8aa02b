/**
 * Slurm figures against the live testbed (test/cluster/up.sh): batched submission over SSH vs sbatch
 * on the login node, makespan of a native-dependency DAG vs the same DAG by hand, and the cost of a
 * 10,000-job poll (command count and parse time).
 *
 * Every job it submits carries one tag in its name (`<tag>-…`, or rpo's `rpo.<tag>…` keys), so at the
 * end — also after a failure — it cancels them by listing the user's queue and checks that none is
 * left (`cancelTaggedJobs`). Run it alone with `npm run bench -- slurm`, under the testbed's lock.
 */

import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { SACCT_DELIMITER, SACCT_FIELDS } from '../adapters/slurm/sacct-parser.js'
import { SlurmAdapter } from '../adapters/slurm/slurm-adapter.js'
import { SQUEUE_DELIMITER } from '../adapters/slurm/squeue-parser.js'
import { loadPipelineText } from '../src/config/load-pipeline.js'
import { createApp } from '../src/create-app.js'
import { followRun } from '../src/engine/follow-run.js'
import { packageRoot } from '../src/package-root.js'
import { asNativeJobId, asSubmissionKey, type JobSubmission } from '../src/scheduler/scheduler-adapter.js'
import { createSshTransport } from '../src/transport/ssh-transport.js'
import type { ExecResult, Transport } from '../src/transport/transport.js'
import { measure, report } from './measure.js'

const CONNECTION = path.join(packageRoot(), 'test/cluster/.testbed/connection.json')

interface Connection {
  host: string
  port: number
  user: string
  privateKeyPath: string
  knownHostsPath: string
  workDir: string
  defaultAccount: string
}

function asUser(conn: Connection, script: string): string {
  return execFileSync('su', ['-', conn.user, '-c', script], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
}

export async function benchSlurm(): Promise<void> {
  console.log('\n## Slurm (live testbed)')
  if (!existsSync(CONNECTION)) {
    console.log('testbed not up (run `bash test/cluster/up.sh` as root); Slurm figures not measured')
    return
  }
  const conn = JSON.parse(readFileSync(CONNECTION, 'utf8')) as Connection
  const tag = `bench${Date.now()}`
  try {
    await benchSubmission(conn, tag)
    await benchMakespan(conn, tag)
  } finally {
    await cancelTaggedJobs(conn, tag)
  }
  await benchPollAtScale()
}

/**
 * Cancel every queued or running job of `tag` (names `<tag>…` and rpo's keys `rpo.<tag>…`) and wait
 * until squeue lists none. Returns how many were cancelled.
 * @throws Error when some are still listed after 60 s.
 */
async function cancelTaggedJobs(conn: Connection, tag: string): Promise<number> {
  // %j is printed last so that nothing in a name can shift the id column
  const list = `squeue -h -u ${conn.user} -o '%i %j' | awk -v t=${tag} 'index($2, t) == 1 || index($2, "rpo." t) == 1 { print $1 }'`
  const found = asUser(conn, list).trim()
  const ids = found === '' ? [] : found.split('\n')
  if (ids.length > 0) asUser(conn, `${list} | xargs -r scancel`)
  let left = ''
  for (let i = 0; i < 60; i++) {
    left = asUser(conn, list).trim()
    if (left === '') {
      console.log(`cleanup: ${ids.length} job(s) tagged ${tag} cancelled; none of them left in the queue`)
      return ids.length
    }
    await new Promise((r) => setTimeout(r, 1000))
  }
  throw new Error(`bench cleanup: ${left.split('\n').length} job(s) tagged ${tag} still queued after scancel`)
}

async function benchSubmission(conn: Connection, tag: string): Promise<void> {
  const count = 1000
  // every job waits on a held blocker, so nothing runs and both sides do the same sbatch work
  const blocker = asUser(
    conn,
    `cd /tmp && sbatch --parsable --hold -p cpu -A ${conn.defaultAccount} -J ${tag}-blocker --wrap true`,
  ).trim()
  const remote = `${conn.workDir}/${tag}`
  try {
    const direct = await measure(`${count} × sbatch on the login node (direct)`, 1, () =>
      asUser(
        conn,
        `cd /tmp && for i in $(seq ${count}); do sbatch --parsable -p cpu -A ${conn.defaultAccount} --mem=100M -t 1 --dependency=afterok:${blocker} -J ${tag}-direct-$i --wrap true >/dev/null; done`,
      ),
    )
    report(direct)
    const transport = createSshTransport({
      host: conn.host,
      port: conn.port,
      username: conn.user,
      privateKeyPath: conn.privateKeyPath,
      knownHostsPath: conn.knownHostsPath,
    })
    const adapter = new SlurmAdapter({ transport, script: { partition: 'cpu', account: conn.defaultAccount } })
    const jobs: JobSubmission[] = Array.from({ length: count }, (_, i) => {
      const key = asSubmissionKey(`rpo.${tag}.t${i}.1`)
      return {
        submissionKey: key,
        runId: tag,
        taskId: `t${i}`,
        attempt: 1,
        command: 'true',
        workDir: remote,
        jobDir: `${remote}/jobs/${key}`,
        env: { RPO_RUN_ID: tag },
        resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 60, gpus: null, nodes: 1 },
        dependsOn: [
          { submissionKey: asSubmissionKey('blocker'), jobId: asNativeJobId(blocker), condition: 'succeeded' },
        ],
        project: null,
      }
    })
    await transport.exec(['true'])
    const viaRpo = await measure(`${count}-task submission by rpo over SSH (batched)`, 1, () => adapter.submit(jobs))
    report(viaRpo, `ratio to direct: ${(viaRpo.medianMs / direct.medianMs).toFixed(2)}× (target ≤ 1.2×)`)
    await adapter.close()
  } finally {
    // scancel --name takes one name, not a list: the jobs are found by their tag (cancelTaggedJobs)
    await cancelTaggedJobs(conn, tag)
    asUser(conn, `rm -rf -- ${remote}`)
  }
}

const DAG = (prefix: string) => `
name: ${prefix}
defaults:
  resources: { time: 2m, memory: 100M }
tasks:
  prep: { command: "sleep 1", resources: { partition: cpu } }
  train:
    after: [prep]
    matrix: { i: [${Array.from({ length: 20 }, (_, i) => i).join(', ')}] }
    command: "sleep 1"
    resources: { partition: gpu, gpus: { count: 1, type: [a100, v100] } }
  report: { command: "sleep 1", after: [train], resources: { partition: cpu } }
`

/** Makespan as Slurm saw it: first submission to last end, from sacct (seconds). */
function sacctMakespan(conn: Connection, ids: string): number {
  const out = asUser(conn, `sacct -X --noheader --parsable2 --jobs=${ids} --format=Submit,End`)
  const rows = out
    .trim()
    .split('\n')
    .map((l) => l.split('|').map((t) => Date.parse(`${t}Z`)))
  return (Math.max(...rows.map((r) => r[1] as number)) - Math.min(...rows.map((r) => r[0] as number))) / 1000
}

export async function benchMakespan(conn: Connection, tag: string, rounds = 3): Promise<void> {
  const hand: number[] = []
  const rpo: number[] = []
  const seen: number[] = []
  for (let i = 0; i < rounds; i++) {
    const round = await makespanRound(conn, tag)
    hand.push(round.handSeconds)
    rpo.push(round.rpoSeconds)
    seen.push(round.rpoWall)
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
  console.log(
    `${'makespan prep → 20 GPU trains → report (1 s tasks), by hand'.padEnd(58)} median ${median(hand).toFixed(1).padStart(6)} s   (${rounds} rounds, sacct first submit → last end, 1 s resolution: ${hand.join(', ')})`,
  )
  console.log(
    `${'  the same DAG with rpo run'.padEnd(58)} median ${median(rpo).toFixed(1).padStart(6)} s   ratio ${(median(rpo) / median(hand)).toFixed(2)}× (target ≤ 1.1×; rounds: ${rpo.join(', ')}); rpo saw the end after ${median(seen).toFixed(1)} s`,
  )
}

async function makespanRound(
  conn: Connection,
  tag: string,
): Promise<{ handSeconds: number; rpoSeconds: number; rpoWall: number }> {
  // by hand: the same DAG with native dependencies, submitted in one go
  const sbatch = `sbatch --parsable -A ${conn.defaultAccount} --mem=100M -t 2 -J ${tag}-hand`
  const hand = asUser(
    conn,
    `cd /tmp && p=$(${sbatch} -p cpu --wrap 'sleep 1') && all=$p && ids='' && for i in $(seq 20); do t=$(${sbatch} -p gpu --gpus=1 --dependency=afterok:$p --wrap 'sleep 1'); ids="$ids:$t"; all="$all,$t"; done && r=$(${sbatch} -p cpu --dependency=afterok$ids --wrap 'sleep 1') && all="$all,$r" && while squeue -h -j $r 2>/dev/null | grep -q .; do sleep 0.2; done && sleep 5 && echo $all`,
  )
  const handSeconds = sacctMakespan(conn, hand.trim())

  const dir = mkdtempSync(path.join(os.tmpdir(), 'rpo-bench-'))
  const remote = `${conn.workDir}/${tag}-makespan-${Date.now()}`
  writeFileSync(
    path.join(dir, 'rpo.config.yaml'),
    `defaultCluster: testbed\nclusters:\n  testbed:\n    kind: slurm\n    ssh: { host: "${conn.host}", port: ${conn.port}, user: ${conn.user}, privateKey: "${conn.privateKeyPath}", knownHosts: "${conn.knownHostsPath}" }\n    workDir: ${remote}\n    account: ${conn.defaultAccount}\n    pollInterval: 1s\n    maxPollInterval: 5s\n`,
  )
  const app = await createApp({ cwd: dir })
  // the run id (in every job name) starts with the tag, so cancelTaggedJobs finds what a failure left
  const loaded = loadPipelineText(path.join(dir, 'dag.yaml'), DAG(tag))
  const engine = await app.engineFor()
  const started = performance.now()
  let attempts: Awaited<ReturnType<typeof app.store.listAttempts>>
  let state: string
  let rpoWall: number
  try {
    const { run } = await engine.startRun(loaded)
    state = await followRun(engine, run.id, { pollIntervalMs: 1000, maxPollIntervalMs: 5000 })
    rpoWall = (performance.now() - started) / 1000
    attempts = await app.store.listAttempts(run.id)
  } finally {
    await app.close()
    rmSync(dir, { recursive: true, force: true })
  }
  await new Promise((r) => setTimeout(r, 5000))
  asUser(conn, `rm -rf -- ${remote}`)
  const rpoSeconds = sacctMakespan(conn, attempts.map((a) => a.jobId).join(','))
  if (state !== 'succeeded') throw new Error(`makespan run ended ${state}`)
  return { handSeconds, rpoSeconds, rpoWall }
}

/** A transport that answers squeue/sacct for 10,000 jobs, to measure command count and parse time. */
function syntheticTransport(count: number): Transport & { execs: number } {
  const squeue = Array.from({ length: count }, (_, i) =>
    [
      String(1000 + i),
      String(1000 + i),
      '',
      '',
      i % 3 === 0 ? 'COMPLETED' : 'RUNNING',
      'None',
      `rpo.r.t${i}.1`,
      '0:05',
      '1:00',
      '2026-11-28T10:00:00',
      '2026-11-28T09:59:00',
      '2026-11-28T10:01:00',
      'gpu1',
      'gpu',
      'vision',
      '1',
      '4',
      'gres/gpu:a100:1',
    ].join(SQUEUE_DELIMITER),
  ).join('\n')
  const sacct = Array.from({ length: count }, (_, i) => i)
    .filter((i) => i % 3 === 0)
    .map((i) => {
      const values: Record<string, string> = {
        JobID: String(1000 + i),
        JobIDRaw: String(1000 + i),
        JobName: `rpo.r.t${i}.1`,
        State: 'COMPLETED',
        Reason: 'None',
        ExitCode: '0:0',
        Submit: '2026-11-28T09:59:00',
        Start: '2026-11-28T10:00:00',
        End: '2026-11-28T10:01:00',
        ElapsedRaw: '60',
        Timelimit: '00:01:00',
        AllocTRES: 'billing=4,cpu=4,gres/gpu:a100=1,gres/gpu=1,mem=16G,node=1',
        TotalCPU: '00:03:00',
        MaxRSS: '',
        NodeList: 'gpu1',
        Account: 'vision',
        Partition: 'gpu',
      }
      return SACCT_FIELDS.map((f) => values[f] ?? '').join(SACCT_DELIMITER)
    })
    .join('\n')
  const t = {
    description: 'synthetic',
    execs: 0,
    async exec(argv: readonly string[]): Promise<ExecResult> {
      if (argv.includes('date')) return { stdout: '+0000\n', stderr: '', exitCode: 0, signal: null }
      t.execs++
      return { stdout: argv.includes('squeue') ? squeue : sacct, stderr: '', exitCode: 0, signal: null }
    },
    async execScript(): Promise<ExecResult> {
      throw new Error('not used')
    },
    async readFile(): Promise<string> {
      throw new Error('not used')
    },
    async writeFile() {},
    async close() {},
  }
  return t
}

async function benchPollAtScale(): Promise<void> {
  const count = 10_000
  const transport = syntheticTransport(count)
  const adapter = new SlurmAdapter({ transport })
  const ids = Array.from({ length: count }, (_, i) => asNativeJobId(String(1000 + i)))
  await adapter.poll(ids.slice(0, 1))
  transport.execs = 0
  const poll = await measure(`poll of ${count.toLocaleString('en')} active jobs (parse squeue + sacct)`, 10, () =>
    adapter.poll(ids),
  )
  report(poll, `${transport.execs / 10} scheduler command(s) per poll (target ≤ 2), parse target well under 1 s`)
}
