/**
 * Ctrl-C once, and Ctrl-C twice 20 ms apart, at seeded moments while `rpo run` drives a pipeline;
 * each time the next `rpo run` must continue the run, which ends with every task succeeded — none
 * recorded cancelled or upstream_failed because of the interrupts. Shared by the local executor
 * and the Slurm testbed suites.
 */
import { expect } from 'vitest'
import { runCli, writePipeline } from '../../support/cli-harness.js'
import { faultSeed, printFigures, rawControlIn, seededRandom, wallSince } from './fault-figures.js'
import { killPipeline, killPipelineTasks, SMALL_SHAPE } from './kill-pipeline.js'
import { type RerunOutcome, rerunUntilDone } from './rerun-until-done.js'

export const INTERRUPTS = 3

export interface InterruptResult {
  readonly outcome: RerunOutcome
  readonly tasks: { id: string; state: string; attempt: number }[]
}

export async function interruptScenario(
  label: string,
  dir: string,
  times: 1 | 2,
  resources: string,
): Promise<InterruptResult> {
  const seed = faultSeed()
  const random = seededRandom(seed)
  const started = Date.now()
  writePipeline(dir, 'pipeline.yaml', killPipeline('interrupted', { ...SMALL_SHAPE, resources }))
  // while tasks run (so the Ctrl-C has something to stop): up to 2 s after the first one started
  const outcome = await rerunUntilDone(dir, 'pipeline.yaml', (i) =>
    i < INTERRUPTS
      ? { kind: 'interrupt', times, afterOutput: /▶ \S+ started/, afterMs: Math.floor(random() * 2000) }
      : undefined,
  )
  const status = await runCli(dir, ['status', outcome.runId, '--json'])
  const progress = JSON.parse(status.stdout) as { state: string; tasks: InterruptResult['tasks'] }
  const instances = progress.tasks.filter((t) => t.state !== 'expanded')
  const notSucceeded = instances.filter((t) => t.state !== 'succeeded')
  printFigures(label, {
    seed,
    interrupts: outcome.hurts,
    reruns: outcome.reruns,
    tasks: instances.length,
    notSucceeded: notSucceeded.length,
    wall: wallSince(started),
  })
  expect(outcome.hurts).toBe(INTERRUPTS)
  expect(outcome.finalCode, outcome.output.slice(-3000)).toBe(0)
  expect(progress.state).toBe('succeeded')
  expect(instances).toHaveLength(killPipelineTasks(SMALL_SHAPE))
  expect(notSucceeded.map((t) => `${t.id}: ${t.state}`)).toEqual([])
  // every interrupted `rpo run` said how to go on, and the next one continued the same run
  expect(outcome.output.match(new RegExp(`continuing run ${outcome.runId}`, 'g'))?.length).toBe(INTERRUPTS)
  expect(rawControlIn(outcome.output)).toEqual([])
  return { outcome, tasks: instances }
}
