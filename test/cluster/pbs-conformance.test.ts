// The shared adapter contract, against the Slurm testbed's Torque wrappers (Debian's slurm-wlm-torque)
// over SSH: the PBS adapter detects them from `qstat --version` and drives qsub/qstat/qdel/qhold/qrls.
import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { PbsAdapter } from '../../adapters/pbs/pbs-adapter.js'
import { asNativeJobId, asSubmissionKey } from '../../src/scheduler/scheduler-adapter.js'
import { describeAdapterConformance } from '../adapters/adapter-conformance.js'
import { testbed, testbedSsh } from './testbed.js'

const t = testbed()
const remote = `${t.workDir}/pbs-conformance-${randomUUID().slice(0, 8)}`
const adapter = new PbsAdapter({
  transport: testbedSsh(),
  script: { queue: 'cpu', account: t.defaultAccount },
  jobsRoot: `${remote}/jobs`,
})
afterAll(() => adapter.close())

describeAdapterConformance('pbs (torque wrappers)', {
  adapter: () => adapter,
  keyPrefix: `rpo.pbsconf-${randomUUID().slice(0, 6)}`,
  unknownJobId: '999999',
  job: (key, command) => ({
    submissionKey: asSubmissionKey(key),
    runId: 'conformance',
    taskId: key,
    attempt: 1,
    command,
    workDir: remote,
    jobDir: `${remote}/jobs/${key}`,
    env: {},
    resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 120, gpus: null, nodes: 1 },
    dependsOn: [],
    project: null,
  }),
})

describe('pbs adapter on the torque wrappers: what the contract does not cover', () => {
  it('detects the wrappers and says what they lack', async () => {
    const dialect = await adapter.detect()
    expect(dialect).toEqual({ flavor: 'slurm-torque', version: null, format: 'text' })
    expect(adapter.capabilities).toMatchObject({ hold: true, priority: false, signal: false, arrays: false })
    await expect(adapter.control([asNativeJobId('1')], { kind: 'nice', nice: 10 })).rejects.toMatchObject({
      code: 'unsupported',
    })
  })

  it('a refused job is reported in sbatch’s own words, and its in-batch dependent is not submitted', async () => {
    const key = `rpo.pbsconf-refused-${randomUUID().slice(0, 6)}`
    const job = (k: string, extra: object = {}) => ({
      submissionKey: asSubmissionKey(k),
      runId: 'conformance',
      taskId: k,
      attempt: 1,
      command: 'echo never',
      workDir: remote,
      jobDir: `${remote}/jobs/${k}`,
      env: {},
      resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 60, gpus: null, nodes: 1 },
      dependsOn: [],
      project: null,
      ...extra,
    })
    const results = await adapter.submit([
      job(`${key}.a`, { partition: 'no-such-queue' }),
      job(`${key}.b`, {
        dependsOn: [{ submissionKey: asSubmissionKey(`${key}.a`), jobId: null, condition: 'succeeded' as const }],
      }),
    ])
    expect(results.map((r) => r.kind)).toEqual(['rejected', 'rejected'])
    expect(results[0]).toMatchObject({ message: expect.stringMatching(/partition/i) })
    expect(results[1]).toMatchObject({ message: 'an upstream job of this batch was refused' })
    // nothing under either key reached the scheduler
    expect(await adapter.findBySubmissionKey(results.map((r) => r.submissionKey))).toEqual(new Map())
  })
})
