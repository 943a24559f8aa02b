/**
 * Running one batch-submission script (many sbatch/qsub calls, one SSH round trip) on the cluster.
 * Never re-run: after a dropped connection the engine looks the submission keys up instead.
 */
import { SchedulerCommandError } from '../core/errors.js'
import type { ExecResult, Transport } from '../transport/transport.js'

/** Marker the scripts print when they cannot create the job folders (see sbatch-batch.ts, qsub-batch.ts). */
export const MKDIR_FAILED = 'rpo-mkdir-failed'

export async function runBatchScript(transport: Transport, script: string, timeoutMs: number): Promise<ExecResult> {
  const result = await transport.execScript(script, { timeoutMs })
  if (result.stdout.includes(MKDIR_FAILED)) {
    throw new SchedulerCommandError(
      'command-failed',
      ['mkdir'],
      result.exitCode,
      result.stderr,
      `cannot create the job folders on the cluster: ${result.stderr.trim()}`,
    )
  }
  return result
}
