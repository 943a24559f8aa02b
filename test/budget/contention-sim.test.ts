// Budgets and priorities under contention, at scale, on the simulated cluster: three projects'
// pipelines compete for 8 GPUs over two days of virtual time through the real engine, store and
// budget service. No hard cap is ever crossed, the important near-deadline work finishes first, and
// the GPUs stay busy while there is work they may run.
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { gpuUtilization, jobTimes } from '../../adapters/sim/sim-metrics.js'
import { BudgetService } from '../../src/budget/budget-service.js'
import { loadConfig } from '../../src/config/load-config.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { simEngine } from '../support/sim-engine.js'

const START = Date.parse('2026-11-02T08:00:00Z')
const MINUTE = 60_000
const HOUR = 60 * MINUTE
const CAPPED_BUDGET = 40

const CONFIG = `
projects:
  urgent:
    importance: 3
    deadline: "${new Date(START + 30 * HOUR).toISOString()}"
    budgets: [{ resource: gpu-hours, amount: 200 }]
  steady:
    budgets: [{ resource: gpu-hours, amount: 400 }]
  capped:
    budgets: [{ resource: gpu-hours, amount: ${CAPPED_BUDGET}, cap: hard }]
`

// twelve 3-hour trainings on 2 GPUs each (time limit 4 h: a worst case of 8 GPU-hours apiece)
const pipeline = (project: string) => `
name: ${project}
project: ${project}
tasks:
  train:
    matrix: { seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] }
    command: train.sh --seed {{params.seed}}
    expected: 3h
    resources: { cpus: 4, memory: 16G, gpus: { count: 2, type: a100 }, time: 4h }
    env: { RPO_SIM_DURATION: 3h }
`

describe('budgets and priorities on the simulated cluster', () => {
  it('keeps every hard cap, finishes important near-deadline work first and keeps the GPUs busy', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rpo-contention-'))
    writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
    const config = loadConfig({ configPath: path.join(dir, 'rpo.config.yaml') })
    const { clock, cluster, store, engine, close } = await simEngine({
      start: START,
      nodes: [
        { name: 'g1', cpus: 32, memoryMb: 256_000, gpus: [{ type: 'a100', count: 4 }] },
        { name: 'g2', cpus: 32, memoryMb: 256_000, gpus: [{ type: 'a100', count: 4 }] },
      ],
      budget: (store) => new BudgetService(config, store),
    })
    const budgets = new BudgetService(config, store)
    try {
      // the least important work is submitted first: only priorities can put urgent ahead
      const runs = new Map<string, string>()
      for (const project of ['steady', 'capped', 'urgent']) {
        const loaded = loadPipelineText(`/sim/${project}.yaml`, pipeline(project))
        runs.set(project, (await engine.startRun(loaded)).run.id)
      }
      let maxCappedUsed = 0
      const states = new Map<string, string>()
      while (clock.now() < START + 48 * HOUR) {
        for (const [project, runId] of runs) states.set(project, (await engine.tick(runId)).state)
        const { statuses } = await budgets.statuses(clock.now())
        const capped = statuses.find((s) => s.project === 'capped') as (typeof statuses)[number]
        maxCappedUsed = Math.max(maxCappedUsed, capped.used)
        // admission counts used + what in-flight jobs may still use at worst: never above the cap
        expect(capped.used + capped.committed).toBeLessThanOrEqual(CAPPED_BUDGET + 1e-9)
        if (states.get('urgent') !== 'running' && states.get('steady') !== 'running' && clock.now() > START + 30 * HOUR)
          break
        cluster.advanceBy(10 * MINUTE)
      }
      expect(states.get('urgent')).toBe('succeeded')
      expect(states.get('steady')).toBe('succeeded')
      // capped ran what its budget allowed (six 3-hour trainings: 36 of 40 GPU-hours) and holds the rest
      expect(maxCappedUsed).toBeGreaterThan(30)
      expect(maxCappedUsed).toBeLessThanOrEqual(CAPPED_BUDGET)
      expect(states.get('capped')).toBe('running')
      const { snapshot } = await store.loadSnapshot(runs.get('capped') as string)
      const waiting = snapshot.tasks.filter((t) => t.state !== 'succeeded')
      expect(waiting.length).toBe(6)
      for (const t of waiting) expect(t.reason).toMatch(/budget: project capped would exceed its hard gpu-hours cap/)

      // urgent, submitted last, finished first and before its deadline
      const ends = (project: string) =>
        jobTimes(cluster)
          .filter((j) => j.submissionKey.startsWith(`rpo.${runs.get(project)}.`) && j.endedAtMs !== null)
          .map((j) => j.endedAtMs as number)
          .sort((a, b) => a - b)
      const urgentEnds = ends('urgent')
      const steadyEnds = ends('steady')
      expect(urgentEnds).toHaveLength(12)
      expect(steadyEnds).toHaveLength(12)
      expect(urgentEnds.at(-1) as number).toBeLessThan(steadyEnds.at(-1) as number)
      expect(urgentEnds[6] as number).toBeLessThan(steadyEnds[6] as number)
      expect(urgentEnds.at(-1) as number).toBeLessThan(START + 30 * HOUR)

      // GPUs busy whenever work that may run was waiting (held work is not eligible)
      const busy = gpuUtilization(cluster, { fromMs: START, toMs: START + 20 * HOUR, onlyWhilePending: true })
      expect(busy.ratio).toBeGreaterThanOrEqual(0.9)
    } finally {
      await close()
    }
  }, 120_000)
})
