// The priority policy's deadline-slack inputs come from the estimate model: before any history a
// project's remaining critical path is its declared `expected` durations; once a run of the
// pipeline finished, its measured durations replace those guesses.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { projectPriorityInputs } from '../../src/budget/project-priority-inputs.js'
import { loadConfig } from '../../src/config/load-config.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { simEngine } from '../support/sim-engine.js'

const START = Date.parse('2026-11-02T08:00:00Z')
const MINUTE = 60_000

const PIPELINE = `
name: guessed
project: cv
tasks:
  a: { command: a.sh, expected: 10m, env: { RPO_SIM_DURATION: 30m } }
  b: { command: b.sh, expected: 10m, after: [a], env: { RPO_SIM_DURATION: 30m } }
`

describe('deadline slack from estimates', () => {
  it('replaces the declared guesses with measured durations once history exists', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rpo-priority-estimates-'))
    writeFileSync(
      path.join(dir, 'rpo.config.yaml'),
      'defaultCluster: sim\nclusters:\n  sim: { kind: local }\nprojects:\n  cv: { deadline: "2026-11-03T00:00:00Z" }\n',
    )
    const config = loadConfig({ configPath: path.join(dir, 'rpo.config.yaml') })
    const sim = await simEngine({ start: START, nodes: [{ name: 'n1', cpus: 8, memoryMb: 64_000, gpus: [] }] })
    const loaded = loadPipelineText('/sim/guessed.yaml', PIPELINE)
    const inputs = async () => {
      const { projects } = await projectPriorityInputs(config, sim.store, [], {}, sim.clock.now())
      return projects.find((p) => p.project === 'cv')
    }
    try {
      const first = (await sim.engine.startRun(loaded, { resume: false })).run.id
      expect(await inputs()).toMatchObject({ remainingCriticalPathSeconds: 1200, expectedWorkSeconds: 1200 })
      let state = 'running'
      while (state === 'running') {
        state = (await sim.engine.tick(first)).state
        sim.cluster.advanceBy(MINUTE)
      }
      expect(state).toBe('succeeded')

      await sim.engine.startRun(loaded, { resume: false })
      // the first run measured 30 min per task (give or take a poll): the guess of 10 min is gone
      const measured = await inputs()
      expect(measured?.remainingCriticalPathSeconds).toBeGreaterThanOrEqual(3600)
      expect(measured?.remainingCriticalPathSeconds).toBeLessThan(3600 + 4 * 60)
      expect(measured?.expectedWorkSeconds).toBe(measured?.remainingCriticalPathSeconds)
    } finally {
      await sim.close()
    }
  })
})
