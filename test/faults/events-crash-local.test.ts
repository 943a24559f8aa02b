// rpo killed (SIGKILL) at seeded moments while it runs a pipeline on the local executor, once at
// the worst moment for submissions (after the scheduler answered, before the ids were written),
// then rerun until the run ends: the event log and the rows must agree. Replaying each attempt's,
// task's and the run's state events — every `from` the previous `to` — ends where the store says
// they are: no transition lost with a crash, none recorded that did not happen.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/create-app.js'
import type { RpoEvent } from '../../src/events/event-schemas.js'
import { makeWorkDir, spawnCli, writePipeline } from '../support/cli-harness.js'
import { faultSeed, printFigures, seededRandom } from './support/fault-figures.js'
import { rerunUntilDone } from './support/rerun-until-done.js'

const KILLS = Number(process.env.RPO_FAULT_KILLS || 8)
const R = '{ cpus: 1, memory: 50M, time: 2m }'

const PIPELINE = `
name: crashy
project: vision
tasks:
  a: { command: "sleep 0.4", resources: ${R} }
  b: { command: "sleep 0.6", after: [a], matrix: { i: [1, 2, 3] }, resources: ${R} }
  flaky: { command: "test -e flaky.once || { touch flaky.once; exit 1; }", retries: { max: 2, backoff: 1s }, resources: ${R} }
  d: { command: "sleep 0.3", after: [b, flaky], resources: ${R} }
`

/** Replays `from → to` chains per key; returns the mismatches (a from that is not the previous to). */
function replay<E extends RpoEvent>(
  events: readonly E[],
  keyOf: (e: E) => string,
  start: string | null,
  step: (e: E) => { from: string | null; to: string },
): { last: Map<string, string | null>; breaks: string[] } {
  const last = new Map<string, string | null>()
  const breaks: string[] = []
  for (const e of events) {
    const key = keyOf(e)
    const { from, to } = step(e)
    const previous = last.has(key) ? (last.get(key) ?? null) : start
    if (previous !== from) breaks.push(`#${e.id} ${e.type} ${key}: from ${from}, but it was ${previous}`)
    last.set(key, to)
  }
  return { last, breaks }
}

describe('the event log after rpo is killed (local executor)', () => {
  it('agrees with the rows: every transition recorded once, none that did not happen', async () => {
    const dir = makeWorkDir('rpo-faults-events-')
    writeFileSync(
      path.join(dir, 'rpo.config.yaml'),
      'defaultCluster: here\nclusters:\n  here: { kind: local, cpus: 4, memory: 4G, killGrace: 1s, pollInterval: 100ms }\n',
    )
    writePipeline(dir, 'pipeline.yaml', PIPELINE)
    const seed = faultSeed()
    process.stdout.write(`faults: events-crash seed=${seed} (RPO_FAULT_SEED=${seed} replays it)\n`)
    const random = seededRandom(seed)

    // the worst moment for submissions first: killed after the scheduler took the jobs
    const injected = await spawnCli(dir, ['run', 'pipeline.yaml'], { RPO_FAULT_INJECT: 'crash-after-submit' }).closed()
    expect(injected.code).toBeNull()
    const outcome = await rerunUntilDone(dir, 'pipeline.yaml', (i) =>
      i < KILLS ? { kind: 'kill', afterMs: Math.floor(200 + random() * 1800) } : undefined,
    )

    const app = await createApp({ cwd: dir, env: {} })
    try {
      const runId = outcome.runId
      const run = await app.store.getRun(runId)
      const { snapshot } = await app.store.loadSnapshot(runId)
      const attempts = await app.store.listAttempts(runId)
      const events = await app.events.list({ runId, limit: 100_000 })

      const ids = events.map((e) => e.id)
      expect(new Set(ids).size).toBe(ids.length)
      expect(ids).toEqual([...ids].sort((x, y) => x - y))

      const attemptEvents = events.filter((e) => e.type === 'attempt.state')
      const attemptReplay = replay(
        attemptEvents,
        (e) => e.payload.submissionKey,
        null,
        (e) => e.payload,
      )
      const taskReplay = replay(
        events.filter((e) => e.type === 'task.state'),
        (e) => e.taskId ?? '',
        'pending',
        (e) => e.payload,
      )
      const runReplay = replay(
        events.filter((e) => e.type === 'run.state' || e.type === 'run.finished'),
        () => runId,
        'running',
        (e) => (e.type === 'run.finished' ? { from: e.payload.from, to: e.payload.state } : e.payload),
      )
      printFigures('events-crash', {
        seed,
        kills: outcome.hurts + 1,
        reruns: outcome.reruns,
        events: events.length,
        attempts: attempts.length,
        breaks: attemptReplay.breaks.length + taskReplay.breaks.length + runReplay.breaks.length,
        final: run.state,
      })
      expect([...attemptReplay.breaks, ...taskReplay.breaks, ...runReplay.breaks]).toEqual([])
      expect(Object.fromEntries(attemptReplay.last)).toEqual(
        Object.fromEntries(attempts.map((a) => [a.submissionKey, a.state])),
      )
      const moved = snapshot.tasks.filter((t) => t.state !== 'pending')
      expect(Object.fromEntries(taskReplay.last)).toEqual(Object.fromEntries(moved.map((t) => [t.id, t.state])))
      expect(runReplay.last.get(runId)).toBe(run.state)
      expect(run.state).toBe('succeeded')
      expect(events.filter((e) => e.type === 'run.started')).toHaveLength(1)
    } finally {
      await app.close()
    }
  }, 600_000)
})
