/**
 * Jobs Slurm killed for using more memory than they asked for, on clusters without cgroups.
 *
 * With `JobAcctGatherParams=OverMemoryKill` (and no task/cgroup), slurmstepd samples each step's
 * memory every JobAcctGatherFrequency seconds and SIGKILLs a step over its limit. The job then ends
 * `FAILED 0:9` — not OUT_OF_MEMORY, which only the cgroup OOM notifier sets — and the only words
 * that say why are slurmstepd's, in the job's own stderr (captured on the 22.05 testbed,
 * test/adapters/slurm/fixtures/testbed-22.05/slurm-over-memory.err):
 *
 *     slurmstepd-cpu1: error: StepId=30.batch exceeded memory limit (324415488 > 104857600), being killed
 *     slurmstepd-cpu1: error: Exceeded job memory limit
 *
 * Two pieces of evidence turn such a failure into `out_of_memory` (so `retries.oomMemoryFactor`
 * applies): accounting (killed by SIGKILL with a step's MaxRSS at or over the memory allocated per
 * node — the sample that triggered the kill is the one sacct keeps), and, when accounting is not
 * conclusive (several tasks together over the limit, a sample that missed the peak), those messages
 * in the tail of the job's output files (src/scheduler/output-tails.ts, failed jobs only). Pure.
 */
import type { JobObservation } from '../../src/scheduler/scheduler-adapter.js'

// src/slurmd/common/jobacct_gather.c (_acct_kill_step / jobacct_gather_handle_mem_limit) and
// slurmstepd's step-complete message; older releases say "Job … exceeded memory limit"
const MEMORY_KILL_MESSAGE = /(?:exceeded (?:job )?memory limit|Exceeded (?:job|step) memory limit)[^\n]*/i
const LIMITS = /\((\d+) > (\d+)\)/

/**
 * A failed job whose accounting shows it was SIGKILLed at or over its memory: `out_of_memory` with
 * the figures as the reason. Anything else is returned unchanged.
 */
export function overMemoryFromAccounting(o: JobObservation): JobObservation {
  if (o.state !== 'failed' || o.signal !== 'SIGKILL') return o
  const rss = o.usage?.maxRssMb
  const tres = o.usage?.allocTres
  const memory = tres?.mem
  if (rss === undefined || memory === undefined || memory <= 0) return o
  // AllocTRES mem is the whole allocation; a step's MaxRSS is one task on one node
  const perNode = memory / Math.max(1, tres?.node ?? 1)
  if (rss < perNode) return o
  return {
    ...o,
    state: 'out_of_memory',
    reason:
      `killed by Slurm's memory enforcement (SIGKILL at ${formatMb(rss)} peak memory, over its ${formatMb(perNode)} limit; ` +
      'sacct MaxRSS ≥ AllocTRES mem)',
  }
}

/** The line of slurmstepd's memory-limit message in a job's output, or null when there is none. */
export function findMemoryKillMessage(output: string): string | null {
  const lines = output.split('\n').filter((line) => MEMORY_KILL_MESSAGE.test(line))
  // the line with the figures says more than "Exceeded job memory limit"
  const line = lines.find((l) => LIMITS.test(l)) ?? lines[0]
  return line === undefined ? null : line.trim()
}

/** A failed observation with slurmstepd's message as evidence: `out_of_memory`, the message in the reason. */
export function overMemoryFromOutput(o: JobObservation, message: string): JobObservation {
  const limits = LIMITS.exec(message)
  const figures =
    limits === null
      ? ''
      : ` (${formatMb(Number(limits[1]) / 1_048_576)} used, ${formatMb(Number(limits[2]) / 1_048_576)} allowed)`
  return {
    ...o,
    state: 'out_of_memory',
    reason: `killed by Slurm's memory enforcement${figures}; the job's output says: ${message.slice(0, 300)}`,
  }
}

/** Where sbatch writes a job's output (slurm-script.ts, slurm-array.ts: `slurm-%j` / `slurm-%A_%a`). */
export function slurmOutputFiles(jobDir: string, jobId: string): string[] {
  const dir = jobDir.replace(/\/+$/, '')
  return [`${dir}/slurm-${jobId}.err`, `${dir}/slurm-${jobId}.out`]
}

function formatMb(mb: number): string {
  return `${Math.round(mb)} MB`
}
