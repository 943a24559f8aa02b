// Soft caps through the real engine, store and budget service on the simulated cluster: a project
// over its soft cap runs while the GPUs would otherwise idle; when an in-budget project's work waits
// for those GPUs, the over-soft jobs are asked to checkpoint (their signal), exit 85, and are
// resubmitted as resuming attempts that run after the in-budget work, finishing from their checkpoints.
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { jobTimes } from '../../adapters/sim/sim-metrics.js'
import { BudgetService } from '../../src/budget/budget-service.js'
import { loadConfig } from '../../src/config/load-config.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { chargedByUsageKey, planCharges } from '../../src/core/budget/budget-ledger.js'
import { tresHoursOf } from '../../src/core/budget/tres-hours.js'
import { EventLog } from '../../src/events/event-log.js'
import { simEngine } from '../support/sim-engine.js'

const START = Date.parse('2026-11-10T08:00:00Z')
const MINUTE = 60_000
const HOUR = 60 * MINUTE

const CONFIG = `
projects:
  explore:
    budgets: [{ resource: gpu-hours, amount: 5, cap: soft }]
  paper:
    budgets: [{ resource: gpu-hours, amount: 100, cap: hard }]
`

// two 2-hour trainings on 2 GPUs each that save every 10 minutes and on USR2
const EXPLORE = `
name: explore
project: explore
tasks:
  train:
    matrix: { seed: [1, 2] }
    command: train.sh --seed {{params.seed}}
    resources: { cpus: 4, memory: 16G, gpus: { count: 2, type: a100 }, time: 4h }
    checkpoint: { every: 10m, signal: USR2 }
    env: { RPO_SIM_DURATION: 2h }
`

// in-budget work that needs the whole node
const PAPER = `
name: paper
project: paper
tasks:
  eval:
    command: eval.sh
    resources: { cpus: 8, memory: 32G, gpus: { count: 4, type: a100 }, time: 1h }
    env: { RPO_SIM_DURATION: 30m }
`

