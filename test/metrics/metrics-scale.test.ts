/**
 * A scrape of a store with 1,000 runs (10 tasks each), 20,000 tick errors and 5,000 ledger charges,
 * on SQLite and PostgreSQL: every source read and counted right past the readers' pages (runs are
 * read a page at a time). It prints what the scrapes took; speed targets belong in `npm run bench`,
 * not in assertions on a shared machine.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { allocationAccount, type LedgerEntry, usageAccount } from '../../src/core/budget/budget-ledger.js'
import type { App } from '../../src/create-app.js'
import { createMetrics } from '../../src/metrics/create-metrics.js'
import { attemptOf } from '../support/fixtures.js'
import { postgresHarness, sqliteHarness } from '../support/store-dialects.js'
import { iso, NOW, openFixtureApp, seriesOf, tickError } from './metrics-fixture.js'

const RUNS = 1000
const RUNNING = 100
const MINUTE = 60_000
const PIPELINE = loadPipelineText(
  'scale.yaml',
  `name: scale
cluster: box
tasks:
  prep: { command: prep.sh, expected: 5m, resources: { time: 1h } }
  train:
    command: "train {{params.i}}"
    after: [prep]
    matrix: { i: [1, 2, 3, 4, 5, 6, 7, 8] }
    expected: 1h
    resources: { time: 2h, gpus: { count: 1, type: a100 } }
  eval: { command: eval.sh, after: [train], expected: 10m, resources: { time: 1h } }
`,
)

async function fill(app: App): Promise<void> {
  for (let i = 0; i < RUNS; i++) {
    const id = `r${String(i).padStart(4, '0')}`
    const project = i % 2 === 0 ? 'vision' : 'nlp'
    await app.store.createRun({
      id,
      pipeline: { ...PIPELINE.pipeline, project },
      instances: PIPELINE.instances,
      cluster: 'box',
      specHash: `hash-${id}`,
      sourceFile: PIPELINE.file,
      workDir: PIPELINE.workDir,
      now: iso(NOW - (RUNS - i) * MINUTE),
      user: 'ann',
    })
    const running = i >= RUNS - RUNNING
    const prep = attemptOf('prep', 1, {
      submissionKey: `rpo.${id}.prep.1`,
      state: 'succeeded',
      submittedAt: iso(NOW - 60 * MINUTE),
      startedAt: iso(NOW - 55 * MINUTE),
      endedAt: iso(NOW - 50 * MINUTE),
    })
    const train = attemptOf('train.0', 1, {
      submissionKey: `rpo.${id}.train.0.1`,
      state: running ? 'running' : 'succeeded',
      submittedAt: iso(NOW - 50 * MINUTE),
      startedAt: iso(NOW - 45 * MINUTE),
      endedAt: running ? null : iso(NOW - 5 * MINUTE),
    })
    await app.store.applyPlan(id, 'running', {
      taskUpdates: new Map([
        ['prep', { state: 'succeeded' as const, attempts: 1 }],
        ['train.0', { state: running ? ('active' as const) : ('succeeded' as const), attempts: 1 }],
      ]),
      attemptUpdates: new Map(),
      newTasks: [],
      newAttempts: [prep, train],
      events: [],
      runState: running ? 'running' : 'succeeded',
      now: iso(NOW - MINUTE),
    })
  }
  const charges: LedgerEntry[] = Array.from({ length: 5000 }, (_, i) => ({
    key: `charge:scale-${i}`,
    at: iso(NOW - i * MINUTE),
    kind: 'charge',
    from: allocationAccount(i % 2 === 0 ? 'vision' : 'nlp', 'ann'),
    to: usageAccount(i % 2 === 0 ? 'vision' : 'nlp', 'ann'),
    hours: { gpu: { a100: 0.01 }, cpu: 0.1, memoryGb: 0, billing: 0 },
    usageKey: `scale-${i}@x`,
    actor: 'rpo',
    note: 'scale',
  }))
  await app.store.budgets.recordCharges({ entries: charges })
  for (let batch = 0; batch < 20; batch++)
    await app.store.events.append(
      Array.from({ length: 1000 }, (_, i) => tickError(`c${i % 4}`, i % 3 === 0 ? 'observe' : 'act', NOW - i * 1000)),
    )
}

describe.each([sqliteHarness, postgresHarness].map((make) => ({ make, name: make().name })))(
  'a scrape of a $name store with 1,000 runs',
  ({ make, name }) => {
    const harness = make()
    let dir: string
    let app: App

    beforeAll(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'rpo-metrics-scale-'))
      const target = await harness.setUp()
      app = await openFixtureApp(dir, target.kind === 'sqlite' ? target.path : target.url)
      await fill(app)
    }, 300_000)

    afterAll(async () => {
      await app?.close()
      await harness.tearDown()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    it('counts every source right, and prints what the first and the next scrapes took', async () => {
      const metrics = createMetrics(app)
      const timed = async () => {
        const started = performance.now()
        const text = await metrics.render()
        return { ms: performance.now() - started, series: seriesOf(text) }
      }
      const first = await timed()
      const next = [await timed(), await timed(), await timed()]
      const warm = Math.max(...next.map((n) => n.ms))
      console.log(
        `[metrics-scale] ${name}: ${RUNS} runs (${RUNNING} running, 10 tasks each), 20,000 tick errors, ` +
          `5,000 charges: first scrape ${first.ms.toFixed(0)} ms, next scrapes ≤ ${warm.toFixed(0)} ms ` +
          `(reading ${first.series.get('rpo_metrics_read_seconds')} s / ${next[2]?.series.get('rpo_metrics_read_seconds')} s)`,
      )
      expect(first.series.get('rpo_runs{project="vision",state="running"}')).toBe(String(RUNNING / 2))
      expect(first.series.get('rpo_runs{project="nlp",state="succeeded"}')).toBe(String((RUNS - RUNNING) / 2))
      expect(first.series.get('rpo_tasks{project="vision",state="active"}')).toBe(String(RUNNING / 2))
      expect(next[2]?.series.get('rpo_tick_errors_total{cluster="c0",step="observe"}')).toBe(String(20 * 84))
      for (const source of ['runs', 'tasks', 'budgets', 'projections', 'ticks', 'tick-errors', 'deliveries'])
        expect(next[2]?.series.get(`rpo_metrics_source_up{source="${source}"}`), source).toBe('1')
    }, 60_000)
  },
)
