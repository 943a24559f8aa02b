// The Slurm adapter's poll when accounting lags: squeue already says a job ended, sacct has no final
// record yet. The exit code matters (85 means "checkpointed, resume me"), so the job is reported
// completing until sacct catches up — or, past a grace period, as squeue says.
import { describe, expect, it } from 'vitest'
import { SlurmAdapter } from '../../../adapters/slurm/slurm-adapter.js'
import { SQUEUE_COLUMNS, SQUEUE_DELIMITER } from '../../../adapters/slurm/squeue-parser.js'
import { asNativeJobId } from '../../../src/scheduler/scheduler-adapter.js'
import type { ExecResult, Transport } from '../../../src/transport/transport.js'

function slurmTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19)
}

/** One squeue line in rpo's column order. */
function squeueLine(id: string, state: string, endMs: number): string {
  const values: Record<string, string> = {
    jobId: id,
    jobIdRaw: id,
    arrayJobId: id,
    arrayTaskId: 'N/A',
    state,
    reason: 'None',
    name: `rpo.run.t.${id}`,
    elapsed: '0:05',
    timeLimit: '1:00',
    startTime: slurmTime(endMs - 5000),
    submitTime: slurmTime(endMs - 6000),
    endTime: slurmTime(endMs),
    nodeList: 'cpu1',
    partition: 'cpu',
    account: 'vision',
    nodeCount: '1',
    cpus: '1',
    tresPerNode: 'N/A',
  }
  return SQUEUE_COLUMNS.map((c) => values[c] ?? '').join(SQUEUE_DELIMITER)
}

class LaggingAccounting implements Pick<Transport, 'exec' | 'close'> {
  constructor(readonly squeue: string) {}
  async exec(argv: readonly string[]): Promise<ExecResult> {
    const command = argv.find((a) => a === 'squeue' || a === 'sacct' || a === 'date')
    const stdout = command === 'date' ? '+0000\n' : command === 'squeue' ? `${this.squeue}\n` : ''
    return { exitCode: 0, signal: null, stdout, stderr: '' }
  }
  async close(): Promise<void> {}
}

const adapterWith = (squeue: string) =>
  new SlurmAdapter({ transport: new LaggingAccounting(squeue) as unknown as Transport })

describe('SlurmAdapter.poll while sacct lags', () => {
  it('reports a job that just ended as completing until accounting has its exit code', async () => {
    const [job] = await adapterWith(squeueLine('41', 'FAILED', Date.now() - 2000)).poll([asNativeJobId('41')])
    expect(job).toMatchObject({ jobId: '41', state: 'completing', exitCode: null, nativeState: 'FAILED' })
    expect(job?.reason).toMatch(/waiting for accounting/)
  })

  it('takes squeue’s word once the grace period is over (accounting may be off)', async () => {
    const [job] = await adapterWith(squeueLine('42', 'COMPLETED', Date.now() - 5 * 60_000)).poll([asNativeJobId('42')])
    expect(job).toMatchObject({ jobId: '42', state: 'succeeded', exitCode: null })
  })

  it('does not wait for the exit code of a job that was cancelled', async () => {
    const [job] = await adapterWith(squeueLine('43', 'CANCELLED', Date.now() - 1000)).poll([asNativeJobId('43')])
    expect(job?.state).toBe('cancelled')
  })
})
