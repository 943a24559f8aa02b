// Requeue on the live testbed: a running job put back in the queue (by Slurm itself after a node
// failure, here by `scontrol requeue`; rpo never requeues: the contract has no requeue) is seen
// leaving RUNNING and running again under the same job id (sacct --duplicates shows both runs).

import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { SlurmAdapter } from '../../adapters/slurm/slurm-adapter.js'
import { isTerminalJobState } from '../../src/core/job/job-state.js'
import { asNativeJobId, asSubmissionKey, type JobObservation } from '../../src/scheduler/scheduler-adapter.js'
import { testbed, testbedSsh } from './testbed.js'

const t = testbed()
const ssh = testbedSsh()
const adapter = new SlurmAdapter({
  transport: testbedSsh(),
  script: { partition: 'cpu', account: t.defaultAccount, requeue: true },
})
afterAll(async () => {
  await adapter.close()
  await ssh.close()
})

async function until(id: string, done: (o: JobObservation) => boolean, timeoutMs = 60_000): Promise<JobObservation> {
  const deadline = Date.now() + timeoutMs
  let last: JobObservation | undefined
  while (Date.now() < deadline) {
    ;[last] = await adapter.poll([asNativeJobId(id)])
    if (last && done(last)) return last
    await new Promise((r) => setTimeout(r, 300))
  }
  throw new Error(`job ${id}: expected state not reached; last ${JSON.stringify(last)}`)
}

describe('requeue on Slurm', () => {
  it('a requeued running job goes back to the queue and runs again under the same id', async () => {
    const remote = `${t.workDir}/requeue-${randomUUID().slice(0, 8)}`
    const key = asSubmissionKey(`rpo.requeue-${randomUUID().slice(0, 6)}.t.1`)
    const [result] = await adapter.submit([
      {
        submissionKey: key,
        runId: 'requeue',
        taskId: 't',
        attempt: 1,
        command: 'echo "start $((SLURM_RESTART_COUNT + 0))" >> "$RPO_OUTPUT_DIR/starts.log"; sleep 30',
        workDir: remote,
        jobDir: `${remote}/jobs/${key}`,
        env: { RPO_OUTPUT_DIR: `${remote}/out` },
        resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 300, gpus: null, nodes: 1 },
        dependsOn: [],
        project: null,
      },
    ])
    expect(result?.kind).toBe('submitted')
    const id = (result as { jobId: string }).jobId
    await until(id, (o) => o.state === 'running')
    // requeue once the command itself runs: a requeue during job launch can end the job FAILED instead
    for (let i = 0; i < 60; i++) {
      const log = await ssh.exec(['cat', `${remote}/out/starts.log`], { idempotent: true })
      if (log.stdout.includes('start 0')) break
      await new Promise((r) => setTimeout(r, 250))
    }
    const requeued = await ssh.exec(['scontrol', 'requeue', id], { idempotent: true })
    expect(requeued.exitCode).toBe(0)
    const back = await until(id, (o) => o.state !== 'running')
    expect(['completing', 'pending', 'requeued', 'held']).toContain(back.state)
    await until(id, (o) => o.state === 'pending' || o.state === 'requeued')
    // Slurm holds a requeued job back until the old job credential expires (cred_expire, 10 s on the
    // testbed); clearing that delay at once makes the restart fail with "Job credential revoked"
    await until(id, (o) => o.state === 'running')
    // the second run knows it is a restart (SLURM_RESTART_COUNT=1)
    let log = ''
    for (let i = 0; i < 60 && !log.includes('start 1'); i++) {
      log = (await ssh.exec(['cat', `${remote}/out/starts.log`], { idempotent: true })).stdout
      await new Promise((r) => setTimeout(r, 250))
    }
    expect(log.trim().split('\n').at(-1)).toBe('start 1')
    await adapter.cancel([asNativeJobId(id)])
    expect((await until(id, (o) => isTerminalJobState(o.state))).state).toBe('cancelled')
  }, 120_000)
})
