// Where the scheduler does not warn a checkpointing job before its time limit (PBS), rpo does from
// its own clock: on the simulated cluster with the warning left to rpo, a 2-hour training with a
// 1-hour limit is asked to checkpoint before each limit, exits 85 and resumes — it never times out.
import { describe, expect, it } from 'vitest'
import { workloadFromEnv } from '../../adapters/sim/sim-workload.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { simEngine } from '../support/sim-engine.js'

const START = Date.parse('2026-11-02T08:00:00Z')
const MINUTE = 60_000

const PIPELINE = `
name: long
tasks:
  train:
    command: train.sh
    resources: { gpus: { count: 1, type: a100 }, time: 1h }
    checkpoint: { every: 10m, leadTime: 5m }
    env: { RPO_SIM_DURATION: 2h }
`

async function runWith(signalsBeforeLimit: boolean) {
  const { clock, cluster, store, engine, close } = await simEngine({
    start: START,
    signalsBeforeLimit,
    nodes: [{ name: 'g1', cpus: 8, memoryMb: 64_000, gpus: [{ type: 'a100', count: 1 }] }],
    // the cluster itself never warns: only rpo can
    workload: (job) => ({ ...workloadFromEnv(job), signalLeadSeconds: null }),
  })
  try {
    const runId = (await engine.startRun(loadPipelineText('/sim/long.yaml', PIPELINE))).run.id
    let state = 'running'
    while (state === 'running' && clock.now() < START + 12 * 60 * MINUTE) {
      state = (await engine.tick(runId)).state
      cluster.advanceBy(MINUTE)
    }
    const attempts = await store.listAttempts(runId, 'train')
    const events = await store.listEvents(runId)
    return { state, attempts, events }
  } finally {
    await close()
  }
}

describe('warning before the time limit from rpo', () => {
  it('asks each attempt to checkpoint leadTime before its limit, so none times out', async () => {
    const { state, attempts, events } = await runWith(false)
    expect(state).toBe('succeeded')
    const endings = attempts.map((a) => [a.state, a.exitCode])
    expect(endings.at(-1)).toEqual(['succeeded', 0])
    // every attempt but the last was stopped by rpo's warning and checkpointed (exit 85)
    expect(endings.slice(0, -1).length).toBeGreaterThanOrEqual(2)
    for (const ending of endings.slice(0, -1)) expect(ending).toEqual(['failed', 85])
    const warnings = events.filter((e) => e.type === 'task:checkpoint-requested')
    expect(warnings).toHaveLength(attempts.length - 1)
    expect(warnings[0]?.message).toMatch(/^time limit in 300s: asked job \S+ to checkpoint with SIGUSR2$/)
  })

  it('leaves it to schedulers that warn by themselves (here: nobody does, so the limit strikes)', async () => {
    const { state, attempts, events } = await runWith(true)
    expect(state).toBe('succeeded')
    expect(events.filter((e) => e.type === 'task:checkpoint-requested')).toHaveLength(0)
    // resumed after each time limit from the last periodic checkpoint instead
    expect(attempts.slice(0, -1).every((a) => a.state === 'timeout')).toBe(true)
  })
})
