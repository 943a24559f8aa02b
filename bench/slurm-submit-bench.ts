/**
 * Submitting 1,000 tasks: rpo's one batch script over SSH against the same 1,000 sbatch run by hand
 * on the login node — the same job scripts (rendered by the adapter, as files there), the same
 * command-line flags, one sbatch after the other. Every job waits on a held blocker, so nothing runs
 * and both sides do the same sbatch work. Rounds alternate which side goes first, and all jobs are
 * cancelled between measurements, so both see the same queue.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { SlurmAdapter } from '../adapters/slurm/slurm-adapter.js'
import { asNativeJobId, asSubmissionKey, type JobSubmission } from '../src/scheduler/scheduler-adapter.js'
import { asUser, type Connection, cancelTaggedJobs, median, sshTo } from './slurm-testbed.js'

export async function benchSubmission(conn: Connection, tag: string, rounds = 3, count = 1000): Promise<void> {
  const blocker = asUser(
    conn,
    `cd /tmp && sbatch --parsable --hold -p cpu -A ${conn.defaultAccount} -J ${tag}-blocker --wrap true`,
  ).trim()
  const remote = `${conn.workDir}/${tag}`
  const transport = sshTo(conn)
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
      dependsOn: [{ submissionKey: asSubmissionKey('blocker'), jobId: asNativeJobId(blocker), condition: 'succeeded' }],
      project: null,
    }
  })
  // the direct side's scripts: exactly what rpo sends, one file per job, written before the clock starts
  const scripts = mkdtempSync(path.join(os.tmpdir(), 'rpo-bench-scripts-'))
  chmodSync(scripts, 0o755)
  for (const [i, unit] of adapter.renderScripts(jobs).entries())
    writeFileSync(path.join(scripts, `${i}.sh`), unit.script)
  // the flags rpo's batch puts on the sbatch command line for a dependency on a known job
  const flags = `--parsable --dependency=afterok:${blocker} --kill-on-invalid-dep=yes`
  const direct: number[] = []
  const viaRpo: number[] = []
  const measureDirect = async () => {
    // the job folders exist by hand too (sbatch does not make them); timed inside the login shell
    asUser(
      conn,
      `mkdir -p ${remote}/jobs && cd ${remote}/jobs && mkdir -p $(seq -f 'rpo.${tag}.t%.0f.1' 0 ${count - 1})`,
    )
    const out = asUser(
      conn,
      `cd /tmp && s=$(date +%s%N) && n=0 && for i in $(seq 0 ${count - 1}); do sbatch ${flags} ${scripts}/$i.sh >/dev/null && n=$((n+1)); done; e=$(date +%s%N); echo "$n $(( (e - s) / 1000000 ))"`,
    )
    const [submitted, ms] = out.trim().split(' ').map(Number)
    if (submitted !== count) throw new Error(`direct side submitted ${submitted} of ${count}`)
    direct.push(ms as number)
  }
  const measureRpo = async () => {
    const started = performance.now()
    const results = await adapter.submit(jobs)
    viaRpo.push(performance.now() - started)
    const submitted = results.filter((r) => r.kind === 'submitted').length
    if (submitted !== count) throw new Error(`rpo submitted ${submitted} of ${count}`)
  }
  try {
    // the connection is up before the clock starts, as it is in `rpo run` (inventory, polls)
    await transport.exec(['true'])
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [measureDirect, measureRpo] : [measureRpo, measureDirect]
      for (const side of order) {
        await side()
        await cancelTaggedJobs(conn, `rpo.${tag}`, true)
        asUser(conn, `rm -rf -- ${remote}`)
      }
    }
  } finally {
    await adapter.close()
    rmSync(scripts, { recursive: true, force: true })
    await cancelTaggedJobs(conn, tag)
    asUser(conn, `rm -rf -- ${remote}`)
  }
  const line = (name: string, xs: number[]) =>
    `${name.padEnd(58)} median ${median(xs).toFixed(0).padStart(8)} ms   (${rounds} rounds: ${xs.map((x) => x.toFixed(0)).join(', ')})`
  console.log(line(`${count} × sbatch of rpo's scripts on the login node (direct)`, direct))
  console.log(line(`${count}-task submission by rpo over SSH (one batch script)`, viaRpo))
  console.log(
    `${'  ratio rpo / direct'.padEnd(58)} ${(median(viaRpo) / median(direct)).toFixed(2)}× (target ≤ 1.2×; per round: ${viaRpo.map((x, i) => (x / (direct[i] as number)).toFixed(2)).join(', ')})`,
  )
}
