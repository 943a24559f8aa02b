/** Pure-core speed: validating/expanding large pipelines and planning ticks over many tasks. */
import { loadPipelineText } from '../src/config/load-pipeline.js'
import { indexDurationSamples } from '../src/core/estimate/duration-model.js'
import { EMPTY_QUEUE_WAIT_HISTORY } from '../src/core/estimate/queue-wait-model.js'
import { projectRun, projectRunSummary } from '../src/core/estimate/run-projection.js'
import { planTick } from '../src/core/scheduling/plan-tick.js'
import type { RunSnapshot, TaskSnapshot } from '../src/core/scheduling/run-snapshot.js'
import { measure, report } from './measure.js'

function bigPipeline(groups: number, width: number): string {
  const lines = ['name: big', 'tasks:']
  for (let g = 0; g < groups; g++) {
    lines.push(
      `  step${g}:`,
      `    command: "echo {{params.i}}"`,
      `    matrix: { i: [${Array.from({ length: width }, (_, i) => i).join(', ')}] }`,
    )
    if (g > 0) lines.push(`    after: [step${g - 1}]`)
  }
  return lines.join('\n')
}

function chainPipeline(length: number): string {
  const lines = ['name: chain', 'tasks:', '  t0: { command: "true" }']
  for (let i = 1; i < length; i++) lines.push(`  t${i}: { command: "true", after: [t${i - 1}] }`)
  return lines.join('\n')
}

export async function benchCore(): Promise<void> {
  console.log('\n## core (pure)')
  // issue #10: this took over a minute (pairwise duplicate-key check in the YAML parser)
  const chain = chainPipeline(50_000)
  const chainLoad = await measure('parse + validate + resolve + expand a 50,000-task chain', 3, () =>
    loadPipelineText('chain.yaml', chain),
  )
  report(chainLoad, `target: a few seconds → ${chainLoad.medianMs < 5000 ? 'ok' : 'MISSED'}`)

  const text = bigPipeline(50, 100)
  const load = await measure('validate + resolve + expand 5,000 tasks (50×100 sweep)', 10, () =>
    loadPipelineText('big.yaml', text),
  )
  report(load, `target: well under 1 s → ${load.medianMs < 1000 ? 'ok' : 'MISSED'}`)

  const loaded = loadPipelineText('big.yaml', bigPipeline(100, 100))
  const tasks: TaskSnapshot[] = loaded.instances.map((i, n) => ({
    id: i.id,
    group: i.group,
    kind: i.kind,
    // the first 40 groups done, the rest waiting: a busy mid-run snapshot
    state: n < 4000 ? 'succeeded' : 'pending',
    reason: null,
    params: i.params,
    item: null,
    command: i.command,
    attempts: n < 4000 ? 1 : 0,
    failures: 0,
    resumes: 0,
    overrides: null,
    nextAttemptAt: null,
    outputs: null,
    startedAt: null,
    endedAt: null,
  }))
  const snapshot: RunSnapshot = { id: 'r', state: 'running', pipeline: loaded.pipeline, tasks, latestAttempts: [] }
  const plan = await measure('planTick over a 10,000-task run', 20, () =>
    planTick(snapshot, [], {
      now: Date.parse('2026-11-28T00:00:00Z'),
      capacity: null,
      maxActive: 10_000,
      lostAfterMissedPolls: 3,
    }),
  )
  report(plan, `target: < 100 ms → ${plan.medianMs < 100 ? 'ok' : 'MISSED'}`)

  // the priority ranking projects every running run each round (src/core/estimate/run-projection.ts)
  const durations = indexDurationSamples(
    Array.from({ length: 100 * 50 }, (_, n) => ({
      pipeline: 'big',
      stage: `step${n % 100}`,
      shape: 'x',
      seconds: 60 + (n % 7),
      endedAt: n,
    })),
  )
  const projection = await measure(
    'projectRun over the same 10,000-task run (100 stages with 50 samples each)',
    20,
    () =>
      projectRun({
        snapshot,
        cluster: 'hpc',
        createdAt: Date.parse('2026-11-27T00:00:00Z'),
        finishedAt: null,
        durations,
        waits: EMPTY_QUEUE_WAIT_HISTORY,
        now: Date.parse('2026-11-28T00:00:00Z'),
      }),
    3,
  )
  report(projection, `target: < 100 ms, as planTick → ${projection.medianMs < 100 ? 'ok' : 'MISSED'}`)
  const summary = await measure(
    'projectRunSummary (what ranking reads each round) over the same run',
    20,
    () =>
      projectRunSummary({
        snapshot,
        cluster: 'hpc',
        createdAt: Date.parse('2026-11-27T00:00:00Z'),
        finishedAt: null,
        durations,
        waits: EMPTY_QUEUE_WAIT_HISTORY,
        now: Date.parse('2026-11-28T00:00:00Z'),
      }),
    3,
  )
  report(summary, `target: < 50 ms → ${summary.medianMs < 50 ? 'ok' : 'MISSED'}`)
}
