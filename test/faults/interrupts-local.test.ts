// Ctrl-C once and Ctrl-C twice (20 ms apart) at seeded moments on the local executor: the next
// `rpo run` continues the run, which ends with every task succeeded and nothing run twice at once.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'vitest'
import { makeWorkDir } from '../support/cli-harness.js'
import { interruptScenario } from './support/interrupt-scenarios.js'

const RESOURCES = '{ cpus: 1, memory: 50M, time: 2m }'

function localWorkspace(): string {
  const dir = makeWorkDir('rpo-faults-local-')
  writeFileSync(
    path.join(dir, 'rpo.config.yaml'),
    'defaultCluster: here\nclusters:\n  here: { kind: local, cpus: 8, memory: 8G, killGrace: 2s, pollInterval: 200ms }\n',
  )
  return dir
}

describe('interrupting rpo run on the local executor', () => {
  it('Ctrl-C: each rerun continues, and the run completes with every task succeeded', async () => {
    await interruptScenario('interrupt-local', localWorkspace(), 1, RESOURCES)
  }, 240_000)

  it('double Ctrl-C: each rerun continues, and the run completes with no task cancelled or upstream_failed', async () => {
    await interruptScenario('double-interrupt-local', localWorkspace(), 2, RESOURCES)
  }, 240_000)
})
