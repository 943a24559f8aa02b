// Ctrl-C once and Ctrl-C twice (20 ms apart) at seeded moments on the Slurm testbed: the next
// `rpo run` continues the run, which ends with every task succeeded, and Slurm was sent each
// submission key once.
import { afterAll, describe, expect, it } from 'vitest'
import { testbedSsh, testbedWorkspace } from '../../cluster/testbed.js'
import { interruptScenario } from '../support/interrupt-scenarios.js'
import { cancelRunJobs, duplicatesIn, submissionsOf } from '../support/slurm-submissions.js'

const RESOURCES = '{ partition: all, cpus: 1, memory: 50M, time: 2m }'
const ssh = testbedSsh()
const runIds: string[] = []
afterAll(async () => {
  for (const id of runIds) await cancelRunJobs(ssh, id)
  await ssh.close()
})

describe('interrupting rpo run on the cluster', () => {
  it.each([
    ['Ctrl-C', 1],
    ['double Ctrl-C', 2],
  ] as const)(
    '%s: each rerun continues; the run completes, each key submitted once',
    async (_label, times) => {
      const { dir } = testbedWorkspace()
      const { outcome } = await interruptScenario(
        times === 1 ? 'interrupt-slurm' : 'double-interrupt-slurm',
        dir,
        times,
        RESOURCES,
      )
      runIds.push(outcome.runId)
      expect(Object.fromEntries(duplicatesIn(await submissionsOf(ssh, outcome.runId)))).toEqual({})
    },
    300_000,
  )
})
