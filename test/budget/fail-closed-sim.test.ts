// Issue #10: on a scheduler that can hold, the work of a project whose budget cannot be judged is
// submitted held and stays held, tick after tick, while another project's work runs; once the
// setting is fixed the hold is released. Real engine, store and budget service, simulated Slurm.
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { BudgetService } from '../../src/budget/budget-service.js'
import { loadConfig } from '../../src/config/load-config.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { EventLog } from '../../src/events/event-log.js'
import type { RunStore } from '../../src/store/run-store.js'
import { simEngine } from '../support/sim-engine.js'

const START = Date.parse('2026-11-02T08:00:00Z')
const MINUTE = 60_000

const CONFIG = `
projects:
  broken:
    budgets: [{ resource: gpu-hours, amount: 100 }]
  fine:
    budgets: [{ resource: gpu-hours, amount: 100 }]
`

const pipeline = (project: string) => `
name: ${project}
project: ${project}
tasks:
  train:
    command: train.sh
    resources: { cpus: 2, memory: 8G, gpus: { count: 1, type: a100 }, time: 2h }
    env: { RPO_SIM_DURATION: 1h }
`

async function attemptOf(store: RunStore, runId: string) {
  const { snapshot } = await store.loadSnapshot(runId)
  return snapshot.latestAttempts[0]
}

describe('an unjudgeable budget on a scheduler that can hold', () => {
  it('submits its work held, keeps it held, and releases it once the setting is fixed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rpo-fail-closed-'))
    writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
    const config = loadConfig({ configPath: path.join(dir, 'rpo.config.yaml') })
    const { clock, store, engine, close } = await simEngine({
      start: START,
      nodes: [{ name: 'g1', cpus: 32, memoryMb: 256_000, gpus: [{ type: 'a100', count: 4 }] }],
      budget: (store) => new BudgetService(config, store),
    })
    const errors: string[] = []
    engine.events.on('tick:error', (e) => errors.push(`${e.cause.code}: ${e.cause.message}`))
    const setting = {
      project: 'broken',
      user: null,
      resource: 'gpu-hours' as const,
      gpuType: null,
      cap: 'hard' as const,
      actor: 'mallory',
      at: new Date(START).toISOString(),
      note: '',
    }
    try {
      await store.budgets.addSetting({ ...setting, amount: 100, period: { rollingDays: 0 } })
      const broken = (await engine.startRun(loadPipelineText('/sim/broken.yaml', pipeline('broken')))).run.id
      const fine = (await engine.startRun(loadPipelineText('/sim/fine.yaml', pipeline('fine')))).run.id
      for (let i = 0; i < 5; i++) {
        await engine.tick(broken)
        await engine.tick(fine)
        clock.advanceBy(MINUTE)
      }
      expect(await attemptOf(store, broken)).toMatchObject({
        state: 'held',
        heldReason: expect.stringMatching(/^budget: the budget of project broken cannot be judged: .*rolling:0d/),
      })
      expect((await attemptOf(store, fine))?.state).toBe('running')
      expect(errors).toContainEqual(
        expect.stringMatching(/^budget-invalid: the budget of project broken cannot be judged/),
      )

      await store.budgets.addSetting({ ...setting, amount: 100, period: 'month', actor: 'alice' })
      for (let i = 0; i < 3; i++) {
        await engine.tick(broken)
        clock.advanceBy(MINUTE)
      }
      expect((await attemptOf(store, broken))?.state).toBe('running')

      // what `rpo events` and webhooks hear: the job submitted held is a hold, once (not again each
      // tick it stays held), then its release; the fine project's job has no budget action
      const actions = await new EventLog(store.events).list({ types: ['budget.action'] })
      const jobId = (await attemptOf(store, broken))?.jobId
      expect(actions.map((e) => [e.runId, e.type === 'budget.action' ? e.payload.action : null])).toEqual([
        [broken, 'hold'],
        [broken, 'release'],
      ])
      expect(actions[0]).toMatchObject({
        project: 'broken',
        taskId: 'train',
        payload: {
          jobId,
          attempt: 1,
          reason: expect.stringMatching(/^budget: the budget of project broken cannot be judged/),
        },
      })
    } finally {
      await close()
    }
  })

  it('ranks a project whose deadline is not a date as having none, says so, and still enforces the others', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rpo-fail-closed-'))
    writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG.replace('amount: 100 }]\n  fine', 'amount: 0 }]\n  fine'))
    const loaded = loadConfig({ configPath: path.join(dir, 'rpo.config.yaml') })
    // as a config an older rpo accepted (the loader now refuses it)
    const config = {
      ...loaded,
      projects: { ...loaded.projects, late: { importance: 1, deadline: 'not a date', budgets: [] } },
    }
    const { clock, store, engine, close } = await simEngine({
      start: START,
      nodes: [{ name: 'g1', cpus: 32, memoryMb: 256_000, gpus: [{ type: 'a100', count: 4 }] }],
      budget: (store) => new BudgetService(config, store),
    })
    const errors: string[] = []
    engine.events.on('tick:error', (e) => errors.push(`${e.cause.code}: ${e.cause.message}`))
    try {
      const capped = (await engine.startRun(loadPipelineText('/sim/broken.yaml', pipeline('broken')))).run.id
      const late = (await engine.startRun(loadPipelineText('/sim/late.yaml', pipeline('late')))).run.id
      for (let i = 0; i < 3; i++) {
        await engine.tick(capped)
        await engine.tick(late)
        clock.advanceBy(MINUTE)
      }
      expect((await attemptOf(store, capped))?.state).toBe('held')
      expect((await attemptOf(store, late))?.state).toBe('running')
      expect(errors).toContainEqual(
        expect.stringMatching(
          /the priority of project late is computed without its deadline "not a date" \(projects\.late\.deadline/,
        ),
      )
      expect(errors.filter((e) => !e.startsWith('budget-invalid: the priority of project late'))).toEqual([])
    } finally {
      await close()
    }
  })
})
