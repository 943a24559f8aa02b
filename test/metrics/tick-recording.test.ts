/**
 * Each cluster round is recorded in the store as it ends (what /metrics reports of ticks, possibly
 * from another process): the real engine and SQLite store on the simulated cluster, whose adapter
 * counts the scheduler commands it is asked for.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { simEngine } from '../support/sim-engine.js'

const START = Date.parse('2026-11-02T08:00:00Z')
const closing: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closing.splice(0)) await close()
})

const PIPELINE = loadPipelineText(
  '/sim/p.yaml',
  `name: p
tasks:
  prep: { command: x, env: { RPO_SIM_DURATION: 30s } }
  train: { command: x, after: [prep], env: { RPO_SIM_DURATION: 60s } }
`,
)

describe('a cluster round', () => {
  it('is recorded for its cluster: last round, and totals of rounds, commands and time', async () => {
    const sim = await simEngine({ start: START, nodes: [{ name: 'c0', cpus: 8, memoryMb: 16_000 }] })
    closing.push(() => sim.close())
    expect(await sim.store.clusterTicks.list()).toEqual([])
    for (let i = 0; i < 2; i++) await sim.engine.startRun(PIPELINE, { resume: false })

    const rounds: { commands: number; runs: number; at: string }[] = []
    for (let round = 0; round < 20; round++) {
      const result = await sim.engine.tickCluster()
      rounds.push({
        commands: result.schedulerCommands,
        runs: result.runs.length,
        at: new Date(sim.clock.now()).toISOString(),
      })
      const [stat, ...others] = await sim.store.clusterTicks.list()
      expect(others).toEqual([])
      expect(stat).toMatchObject({
        cluster: 'sim',
        lastAt: rounds.at(-1)?.at,
        lastCommands: result.schedulerCommands,
        lastRuns: result.runs.length,
        rounds: rounds.length,
        commandsTotal: rounds.reduce((sum, r) => sum + r.commands, 0),
      })
      // real wall time, whatever the simulated clock says
      expect(stat?.lastDurationMs).toBeGreaterThanOrEqual(0)
      expect(stat?.durationMsTotal).toBeGreaterThanOrEqual(stat?.lastDurationMs ?? 0)
      if (result.runs.every((r) => r.state !== 'running')) break
      sim.cluster.advanceBy(30_000)
    }
    // the rounds submitted and polled: commands were counted, and the runs finished
    expect(rounds.reduce((sum, r) => sum + r.commands, 0)).toBeGreaterThan(0)
    expect(rounds.length).toBeGreaterThan(2)
    expect(rounds[0]?.runs).toBe(2)
  })
})
