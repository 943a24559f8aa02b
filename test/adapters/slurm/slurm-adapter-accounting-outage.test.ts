// The Slurm adapter's poll while slurmdbd is down (issue #10): sacct fails with "Problem talking to
// the database" but squeue still answers from slurmctld. The poll must go on from squeue, never
// conclude an ending from the missing accounting (an exit 85 is "resume me", a job that left squeue
// may have failed or succeeded), say it is degraded, and give the real endings once sacct is back.
// A job squeue lists as COMPLETED needs no accounting: Slurm's COMPLETED means it exited 0.
// squeue, sacct and sacct's stderr are what the 22.05 testbed printed (fixtures/testbed-22.05).
import { describe, expect, it } from 'vitest'
import { SlurmAdapter } from '../../../adapters/slurm/slurm-adapter.js'
import { SQUEUE_COLUMNS, SQUEUE_DELIMITER } from '../../../adapters/slurm/squeue-parser.js'
import { isTerminalJobState } from '../../../src/core/job/job-state.js'
import { asNativeJobId, type JobObservation, type PollWarning } from '../../../src/scheduler/scheduler-adapter.js'
import type { ExecResult, Transport } from '../../../src/transport/transport.js'
import { testbedCapture } from './testbed-captures.js'

const fixture = testbedCapture

const SQUEUE_LIVE = fixture('squeue-live.txt')
const SQUEUE_FINAL = fixture('squeue-final.txt')
const SACCT_FINAL = fixture('sacct-final.txt')
const SACCT_DOWN = fixture('slurmdbd-down-sacct.stderr')
const SQUEUE_INVALID_ID = fixture('squeue-invalid-job-id.stderr')

/** squeue-live.txt without the jobs that had ended: slurmctld purged them (MinJobAge). */
const SQUEUE_PURGED = SQUEUE_LIVE.split('\n')
  .filter((line) =>
    ['RUNNING', 'PENDING'].includes(line.split(SQUEUE_DELIMITER)[SQUEUE_COLUMNS.indexOf('state')] ?? ''),
  )
  .join('\n')

const ok = (stdout: string): ExecResult => ({ exitCode: 0, signal: null, stdout, stderr: '' })
const failed = (stderr: string): ExecResult => ({ exitCode: 1, signal: null, stdout: '', stderr })

/** A cluster whose squeue and sacct answers the test sets between polls. */
class Cluster implements Pick<Transport, 'exec' | 'close'> {
  squeue: ExecResult = ok(SQUEUE_LIVE)
  sacct: ExecResult = failed(SACCT_DOWN)
  async exec(argv: readonly string[]): Promise<ExecResult> {
    if (argv.includes('date')) return ok('+0000\n')
    if (argv.includes('squeue')) return this.squeue
    if (argv.includes('sacct')) return this.sacct
    throw new Error(`unexpected command ${argv.join(' ')}`)
  }
  async close(): Promise<void> {}
}

// jobs that had ended (COMPLETED, FAILED exit 3, SIGSEGV, an array task FAILED) and jobs still
// running, requeued (pending) and held, when slurmdbd went away
const ENDED = ['65', '67', '68', '72_1']
const COMPLETED = '65'
const LIVE = { '71': 'running', '75': 'running', '76': 'pending', '79': 'held' } as const
const IDS = [...ENDED, ...Object.keys(LIVE)].map(asNativeJobId)

async function poll(adapter: SlurmAdapter): Promise<{ jobs: Map<string, JobObservation>; warnings: PollWarning[] }> {
  const warnings: PollWarning[] = []
  const observed = await adapter.poll(IDS, { onWarning: (w) => warnings.push(w) })
  return { jobs: new Map(observed.map((o) => [o.jobId as string, o])), warnings }
}

