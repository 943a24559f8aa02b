// Control paths on the live testbed: a signal reaches the job's batch shell, a submission Slurm
// refuses is reported against its task in Slurm's own words, and priority (nice) is applied.
import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { SlurmAdapter } from '../../adapters/slurm/slurm-adapter.js'
import { isTerminalJobState } from '../../src/core/job/job-state.js'
import {
  asNativeJobId,
  asSubmissionKey,
  type JobObservation,
  type JobSubmission,
} from '../../src/scheduler/scheduler-adapter.js'
import { runCli, writePipeline } from '../support/cli-harness.js'
import { testbed, testbedSsh, testbedWorkspace } from './testbed.js'

const t = testbed()
const ssh = testbedSsh()
const adapter = new SlurmAdapter({ transport: testbedSsh(), script: { partition: 'cpu', account: t.defaultAccount } })
afterAll(async () => {
  await adapter.close()
  await ssh.close()
})

function job(command: string): JobSubmission {
  const remote = `${t.workDir}/control-${randomUUID().slice(0, 8)}`
  const key = asSubmissionKey(`rpo.control-${randomUUID().slice(0, 6)}.t.1`)
  return {
    submissionKey: key,
    runId: 'control',
    taskId: 't',
    attempt: 1,
    command,
    workDir: remote,
    jobDir: `${remote}/jobs/${key}`,
    env: { RPO_OUTPUT_DIR: `${remote}/out` },
    resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 120, gpus: null, nodes: 1 },
    dependsOn: [],
    project: null,
  }
}

async function until(id: string, done: (o: JobObservation) => boolean): Promise<JobObservation> {
  for (let i = 0; i < 200; i++) {
    const [o] = await adapter.poll([asNativeJobId(id)])
    if (o && done(o)) return o
    await new Promise((r) => setTimeout(r, 300))
  }
  throw new Error(`job ${id} did not reach the expected state`)
}

describe('Slurm control', () => {
  it('a signal reaches the running job (the checkpoint request path)', async () => {
    const j = job('trap \'echo got-usr2 > "$RPO_OUTPUT_DIR/signal"; exit 0\' USR2; while true; do sleep 0.2; done')
    const [result] = await adapter.submit([j])
    const id = (result as { jobId: string }).jobId
    await until(id, (o) => o.state === 'running')
    await new Promise((r) => setTimeout(r, 1000))
    await adapter.control([asNativeJobId(id)], { kind: 'signal', signal: 'USR2' })
    const end = await until(id, (o) => isTerminalJobState(o.state))
    expect(end.state).toBe('succeeded')
    const said = await ssh.exec(['cat', `${j.env.RPO_OUTPUT_DIR}/signal`], { idempotent: true })
    expect(said.stdout).toBe('got-usr2\n')
  }, 60_000)

  it("a submission Slurm refuses fails its task with Slurm's message; the other tasks run", async () => {
    const { dir } = testbedWorkspace()
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: refused
project: nosuchaccount
defaults:
  resources: { partition: cpu, time: 1m, memory: 100M }
tasks:
  a: { command: "true" }
`,
    )
    const result = await runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
    expect(result.code).toBe(1)
    const task = JSON.parse(result.stdout).tasks[0]
    expect(task.state).toBe('failed')
    expect(task.reason).toMatch(/rejected by the scheduler: .*Invalid account/)
  }, 60_000)

  it('sets the nice value of a pending job', async () => {
    const blocker = await adapter.submit([job('sleep 5')])
    const blockerId = (blocker[0] as { jobId: string }).jobId
    const waiting = {
      ...job('true'),
      dependsOn: [
        { submissionKey: asSubmissionKey('x'), jobId: asNativeJobId(blockerId), condition: 'succeeded' as const },
      ],
    }
    const [result] = await adapter.submit([waiting])
    const id = (result as { jobId: string }).jobId
    await adapter.control([asNativeJobId(id)], { kind: 'nice', nice: 50 })
    const shown = await ssh.exec(['squeue', '--noheader', '--jobs', id, '--format=%y'], { idempotent: true })
    expect(shown.stdout.trim()).toBe('50')
    await adapter.cancel([asNativeJobId(id), asNativeJobId(blockerId)])
  }, 60_000)
})
