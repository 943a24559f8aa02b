import path from 'node:path'
import { afterAll } from 'vitest'
import { LocalAdapter } from '../../../adapters/local/local-adapter.js'
import { asSubmissionKey } from '../../../src/scheduler/scheduler-adapter.js'
import { makeWorkDir } from '../../support/cli-harness.js'
import { describeAdapterConformance } from '../adapter-conformance.js'

const dir = makeWorkDir()
const adapter = new LocalAdapter({
  cluster: { kind: 'local', name: 'box', cpus: 4, memoryMb: 4096, gpus: [], killGraceMs: 300, pollIntervalMs: 50 },
  jobsRoot: path.join(dir, 'jobs'),
})
afterAll(() => adapter.close())

describeAdapterConformance('local', {
  adapter: () => adapter,
  keyPrefix: 'conf',
  unknownJobId: 'no-such-job',
  job: (key, command) => ({
    submissionKey: asSubmissionKey(key),
    runId: 'conformance',
    taskId: key,
    attempt: 1,
    command,
    workDir: dir,
    jobDir: path.join(dir, 'jobs', key),
    env: {},
    resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 120, gpus: null, nodes: 1 },
    dependsOn: [],
    project: null,
  }),
})
