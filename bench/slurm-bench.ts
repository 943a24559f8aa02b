/**
 * Slurm figures against the live testbed (test/cluster/up.sh): batched submission over SSH vs sbatch
 * on the login node (slurm-submit-bench.ts), `rpo run` of a DAG vs the same DAG by hand
 * (slurm-makespan-bench.ts), and the cost of a 10,000-job poll (command count and parse time).
 *
 * Every job it submits carries one tag in its name (`<tag>-…`, or rpo's `rpo.<tag>…` keys), so at the
 * end — also after a failure — it cancels them by listing the user's queue and checks that none is
 * left (`cancelTaggedJobs`). Run it alone with `npm run bench -- slurm`, under the testbed's lock.
 * RPO_BENCH_ROUNDS sets the rounds of the live figures (default 3).
 */
import { existsSync, readFileSync } from 'node:fs'
import { SACCT_DELIMITER, SACCT_FIELDS } from '../adapters/slurm/sacct-parser.js'
import { SlurmAdapter } from '../adapters/slurm/slurm-adapter.js'
import { SQUEUE_DELIMITER } from '../adapters/slurm/squeue-parser.js'
import { asNativeJobId } from '../src/scheduler/scheduler-adapter.js'
import type { ExecResult, Transport } from '../src/transport/transport.js'
import { measure, report } from './measure.js'
import { benchMakespan } from './slurm-makespan-bench.js'
import { benchSubmission } from './slurm-submit-bench.js'
import { CONNECTION, type Connection, cancelTaggedJobs } from './slurm-testbed.js'

export async function benchSlurm(): Promise<void> {
  await liveSlurm(['submission', 'makespan'])
  await benchPollAtScale()
}

/** `npm run bench -- slurm-makespan`: only `rpo run` of the DAG against the same DAG by hand. */
export async function benchSlurmMakespan(): Promise<void> {
  await liveSlurm(['makespan'])
}

async function liveSlurm(parts: readonly ('submission' | 'makespan')[]): Promise<void> {
  console.log('\n## Slurm (live testbed)')
  if (!existsSync(CONNECTION)) {
    console.log('testbed not up (run `bash test/cluster/up.sh` as root); Slurm figures not measured')
    return
  }
  const conn = JSON.parse(readFileSync(CONNECTION, 'utf8')) as Connection
  const tag = `bench${Date.now()}`
  const rounds = Number(process.env.RPO_BENCH_ROUNDS ?? 3)
  try {
    if (parts.includes('submission')) await benchSubmission(conn, tag, rounds)
    if (parts.includes('makespan')) await benchMakespan(conn, tag, rounds)
  } finally {
    await cancelTaggedJobs(conn, tag)
  }
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
