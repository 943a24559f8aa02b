// The Slurm adapter's poll when accounting lags: squeue already says a job ended, sacct has no final
// record yet. The exit code matters (85 means "checkpointed, resume me"), so a failed job is reported
// completing until sacct catches up — or, past a grace period, as squeue says. A COMPLETED job exited
// 0 by definition: it is concluded from squeue at once, and sacct is asked for its figures only when
// they are wanted (budgets charge the job).
import { describe, expect, it } from 'vitest'
import { SlurmAdapter } from '../../../adapters/slurm/slurm-adapter.js'
import { SQUEUE_COLUMNS, SQUEUE_DELIMITER } from '../../../adapters/slurm/squeue-parser.js'
import { asNativeJobId } from '../../../src/scheduler/scheduler-adapter.js'
import type { ExecResult, Transport } from '../../../src/transport/transport.js'
import { testbedCapture } from './testbed-captures.js'

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

/** squeue answers `squeue`; sacct answers `sacct` (nothing: its record has not arrived yet). */
class LaggingAccounting implements Pick<Transport, 'exec' | 'close'> {
  readonly asked: string[] = []
  constructor(
    readonly squeue: string,
    readonly sacct = '',
  ) {}
  async exec(argv: readonly string[]): Promise<ExecResult> {
    const command = argv.find((a) => a === 'squeue' || a === 'sacct' || a === 'date')
    if (command !== undefined) this.asked.push(command)
    const stdout = command === 'date' ? '+0000\n' : command === 'squeue' ? `${this.squeue}\n` : this.sacct
    return { exitCode: 0, signal: null, stdout, stderr: '' }
  }
  async close(): Promise<void> {}
}

const adapterWith = (squeue: string) =>
  new SlurmAdapter({ transport: new LaggingAccounting(squeue) as unknown as Transport })

const fixture = testbedCapture

describe('SlurmAdapter.poll while sacct lags', () => {
  it('reports a job that just ended as completing until accounting has its exit code', async () => {
    const [job] = await adapterWith(squeueLine('41', 'FAILED', Date.now() - 2000)).poll([asNativeJobId('41')])
    expect(job).toMatchObject({ jobId: '41', state: 'completing', exitCode: null, nativeState: 'FAILED' })
    expect(job?.reason).toMatch(/waiting for accounting/)
  })

  it('takes squeue’s word once the grace period is over (accounting may be off)', async () => {
    const [job] = await adapterWith(squeueLine('42', 'FAILED', Date.now() - 5 * 60_000)).poll([asNativeJobId('42')])
    expect(job).toMatchObject({ jobId: '42', state: 'failed', exitCode: null })
  })

  it('concludes a job squeue reports COMPLETED at once: succeeded, exit 0, without sacct’s record', async () => {
    const transport = new LaggingAccounting(squeueLine('44', 'COMPLETED', Date.now() - 1000))
    const adapter = new SlurmAdapter({ transport: transport as unknown as Transport })
    const [job] = await adapter.poll([asNativeJobId('44')])
    expect(job).toMatchObject({ jobId: '44', state: 'succeeded', exitCode: 0, usage: { elapsedSeconds: 5 } })
    // nothing was left to ask accounting: its round trip would only delay the job's dependents
    expect(transport.asked).toEqual(['date', 'squeue'])
  })

  it('asks sacct for a COMPLETED job whose figures are wanted, and takes them when its record is there', async () => {
    // the testbed's job 65 (`echo ok`) as squeue and sacct printed it once it had ended
    const transport = new LaggingAccounting(fixture('squeue-final.txt').trimEnd(), fixture('sacct-final.txt'))
    const adapter = new SlurmAdapter({ transport: transport as unknown as Transport })
    const [job] = await adapter.poll([asNativeJobId('65')], { accountingOf: [asNativeJobId('65')] })
    expect(transport.asked).toContain('sacct')
    expect(job).toMatchObject({ jobId: '65', state: 'succeeded', exitCode: 0 })
    expect(job?.usage?.allocTres).toMatchObject({ cpu: 1, node: 1 })
  })

  it('still asks sacct for a job whose ending squeue cannot tell in full, when the rest COMPLETED', async () => {
    const squeue = [
      squeueLine('45', 'COMPLETED', Date.now() - 1000),
      squeueLine('46', 'FAILED', Date.now() - 1000),
    ].join('\n')
    const transport = new LaggingAccounting(squeue)
    const adapter = new SlurmAdapter({ transport: transport as unknown as Transport })
    const jobs = await adapter.poll([asNativeJobId('45'), asNativeJobId('46')])
    expect(transport.asked).toEqual(['date', 'squeue', 'sacct'])
    expect(jobs.map((j) => [j.jobId, j.state])).toEqual([
      ['45', 'succeeded'],
      ['46', 'completing'],
    ])
  })

  it('does not wait for the exit code of a job that was cancelled', async () => {
    const [job] = await adapterWith(squeueLine('43', 'CANCELLED', Date.now() - 1000)).poll([asNativeJobId('43')])
    expect(job?.state).toBe('cancelled')
  })
})
