// The shared adapter contract, run against the simulator. The suite waits in real time (300 ms
// between polls), so virtual time moves one second per poll; a job's behaviour comes from its
// command, read into the simulator's workload variables (`sleep N` works N s, `exit N` exits N).
import { SimAdapter } from '../../../adapters/sim/sim-adapter.js'
import { SimCluster } from '../../../adapters/sim/sim-cluster.js'
import { asSubmissionKey } from '../../../src/scheduler/scheduler-adapter.js'
import { describeAdapterConformance } from '../adapter-conformance.js'
import { MIXED_NODES } from './sim-submissions.js'

const adapter = new SimAdapter({ cluster: new SimCluster({ nodes: MIXED_NODES }), advancePerPollMs: 1000 })

function workloadOf(command: string): Record<string, string> {
  const sleep = /^sleep (\d+)$/.exec(command)
  const exit = /^exit (\d+)$/.exec(command)
  return { RPO_SIM_DURATION: sleep?.[1] ?? '1', RPO_SIM_EXIT: exit?.[1] ?? '0' }
}

describeAdapterConformance('sim', {
  adapter: () => adapter,
  keyPrefix: 'conf',
  unknownJobId: '999999',
  job: (key, command) => ({
    submissionKey: asSubmissionKey(key),
    runId: 'conformance',
    taskId: key,
    attempt: 1,
    command,
    workDir: '/sim',
    jobDir: `/sim/jobs/${key}`,
    env: workloadOf(command),
    resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 120, gpus: null, nodes: 1 },
    dependsOn: [],
    project: null,
  }),
})
