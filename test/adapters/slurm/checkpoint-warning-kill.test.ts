// A checkpointing job killed by its own checkpoint warning — Slurm's `--signal=B:USR2@lead` arriving
// before the task installed its handler — is the time limit come early, not a failure: the task
// resumes from its newest checkpoint (as the local launcher records it), it does not spend a retry.
// The job's record is the testbed's own (job 2658, see fixtures/testbed-22.05/README.md): FAILED,
// ExitCode 0:12, its batch step CANCELLED 0:12, after 11 s of a 2-minute limit with a 90 s lead
// (Slurm sends the warning up to a minute early).
import { describe, expect, it } from 'vitest'
import { SlurmAdapter } from '../../../adapters/slurm/slurm-adapter.js'
import { planTick } from '../../../src/core/scheduling/plan-tick.js'
import type { AttemptObservation } from '../../../src/core/scheduling/run-snapshot.js'
import { asNativeJobId, type JobObservation } from '../../../src/scheduler/scheduler-adapter.js'
import type { ExecResult, Transport } from '../../../src/transport/transport.js'
import { attemptOf, defaultOptions, pipelineOf, snapshotOf } from '../../support/fixtures.js'
import { testbedCapture } from './testbed-captures.js'

const fixture = testbedCapture

/** The testbed's answers to rpo's squeue and sacct for job 2658, as captured. */
class CapturedTestbed implements Pick<Transport, 'exec' | 'close'> {
  async exec(argv: readonly string[]): Promise<ExecResult> {
    const command = argv.find((a) => a === 'squeue' || a === 'sacct' || a === 'date')
    const stdout =
      command === 'date'
        ? '+0000\n'
        : command === 'squeue'
          ? fixture('squeue-warning-signal.txt')
          : fixture('sacct-warning-signal.txt')
    return { exitCode: 0, signal: null, stdout, stderr: '' }
  }
  async close(): Promise<void> {}
}

async function polledJob(): Promise<JobObservation> {
  const adapter = new SlurmAdapter({ transport: new CapturedTestbed() as unknown as Transport })
  const [job] = await adapter.poll([asNativeJobId('2658')])
  if (!job) throw new Error('the poll did not report job 2658')
  return job
}

const pipeline = (time: string, checkpoint: string) => `
name: demo
tasks:
  train:
    command: python train.py
    resources: { time: ${time} }
    retries: { max: 2, backoff: 60s }
    ${checkpoint}
`
const WARNED = pipeline('2m', 'checkpoint: { dir: ckpt, leadTime: 90s }')

/** Plan the tick that sees `job` end, the task's attempt 1 having run as Slurm job 2658. */
function planEnding(yaml: string, job: JobObservation) {
  const base = snapshotOf(pipelineOf(yaml))
  const started = (job.startedAt as Date).toISOString()
  const snapshot = {
    ...base,
    tasks: base.tasks.map((t) => ({ ...t, state: 'active' as const, attempts: 1, startedAt: started })),
    latestAttempts: [attemptOf('train', 1, { jobId: '2658', state: 'running', startedAt: started })],
  }
  const observation: AttemptObservation = {
    kind: 'observed',
    submissionKey: 'rpo.run1.train.1',
    job,
    outputs: null,
    outputsError: null,
  }
  return planTick(snapshot, [observation], defaultOptions((job.endedAt as Date).getTime() + 5000))
}

describe('a job killed by its checkpoint warning before it handled it', () => {
  it('is what Slurm reports as FAILED by SIGUSR2 after a short run', async () => {
    const job = await polledJob()
    expect(job).toMatchObject({ state: 'failed', nativeState: 'FAILED', exitCode: 0, signal: 'SIGUSR2' })
    expect(((job.endedAt as Date).getTime() - (job.startedAt as Date).getTime()) / 1000).toBe(11)
  })

  it('resumes from its checkpoint as at its time limit, spending no retry', async () => {
    const plan = planEnding(WARNED, await polledJob())
    expect(plan.attemptUpdates.get('rpo.run1.train.1')).toMatchObject({
      state: 'timeout',
      nativeState: 'FAILED',
      reason: expect.stringMatching(/^killed by SIGUSR2, its checkpoint warning 90s before its time limit of 120s/),
    })
    // resumed at once: attempt 2 goes out in the same tick
    expect(plan.taskUpdates.get('train')).toMatchObject({ resumes: 1 })
    expect(plan.taskUpdates.get('train')?.failures).toBeUndefined()
    expect(plan.submissions.map((s) => [s.taskId, s.attempt])).toEqual([['train', 2]])
    expect(plan.events.map((e) => e.type)).toContain('task:resuming')
    expect(plan.events.map((e) => e.type)).not.toContain('task:retrying')
  })

  it('is a failure when the signal came long before its warning was due, or the task does not checkpoint', async () => {
    const job = await polledJob()
    // a 1 h limit with a 5 min lead: a SIGUSR2 after 11 s was not rpo's warning (a user's scancel --signal)
    const early = planEnding(pipeline('1h', 'checkpoint: { dir: ckpt }'), job)
    expect(early.attemptUpdates.get('rpo.run1.train.1')?.state).toBe('failed')
    expect(early.taskUpdates.get('train')).toMatchObject({ state: 'retry_wait', failures: 1 })
    expect(early.taskUpdates.get('train')?.resumes).toBeUndefined()
    const plain = planEnding(pipeline('2m', ''), job)
    expect(plain.attemptUpdates.get('rpo.run1.train.1')?.state).toBe('failed')
    expect(plain.events.map((e) => e.type)).toContain('task:retrying')
    // another signal than the warning's is the task's own failure
    const killed = planEnding(WARNED, { ...job, signal: 'SIGKILL' })
    expect(killed.attemptUpdates.get('rpo.run1.train.1')?.state).toBe('failed')
  })
})