describe('soft caps on the simulated cluster', () => {
  it('runs over-soft work on idle GPUs and checkpoints and requeues it first when in-budget work waits', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rpo-soft-cap-'))
    writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
    const config = loadConfig({ configPath: path.join(dir, 'rpo.config.yaml') })
    const { clock, cluster, store, engine, close } = await simEngine({
      start: START,
      nodes: [{ name: 'g1', cpus: 32, memoryMb: 256_000, gpus: [{ type: 'a100', count: 4 }] }],
      budget: (store) => new BudgetService(config, store),
    })
    const budgets = new BudgetService(config, store)
    try {
      // last week's work already took explore past its soft cap: 10 of its 5 GPU-hours this month
      await store.budgets.appendEntries(
        planCharges(
          [
            {
              usageKey: 'rpo.earlier.train.1@2026-11-03T08:00:00.000Z',
              project: 'explore',
              user: null,
              at: new Date(START - 7 * 24 * HOUR).toISOString(),
              hours: tresHoursOf({ 'gres/gpu': 2, 'gres/gpu:a100': 2 }, 5 * 3600),
            },
          ],
          chargedByUsageKey([]),
        ),
      )
      const before = (await budgets.statuses(START)).statuses.find((s) => s.project === 'explore')
      expect(before?.state).toBe('soft-exceeded')

      const runs = new Map<string, string>()
      runs.set('explore', (await engine.startRun(loadPipelineText('/sim/explore.yaml', EXPLORE))).run.id)
      const states = new Map<string, string>()
      while (clock.now() < START + 12 * HOUR) {
        // the in-budget project's work arrives half an hour in, while explore holds every GPU
        if (!runs.has('paper') && clock.now() >= START + 30 * MINUTE) {
          runs.set('paper', (await engine.startRun(loadPipelineText('/sim/paper.yaml', PAPER))).run.id)
        }
        for (const [project, runId] of runs) states.set(project, (await engine.tick(runId)).state)
        if (runs.has('paper') && [...states.values()].every((s) => s !== 'running')) break
        cluster.advanceBy(MINUTE)
      }
      expect(states.get('explore')).toBe('succeeded')
      expect(states.get('paper')).toBe('succeeded')

      const jobsOf = (project: string, task: string) =>
        jobTimes(cluster)
          .filter((j) => j.submissionKey.startsWith(`rpo.${runs.get(project)}.${task}`))
          .sort((a, b) => a.submittedAtMs - b.submittedAtMs || (a.submissionKey < b.submissionKey ? -1 : 1))
      const eval_ = jobsOf('paper', 'eval')
      expect(eval_).toHaveLength(1)
      const paperJob = eval_[0] as (typeof eval_)[number]
      const paperStart = paperJob.firstStartedAtMs as number
      const paperEnd = paperJob.endedAtMs as number

      for (const seed of [1, 2]) {
        const attempts = jobsOf('explore', `train.${seed - 1}.`)
        expect(attempts.map((a) => a.submissionKey.split('.').at(-1))).toEqual(['1', '2'])
        const [first, second] = attempts as [(typeof attempts)[0], (typeof attempts)[0]]
        // over its soft cap, it ran at once: nothing else wanted the GPUs
        expect(first.firstStartedAtMs).toBe(START)
        // asked to checkpoint once paper's work had waited, it saved and exited 85 ...
        const signals = cluster.events().filter((e) => e.kind === 'signal' && e.jobId === first.jobId)
        expect(signals.map((e) => e.detail)).toEqual(['USR2'])
        const firstView = cluster.job(first.jobId)
        expect(firstView?.exitCode).toBe(85)
        expect(first.endedAtMs as number).toBeGreaterThan(START + 30 * MINUTE)
        expect(first.endedAtMs as number).toBeLessThanOrEqual(paperStart)
        // ... was resubmitted, and ran only after the in-budget work was done
        expect(second.submittedAtMs).toBeLessThan(paperEnd)
        expect(second.firstStartedAtMs as number).toBeGreaterThanOrEqual(paperEnd)
        // resuming from its checkpoint: the two runs together did the two hours of work once
        const secondView = cluster.job(second.jobId)
        expect(secondView?.workload.resume).toBe(true)
        expect(secondView?.exitCode).toBe(0)
        expect(second.runSeconds).toBeLessThan(2 * 3600 - 20 * 60)
        expect(first.runSeconds + second.runSeconds).toBeLessThanOrEqual(2 * 3600 + 10 * 60)
      }
      // the in-budget work waited no longer than the contention grace plus the checkpoint saves
      expect(paperStart - (paperJob.submittedAtMs as number)).toBeLessThan(15 * MINUTE)

      // the engine recorded why: a budget:requeue event on each explore task, naming the soft cap
      const events = await store.listEvents(runs.get('explore') as string)
      const requeues = events.filter((e) => e.type === 'budget:requeue')
      expect(requeues.map((e) => e.taskId).sort()).toEqual(['train.0', 'train.1'])
      for (const e of requeues) expect(e.message).toMatch(/project explore is over its soft gpu-hours cap/)
      // and with each a stored `budget.action` event (what `rpo events` and webhooks read): one requeue
      // per first attempt, naming its task, job and the soft cap; no other budget action on either run
      const actions = await new EventLog(store.events).list({ types: ['budget.action'] })
      expect(actions).toHaveLength(2)
      for (const seed of [1, 2]) {
        const taskId = `train.${seed - 1}`
        const first = jobsOf('explore', `${taskId}.`)[0]
        expect(actions.filter((e) => e.taskId === taskId)).toEqual([
          expect.objectContaining({
            runId: runs.get('explore'),
            project: 'explore',
            payload: {
              action: 'requeue',
              jobId: first?.jobId,
              attempt: 1,
              reason: expect.stringMatching(
                /^project explore is over its soft gpu-hours cap .* checkpoint and requeue/,
              ),
            },
          }),
        ])
      }
    } finally {
      await close()
    }
  }, 120_000)
})
