// The shared adapter contract, against the real Slurm testbed over SSH.
import { randomUUID } from 'node:crypto'
import { afterAll } from 'vitest'
import { SlurmAdapter } from '../../adapters/slurm/slurm-adapter.js'
import { asSubmissionKey } from '../../src/scheduler/scheduler-adapter.js'
import { describeAdapterConformance } from '../adapters/adapter-conformance.js'
import { testbed, testbedSsh } from './testbed.js'

const t = testbed()
const adapter = new SlurmAdapter({ transport: testbedSsh(), script: { partition: 'cpu', account: t.defaultAccount } })
afterAll(() => adapter.close())
const remote = `${t.workDir}/conformance-${randomUUID().slice(0, 8)}`

describeAdapterConformance('slurm', {
  adapter: () => adapter,
  keyPrefix: `rpo.conf-${randomUUID().slice(0, 6)}`,
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