describe('SlurmAdapter.poll while accounting (slurmdbd) is down', () => {
  it('goes on from squeue, ends nothing for want of sacct across polls, warns, then takes sacct’s endings', async () => {
    const cluster = new Cluster()
    const adapter = new SlurmAdapter({ transport: cluster as unknown as Transport })
    // squeue lists everything; then slurmctld purges the ended jobs; then squeue knows none of the ids
    const outage = [ok(SQUEUE_LIVE), ok(SQUEUE_LIVE), ok(SQUEUE_PURGED), ok(SQUEUE_PURGED), failed(SQUEUE_INVALID_ID)]
    for (const [i, squeue] of outage.entries()) {
      cluster.squeue = squeue
      const { jobs, warnings } = await poll(adapter)
      const at = `poll ${i + 1} of the outage`
      // every job is reported (a job left out would count towards "lost" and be run again)
      expect([...jobs.keys()].sort(), at).toEqual(IDS.map(String).sort())
      // while squeue still lists the COMPLETED job, it has ended with exit 0; once purged, it waits too
      const completedListed = squeue.stdout === SQUEUE_LIVE
      if (completedListed) expect(jobs.get(COMPLETED), at).toMatchObject({ state: 'succeeded', exitCode: 0 })
      for (const job of jobs.values()) {
        if (completedListed && job.jobId === COMPLETED) continue
        expect(isTerminalJobState(job.state), `${at}: ${job.jobId} ${job.state}`).toBe(false)
        expect(job.state, `${at}: ${job.jobId}`).not.toBe('unknown')
      }
      for (const id of ENDED.filter((e) => !completedListed || e !== COMPLETED)) {
        expect(jobs.get(id), `${at}: ${id}`).toMatchObject({ state: 'completing', exitCode: null })
        expect(jobs.get(id)?.reason, `${at}: ${id}`).toMatch(/accounting \(sacct\) is unavailable/)
      }
      // while squeue lists them, the live jobs carry squeue's state
      if (squeue.exitCode === 0) {
        for (const [id, state] of Object.entries(LIVE)) expect(jobs.get(id)?.state, `${at}: ${id}`).toBe(state)
      }
      expect(warnings, at).toHaveLength(1)
      expect(warnings[0]?.code).toBe('accounting-unavailable')
      expect(warnings[0]?.message).toMatch(/sacct.*Problem talking to the database: Connection refused/)
    }

    // slurmdbd is back but slurmctld's backlog of job records has not reached it yet: sacct answers
    // without them. The jobs ended long ago (the testbed's times), yet they still wait for their record
    cluster.sacct = ok('')
    const back = await poll(adapter)
    expect(back.warnings).toEqual([])
    for (const id of ENDED) expect(back.jobs.get(id)?.state, `just back: ${id}`).toBe('completing')

    // the records have arrived: the real endings, with their exit codes, and no warning
    cluster.squeue = ok(SQUEUE_FINAL)
    cluster.sacct = ok(SACCT_FINAL)
    const { jobs, warnings } = await poll(adapter)
    expect(warnings).toEqual([])
    expect(jobs.get('65')).toMatchObject({ state: 'succeeded', exitCode: 0 })
    expect(jobs.get('67')).toMatchObject({ state: 'failed', exitCode: 3 })
    expect(jobs.get('68')?.state).toBe('failed')
    expect(jobs.get('72_1')).toMatchObject({ state: 'failed', exitCode: 1 })
    expect(jobs.get('71')).toMatchObject({ state: 'cancelled', nativeState: 'CANCELLED by 1001' })
    expect(jobs.get('75')).toMatchObject({ state: 'timeout', exitCode: 0 })
    expect(jobs.get('79')?.state).toBe('cancelled')
  })

  it('still fails the poll when squeue itself cannot be asked (slurmctld down)', async () => {
    const cluster = new Cluster()
    cluster.squeue = failed('slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n')
    const adapter = new SlurmAdapter({ transport: cluster as unknown as Transport })
    await expect(adapter.poll(IDS)).rejects.toMatchObject({ code: 'scheduler-unavailable' })
  })
})
