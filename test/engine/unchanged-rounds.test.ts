// A round in which no job moved reports no change: jobs running or queued as they were are not
// rewritten, so `changes` is 0 and a follower backs off on what really happened (only a running
// job keeps it at its base interval). What a running job has used so far still reaches its attempt.
// Real engine and SQLite store on the simulated cluster.
import { afterEach, describe, expect, it } from 'vitest'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import type { TickResult } from '../../src/engine/report-step.js'
import { type SimEngine, simEngine } from '../support/sim-engine.js'

const START = Date.parse('2026-12-01T08:00:00Z')
const MINUTE = 60_000

// one node that fits one of the two jobs: `long` runs for two hours while `queued` waits for it
const PIPELINE = loadPipelineText(
  '/sim/p.yaml',
  `name: p
tasks:
  long: { command: x, resources: { cpus: 4, time: 3h }, env: { RPO_SIM_DURATION: 2h } }
  queued: { command: x, resources: { cpus: 4, time: 3h }, env: { RPO_SIM_DURATION: 10m } }
`,
)

let sim: SimEngine | null = null
afterEach(async () => {
  await sim?.close()
  sim = null
})

async function roundAt(s: SimEngine, minute: number, runId: string): Promise<TickResult> {
  s.clock.advanceTo(START + minute * MINUTE)
  const result = (await s.engine.tickCluster()).runs.find((r) => r.runId === runId)
  if (!result) throw new Error(`the round did not tick run ${runId}`)
  return result
}

describe('a round in which nothing moved', () => {
  it('reports no change and rewrites no attempt, while the running job’s usage is still recorded', async () => {
    const s = await simEngine({ start: START, nodes: [{ name: 'n1', cpus: 4, memoryMb: 64_000 }] })
    sim = s
    const runId = (await s.engine.startRun(PIPELINE)).run.id
    expect((await roundAt(s, 0, runId)).submitted).toBe(2)
    expect((await roundAt(s, 1, runId)).changes).toBeGreaterThan(0) // the jobs are seen queued / started
    const settled = await s.store.loadSnapshot(runId)
    const events = (await s.store.listEvents(runId)).length

    for (const minute of [2, 3, 10]) {
      const result = await roundAt(s, minute, runId)
      expect(result).toMatchObject({ state: 'running', submitted: 0, changes: 0, jobsRunning: 1 })
    }
    const after = await s.store.loadSnapshot(runId)
    expect(after.snapshot.latestAttempts).toEqual(settled.snapshot.latestAttempts)
    expect(after.snapshot.tasks).toEqual(settled.snapshot.tasks)
    expect((await s.store.listEvents(runId)).length).toBe(events)
    const attempts = await s.store.listAttempts(runId)
    expect(attempts.map((a) => [a.taskId, a.state])).toEqual([
      ['long', 'running'],
      ['queued', 'pending'],
    ])
    // the running job's elapsed time as of the last poll, though its attempt did not change
    expect(attempts.find((a) => a.taskId === 'long')?.usage?.elapsedSeconds).toBe(10 * 60)

    // the long job ends: its ending, the queued job's start, and the run goes on
    const ended = await roundAt(s, 121, runId)
    expect(ended.changes).toBeGreaterThan(0)
    expect((await s.store.listAttempts(runId)).map((a) => [a.taskId, a.state])).toEqual([
      ['long', 'succeeded'],
      ['queued', 'running'],
    ])
  })
})
