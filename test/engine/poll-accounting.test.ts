// Which jobs a round asks accounting's figures for. A Slurm job squeue reports COMPLETED exited 0:
// the adapter concludes it without sacct unless the engine says its figures are wanted — for the
// jobs of runs a budget charges (and the concluded jobs awaiting their figure), never for a run
// without a project, whose dependents and end would only wait a round trip longer for nothing.
// Real engine, store and budget service on the simulated cluster; the adapter records its polls.
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { SimAdapter } from '../../adapters/sim/sim-adapter.js'
import { BudgetService } from '../../src/budget/budget-service.js'
import { loadConfig } from '../../src/config/load-config.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import type { JobObservation, NativeJobId, PollOptions } from '../../src/scheduler/scheduler-adapter.js'
import { simEngine } from '../support/sim-engine.js'

const START = Date.parse('2026-11-16T08:00:00Z')

const pipeline = (name: string, project: string | null) => `
name: ${name}
${project ? `project: ${project}` : ''}
tasks:
  work:
    command: work.sh
    resources: { cpus: 1, memory: 1G, time: 1h }
    env: { RPO_SIM_DURATION: 10m }
`

class RecordingPolls extends SimAdapter {
  readonly polls: { jobIds: string[]; accountingOf: string[] }[] = []
  override async poll(jobIds: readonly NativeJobId[], options?: PollOptions): Promise<readonly JobObservation[]> {
    this.polls.push({ jobIds: [...jobIds], accountingOf: [...(options?.accountingOf ?? [])] })
    return super.poll(jobIds)
  }
}

describe('accounting figures asked for in a round’s poll', () => {
  it('are those of the jobs of a charged run, not of a run without a project', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rpo-poll-accounting-'))
    writeFileSync(
      path.join(dir, 'rpo.config.yaml'),
      'projects:\n  p:\n    budgets: [{ resource: cpu-hours, amount: 1000 }]\n',
    )
    const config = loadConfig({ configPath: path.join(dir, 'rpo.config.yaml') })
    let adapter: RecordingPolls | undefined
    const sim = await simEngine({
      start: START,
      nodes: [{ name: 'c1', cpus: 8, memoryMb: 16_000, gpus: [] }],
      budget: (store) => new BudgetService(config, store),
      adapter: (cluster) => {
        adapter = new RecordingPolls({ cluster })
        return adapter
      },
    })
    try {
      const charged = (await sim.engine.startRun(loadPipelineText('/sim/a.yaml', pipeline('a', 'p')))).run.id
      const free = (await sim.engine.startRun(loadPipelineText('/sim/b.yaml', pipeline('b', null)))).run.id
      await sim.engine.tickCluster()
      const jobOf = async (runId: string) =>
        (await sim.store.listAttempts(runId)).map((a) => a.jobId as string)[0] as string
      const [chargedJob, freeJob] = [await jobOf(charged), await jobOf(free)]
      expect(chargedJob).toBeTruthy()
      expect(freeJob).toBeTruthy()

      sim.clock.advanceTo(START + 60_000)
      await sim.engine.tickCluster()
      const last = adapter?.polls.at(-1)
      expect(last?.jobIds.sort()).toEqual([chargedJob, freeJob].sort())
      expect(last?.accountingOf).toEqual([chargedJob])
    } finally {
      await sim.close()
    }
  })
})
