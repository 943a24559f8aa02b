// Soft caps live on the Slurm testbed, through the real engine (createApp → engineFor → tick): a
// project over its soft cap (vision; the projects are the testbed's Slurm accounts) runs on the v100 node while nothing else wants it; when an in-budget
// project's job waits for those GPUs, rpo sends the over-soft job its checkpoint signal, the job
// saves and exits 85, and its task is resubmitted as a resuming attempt that starts only after the
// in-budget job — Slurm's accounting says when each really ran. Everything submitted is cancelled.
import { appendFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadPipelineFile } from '../../src/config/load-pipeline.js'
import { chargedByUsageKey, planCharges } from '../../src/core/budget/budget-ledger.js'
import { tresHoursOf } from '../../src/core/budget/tres-hours.js'
import { createApp } from '../../src/create-app.js'
import { writePipeline } from '../support/cli-harness.js'
import { sacctSettled, testbedSsh, testbedWorkspace } from './testbed.js'

const ssh = testbedSsh()
afterAll(() => ssh.close())

const STEPS = 30

const BUDGETS = `
projects:
  vision:
    budgets: [{ resource: gpu-hours, amount: 5, cap: soft }]
  nlp:
    budgets: [{ resource: gpu-hours, amount: 100, cap: hard }]
enforcement:
  softCapWait: 5s
`

// a second per step; saves its step on USR2 and asks to be resumed (exit 85); resumed, it goes on from there
const EXPLORE = `
name: explore
project: vision
tasks:
  train:
    command: |
      mkdir -p "$RPO_CHECKPOINT_DIR"
      n=$(cat "$RPO_CHECKPOINT_DIR/step" 2>/dev/null || echo 0); from=$n
      trap 'echo $n > "$RPO_CHECKPOINT_DIR/step"; exit 85' USR2
      while [ $n -lt ${STEPS} ]; do sleep 1; n=$((n+1)); done
      printf '{"from": %d, "steps": %d}' $from $n > "$RPO_OUTPUTS"
    resources: { partition: gpu, gpus: { count: 2, type: v100 }, time: 10m, memory: 100M }
    checkpoint: { leadTime: 60s }
`

const PAPER = `
name: paper
project: nlp
tasks:
  eval:
    command: sleep 3
    resources: { partition: gpu, gpus: { count: 2, type: v100 }, time: 5m, memory: 100M }
`

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('soft caps on Slurm', () => {
  it('runs over-soft work on idle GPUs and checkpoints and requeues it behind in-budget work that waits', async () => {
    const { dir } = testbedWorkspace()
    appendFileSync(path.join(dir, 'rpo.config.yaml'), BUDGETS)
    writePipeline(dir, 'explore.yaml', EXPLORE)
    writePipeline(dir, 'paper.yaml', PAPER)
    const app = await createApp({ configPath: path.join(dir, 'rpo.config.yaml'), cwd: dir })
    const runIds: string[] = []
    try {
      // earlier work took vision past its soft cap: 10 of its 5 GPU-hours this month
      await app.store.budgets.appendEntries(
        planCharges(
          [
            {
              usageKey: 'rpo.earlier.train.1@2026-01-01T00:00:00.000Z',
              project: 'vision',
              user: null,
              at: new Date().toISOString(),
              hours: tresHoursOf({ 'gres/gpu': 2, 'gres/gpu:v100': 2 }, 5 * 3600),
            },
          ],
          chargedByUsageKey([]),
        ),
      )
      const explore = (await app.budgets.statuses(Date.now())).statuses.find((s) => s.project === 'vision')
      expect(explore?.state).toBe('soft-exceeded')

      const engine = await app.engineFor()
      const exploreRun = (await engine.startRun(loadPipelineFile(path.join(dir, 'explore.yaml')))).run.id
      runIds.push(exploreRun)
      const deadline = Date.now() + 100_000
      const attemptsOf = async (runId: string) => app.store.listAttempts(runId)
      // over its soft cap, it is submitted and runs: nothing else wants the v100s
      for (;;) {
        await engine.tick(exploreRun)
        const [first] = await attemptsOf(exploreRun)
        if (first?.state === 'running') break
        expect(Date.now()).toBeLessThan(deadline)
        await sleep(1000)
      }
      await sleep(3000)
      const paperRun = (await engine.startRun(loadPipelineFile(path.join(dir, 'paper.yaml')))).run.id
      runIds.push(paperRun)
      const states = new Map<string, string>()
      while (Date.now() < deadline) {
        for (const runId of runIds) states.set(runId, (await engine.tick(runId)).state)
        if ([...states.values()].every((s) => s !== 'running')) break
        await sleep(1000)
      }
      expect(states.get(paperRun)).toBe('succeeded')
      expect(states.get(exploreRun)).toBe('succeeded')

      const trains = await attemptsOf(exploreRun)
      expect(trains.map((a) => [a.attempt, a.state, a.exitCode])).toEqual([
        [1, expect.any(String), 85],
        [2, 'succeeded', 0],
      ])
      const [first, second] = trains as [(typeof trains)[0], (typeof trains)[0]]
      const [evalAttempt] = await attemptsOf(paperRun)
      // rpo asked it to checkpoint for the soft cap, and said so
      const requeues = (await app.store.listEvents(exploreRun)).filter((e) => e.type === 'budget:requeue')
      expect(requeues).toHaveLength(1)
      expect(requeues[0]?.message).toMatch(
        /project vision is over its soft gpu-hours cap .* while in-budget work of nlp waits for 2 v100 GPUs/,
      )
      // the resumed attempt went on from the saved step and did the rest, not all of it again
      const { snapshot } = await app.store.loadSnapshot(exploreRun)
      const outputs = snapshot.tasks.find((t) => t.id === 'train')?.outputs as { from: number; steps: number }
      expect(outputs.steps).toBe(STEPS)
      expect(outputs.from).toBeGreaterThan(0)
      expect(outputs.from).toBeLessThan(STEPS)

      // Slurm's accounting: the over-soft job ended before the in-budget one started, and its
      // resumed attempt started only once the in-budget job had ended
      const ids = [first.jobId, second.jobId, evalAttempt?.jobId].map((id) => id as string)
      const rows = new Map((await sacctSettled(ssh, ids)).map((r) => [r.jobId, r]))
      const [one, two, paper] = ids.map((id) => rows.get(id)) as [
        NonNullable<ReturnType<typeof rows.get>>,
        NonNullable<ReturnType<typeof rows.get>>,
        NonNullable<ReturnType<typeof rows.get>>,
      ]
      expect(one.nodes).toBe('gpu3')
      expect(one.end).toBeLessThanOrEqual(paper.start)
      expect(two.start).toBeGreaterThanOrEqual(paper.end)
      expect(paper.state).toBe('COMPLETED')
    } finally {
      // leave nothing behind on the cluster, whatever happened above
      const jobIds: string[] = []
      for (const runId of runIds) {
        for (const a of await app.store.listAttempts(runId)) if (a.jobId) jobIds.push(a.jobId)
      }
      if (jobIds.length > 0) await ssh.exec(['scancel', ...jobIds], { idempotent: true }).catch(() => undefined)
      await app.close()
    }
  }, 150_000)
})
