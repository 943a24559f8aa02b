// Issue #11: enforcement acts once per round. When a budget cut leaves a project's pending jobs over
// its hard cap, the round holds them all with ONE scheduler command, marks each attempt held by rpo
// and journals each hold; a job the scheduler refuses to hold is tried alone, reported, and left
// unmarked while the others are held. Real engine, store and budget service, simulated Slurm.
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { SimAdapter } from '../../adapters/sim/sim-adapter.js'
import { BudgetService } from '../../src/budget/budget-service.js'
import { loadConfig } from '../../src/config/load-config.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { EventLog } from '../../src/events/event-log.js'
import type { JobControl, NativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import { simEngine } from '../support/sim-engine.js'

const START = Date.parse('2026-11-02T08:00:00Z')
const MINUTE = 60_000

/** The real SimAdapter, recording each control command; it refuses to hold the jobs in `refuse`. */
class RecordingSimAdapter extends SimAdapter {
  readonly controls: { kind: string; jobs: number }[] = []
  readonly refuse = new Set<string>()
  override async control(ids: readonly NativeJobId[], action: JobControl): Promise<void> {
    this.controls.push({ kind: action.kind, jobs: ids.length })
    const refused = ids.find((id) => this.refuse.has(id))
    if (action.kind === 'hold' && refused) throw new Error(`scontrol: error: Job ${refused} is finished`)
    return super.control(ids, action)
  }
}

const PIPELINE = `
name: sweep
project: vision
tasks:
  train:
    command: train.sh
    matrix: { lr: [1, 2, 3, 4, 5, 6] }
    resources: { cpus: 1, memory: 1G, gpus: { count: 1, type: a100 }, time: 2h }
    env: { RPO_SIM_DURATION: 1h }
`

describe('enforcement in one command per kind', () => {
  it('holds every pending job over a cut budget with one hold; a refused job alone is reported and not marked', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rpo-enforce-batch-'))
    writeFileSync(
      path.join(dir, 'rpo.config.yaml'),
      'projects:\n  vision:\n    budgets: [{ resource: gpu-hours, amount: 1000 }]\n',
    )
    const config = loadConfig({ configPath: path.join(dir, 'rpo.config.yaml') })
    let adapter: RecordingSimAdapter | null = null
    const { clock, store, engine, close } = await simEngine({
      start: START,
      // one GPU: one training runs, five wait
      nodes: [{ name: 'g1', cpus: 8, memoryMb: 64_000, gpus: [{ type: 'a100', count: 1 }] }],
      budget: (store) => new BudgetService(config, store),
      adapter: (cluster) => {
        adapter = new RecordingSimAdapter({ cluster })
        return adapter
      },
    })
    const errors: string[] = []
    engine.events.on('tick:error', (e) => errors.push(e.cause.message))
    try {
      const sim = adapter as unknown as RecordingSimAdapter
      const runId = (await engine.startRun(loadPipelineText('/sim/sweep.yaml', PIPELINE))).run.id
      await engine.tick(runId)
      clock.advanceBy(MINUTE)
      await engine.tick(runId)
      const pending = (await store.loadSnapshot(runId)).snapshot.latestAttempts.filter((a) => a.state === 'pending')
      expect(pending).toHaveLength(5)
      const refused = pending[0]?.jobId as string
      sim.refuse.add(refused)

      // the budget is cut below what one more training may use (2 GPU-hours at worst)
      await store.budgets.addSetting({
        project: 'vision',
        user: null,
        resource: 'gpu-hours',
        gpuType: null,
        cap: 'hard',
        amount: 2.5,
        period: 'month',
        actor: 'alice',
        at: new Date(clock.now()).toISOString(),
        note: 'cut',
      })
      sim.controls.length = 0
      clock.advanceBy(MINUTE)
      await engine.tick(runId)

      // one hold for the five, then the refused job's hold failed the command: each tried alone
      const holds = sim.controls.filter((c) => c.kind === 'hold')
      expect(holds[0]).toEqual({ kind: 'hold', jobs: 5 })
      expect(holds.slice(1)).toEqual(Array.from({ length: 5 }, () => ({ kind: 'hold', jobs: 1 })))
      // the next round's poll sees the four held (and tries the refused one again, alone)
      clock.advanceBy(MINUTE)
      await engine.tick(runId)
      const attempts = (await store.loadSnapshot(runId)).snapshot.latestAttempts
      const byJob = new Map(attempts.map((a) => [a.jobId, a]))
      for (const job of pending.map((a) => a.jobId as string)) {
        if (job === refused) {
          expect(byJob.get(job)?.state).toBe('pending')
          expect(byJob.get(job)?.heldReason ?? null).toBeNull()
        } else {
          expect(byJob.get(job)).toMatchObject({
            state: 'held',
            heldReason: expect.stringMatching(/hard gpu-hours cap/),
          })
        }
      }
      expect(errors).toContainEqual(
        expect.stringMatching(new RegExp(`hold ${refused}: scontrol: error: Job ${refused}`)),
      )
      const journal = (await store.listEvents(runId)).filter((e) => e.type === 'budget:hold')
      expect(journal).toHaveLength(4)

      // each hold is also a stored `budget.action` event (what `rpo events` and webhooks read): one
      // per held job, naming its task, job, attempt and why; none for the refused job, and a later
      // round, which finds them held already, adds none
      clock.advanceBy(MINUTE)
      await engine.tick(runId)
      const actions = await new EventLog(store.events).list({ types: ['budget.action'] })
      const held = pending.filter((a) => a.jobId !== refused)
      expect(actions.map((e) => (e.type === 'budget.action' ? e.payload.jobId : null)).sort()).toEqual(
        held.map((a) => a.jobId).sort(),
      )
      for (const a of held) {
        const event = actions.find((e) => e.type === 'budget.action' && e.payload.jobId === a.jobId)
        expect(event).toMatchObject({
          runId,
          project: 'vision',
          taskId: a.taskId,
          payload: { action: 'hold', attempt: a.attempt, reason: byJob.get(a.jobId)?.heldReason },
        })
        expect(event?.payload).toMatchObject({ reason: expect.stringMatching(/hard gpu-hours cap/) })
      }
    } finally {
      await close()
    }
  })
})
