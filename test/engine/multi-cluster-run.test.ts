// A run whose tasks name two clusters: prep on the default cluster, train on its own `cluster:`.
// Each cluster's engine ticks only its own tasks; `tick(runId)` on the run's engine ticks both
// clusters; the edge between them is waited on by rpo; every task runs once, on its cluster.
import { afterEach, describe, expect, it } from 'vitest'
import { SimAdapter } from '../../adapters/sim/sim-adapter.js'
import { SimClock } from '../../adapters/sim/sim-clock.js'
import { SimCluster } from '../../adapters/sim/sim-cluster.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { RpoError } from '../../src/core/errors.js'
import { Engine } from '../../src/engine/engine.js'
import { openDatabase } from '../../src/store/open-store.js'
import { RunStore } from '../../src/store/run-store.js'

const START = Date.parse('2026-11-02T08:00:00Z')
const closing: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closing.splice(0)) await close()
})

async function twoClusters() {
  const clock = new SimClock(START)
  const store = new RunStore(await openDatabase({ kind: 'sqlite', path: ':memory:', busyTimeoutMs: 1000 }))
  const clusters = {
    cpu: new SimCluster({ nodes: [{ name: 'c1', cpus: 8, memoryMb: 16_000 }], clock }),
    gpu: new SimCluster({
      nodes: [{ name: 'g1', cpus: 8, memoryMb: 64_000, gpus: [{ type: 'a100', count: 4 }] }],
      clock,
    }),
  }
  const engines = new Map<string, Engine>()
  for (const [name, cluster] of Object.entries(clusters)) {
    engines.set(
      name,
      new Engine({
        store,
        adapter: new SimAdapter({ cluster }),
        clusterName: name,
        jobsRoot: `/${name}/jobs`,
        runsRoot: `/${name}/runs`,
        readFile: async () => null,
        capacity: null,
        clock: () => clock.now(),
        peer: async (other) => {
          const engine = engines.get(other)
          if (!engine) throw new RpoError('config-invalid', `no cluster "${other}" in the config`)
          return engine
        },
      }),
    )
  }
  closing.push(async () => {
    for (const engine of engines.values()) await engine.close()
    await store.close()
  })
  return { clock, store, clusters, cpu: engines.get('cpu') as Engine, gpu: engines.get('gpu') as Engine }
}

describe('a run on two clusters', () => {
  it('runs each task on its own cluster, the cross-cluster edge waited on by rpo, every task once', async () => {
    const { store, clusters, cpu } = await twoClusters()
    const pipeline = loadPipelineText(
      '/p.yaml',
      `name: two
tasks:
  prep: { command: x, env: { RPO_SIM_DURATION: 30s } }
  train: { command: x, after: [prep], cluster: gpu, resources: { gpus: { count: 1, type: a100 } }, env: { RPO_SIM_DURATION: 60s } }
`,
    )
    const runId = (await cpu.startRun(pipeline)).run.id
    let state = 'running'
    for (let i = 0; i < 20 && state === 'running'; i++) {
      state = (await cpu.tick(runId)).state
      clusters.cpu.advanceBy(30_000)
    }
    expect(state).toBe('succeeded')
    const attempts = await store.listAttempts(runId)
    expect(attempts.map((a) => `${a.taskId}#${a.attempt}`).sort()).toEqual(['prep#1', 'train#1'])
    const prep = attempts.find((a) => a.taskId === 'prep')
    const train = attempts.find((a) => a.taskId === 'train')
    // each job on its own cluster's scheduler; train submitted only after prep had ended
    expect(clusters.cpu.findBySubmissionKey([prep?.submissionKey as never]).size).toBe(1)
    expect(clusters.gpu.findBySubmissionKey([train?.submissionKey as never]).size).toBe(1)
    expect(Date.parse(train?.submittedAt as string)).toBeGreaterThanOrEqual(Date.parse(prep?.endedAt as string))
  })

  it('refuses at start a task naming a cluster the config does not have, naming task and cluster', async () => {
    const { cpu } = await twoClusters()
    const pipeline = loadPipelineText(
      '/p.yaml',
      'name: bad\ntasks:\n  prep: { command: x }\n  train: { command: x, after: [prep], cluster: tpu }\n',
    )
    await expect(cpu.startRun(pipeline)).rejects.toThrow(/tasks\.train\.cluster: no cluster "tpu"/)
  })
})
