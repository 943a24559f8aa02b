/**
 * /metrics against real stores (SQLite and PostgreSQL) holding known runs, budgets, charges,
 * rounds and events: every value is the hand-computed one; counters read from the event log only
 * ever grow, count events of a type this rpo may not know, and a scrape reads the store afresh.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../src/create-app.js'
import { createMetrics, type RpoMetrics } from '../../src/metrics/create-metrics.js'
import { postgresHarness, sqliteHarness } from '../support/store-dialects.js'
import {
  addNlpRun,
  EXPECTED_SERIES,
  iso,
  NOW,
  openFixtureApp,
  seriesOf,
  tickError,
  webhookFailed,
  writeFixture,
} from './metrics-fixture.js'

const DIALECTS = [sqliteHarness, postgresHarness].map((make) => ({ make, name: make().name }))

describe.each(DIALECTS)('/metrics on a $name store', ({ make }) => {
  const harness = make()
  let dir: string
  let app: App
  let metrics: RpoMetrics

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rpo-metrics-'))
    const target = await harness.setUp()
    app = await openFixtureApp(dir, target.kind === 'sqlite' ? target.path : target.url)
    await writeFixture(app)
    metrics = createMetrics(app)
  })

  afterAll(async () => {
    await app?.close()
    await harness.tearDown()
    rmSync(dir, { recursive: true, force: true })
  })

  it('says what the store holds: runs, tasks, GPU-hour budgets, deadline slack, rounds, tick errors', async () => {
    const text = await metrics.render()
    expect(metrics.contentType).toBe('text/plain; version=0.0.4; charset=utf-8')
    const series = seriesOf(text)
    const expected = new Map(
      EXPECTED_SERIES.map((line) => [line.slice(0, line.lastIndexOf(' ')), line.slice(line.lastIndexOf(' ') + 1)]),
    )
    const actual = new Map([...expected.keys()].map((key) => [key, series.get(key)]))
    expect(Object.fromEntries(actual)).toEqual(Object.fromEntries(expected))
    // a finished run's tasks are not work in hand; a CPU-hours budget is not a GPU-hours series;
    // a project without a deadline has no slack
    expect([...series.keys()].filter((k) => k.startsWith('rpo_tasks{')).length).toBe(5)
    expect([...series.keys()].filter((k) => k.startsWith('rpo_budget_used_gpu_hours{')).length).toBe(3)
    expect(series.has('rpo_project_deadline_slack_seconds{project="nlp"}')).toBe(false)
    // no delivery has failed yet (nor has the event type ever been written): no series, source up
    expect([...series.keys()].some((k) => k.startsWith('rpo_event_delivery_failures_total'))).toBe(false)
    for (const source of ['runs', 'tasks', 'budgets', 'usage', 'projections', 'ticks', 'tick-errors', 'deliveries'])
      expect(series.get(`rpo_metrics_source_up{source="${source}"}`), source).toBe('1')
    expect(text).toContain('# TYPE rpo_project_gpu_hours_total counter')
    expect(text).toContain('# TYPE rpo_tick_errors_total counter')
    expect(text).toContain('# TYPE rpo_tasks gauge')
  })

  it('reads the store afresh at every scrape; event counters only add what is new', async () => {
    await app.store.events.append([
      tickError('hpc', 'observe', NOW),
      tickError('gpu2', 'admit', NOW),
      webhookFailed('ops', NOW),
      webhookFailed('ops', NOW),
      webhookFailed('billing', NOW),
    ])
    await app.store.clusterTicks.record({ cluster: 'box', at: iso(NOW), durationMs: 30, commands: 4, runs: 2 })
    await addNlpRun(app, 'n2')
    const series = seriesOf(await metrics.render())
    expect(series.get('rpo_tick_errors_total{cluster="hpc",step="observe"}')).toBe('3')
    expect(series.get('rpo_tick_errors_total{cluster="hpc",step="act"}')).toBe('1')
    expect(series.get('rpo_tick_errors_total{cluster="gpu2",step="admit"}')).toBe('1')
    expect(series.get('rpo_event_delivery_failures_total{hook="ops"}')).toBe('2')
    expect(series.get('rpo_event_delivery_failures_total{hook="billing"}')).toBe('1')
    expect(series.get('rpo_cluster_ticks_total{cluster="box"}')).toBe('2')
    expect(series.get('rpo_cluster_scheduler_commands_total{cluster="box"}')).toBe('4')
    expect(series.get('rpo_cluster_last_tick_scheduler_commands{cluster="box"}')).toBe('4')
    expect(series.get('rpo_runs{project="nlp",state="running"}')).toBe('2')
    expect(series.get('rpo_tasks{project="nlp",state="pending"}')).toBe('2')

    // nothing new: the same totals, not counted twice
    const again = seriesOf(await metrics.render())
    expect(again.get('rpo_tick_errors_total{cluster="hpc",step="observe"}')).toBe('3')
    expect(again.get('rpo_event_delivery_failures_total{hook="ops"}')).toBe('2')

    // a second metrics object (another `rpo serve`) counts the same from the store alone
    const other = seriesOf(await createMetrics(app).render())
    expect(other.get('rpo_tick_errors_total{cluster="hpc",step="observe"}')).toBe('3')
    expect(other.get('rpo_event_delivery_failures_total{hook="ops"}')).toBe('2')
  })

  it('serves concurrent scrapes from one reading and exposes the prom-client registry', async () => {
    const [a, b] = await Promise.all([metrics.render(), metrics.render()])
    // the same reading: even the time it took is the same figure
    expect(seriesOf(a)).toEqual(seriesOf(b))
    const json = await metrics.registry.getMetricsAsJSON()
    const ticks = json.find((m) => m.name === 'rpo_cluster_ticks_total')
    expect(ticks?.type).toBe('counter')
    expect(ticks?.values.find((v) => v.labels.cluster === 'hpc')?.value).toBe(2)
  })
})

describe('/metrics on a damaged store', () => {
  const harness = sqliteHarness()
  let dir: string
  let app: App
  let storePath: string

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rpo-metrics-'))
    const target = await harness.setUp()
    storePath = target.kind === 'sqlite' ? target.path : ''
    app = await openFixtureApp(dir, storePath)
    await writeFixture(app)
  })

  afterAll(async () => {
    await app?.close()
    await harness.tearDown()
    rmSync(dir, { recursive: true, force: true })
  })

  it('reports a budget that cannot be judged as a problem, and the other budgets as usual', async () => {
    const db = new Database(storePath)
    db.prepare(
      `update ledger_entries set hours_json = '{"gpu":{"a100":"ten"},"cpu":0,"memoryGb":0,"billing":0}' where key = 'charge:n-ann'`,
    ).run()
    db.close()
    const series = seriesOf(await createMetrics(app).render())
    // nlp's one budget has no status (its work waits): a problem, not a number; vision's stand
    expect(series.get('rpo_budget_problems{project="nlp"}')).toBe('1')
    expect([...series.keys()].some((k) => k.startsWith('rpo_budget_used_gpu_hours{project="nlp"'))).toBe(false)
    expect(
      series.get(
        'rpo_budget_used_gpu_hours{project="vision",budget="vision.budgets[0]",user="",gpu_type="",cap="hard"}',
      ),
    ).toBe('13')
    expect(series.get('rpo_metrics_source_up{source="budgets"}')).toBe('1')
  })

  it('reports an unreadable source down and keeps the others', async () => {
    const db = new Database(storePath)
    db.prepare("update runs set pipeline_json = '{not json' where id = 'v1'").run()
    db.close()
    const series = seriesOf(await createMetrics(app).render())
    for (const source of ['projections', 'budgets'])
      expect(series.get(`rpo_metrics_source_up{source="${source}"}`), source).toBe('0')
    const fromProjections = (k: string) =>
      (k.startsWith('rpo_project_') && !k.startsWith('rpo_project_gpu_hours_total')) || k.startsWith('rpo_budget_')
    expect([...series.keys()].some(fromProjections)).toBe(false)
    // the charges are read on their own: a run that cannot be read does not hide them
    expect(series.get('rpo_project_gpu_hours_total{project="vision",gpu_type="a100"}')).toBe('10.5')
    for (const source of ['runs', 'tasks', 'usage', 'ticks', 'tick-errors', 'deliveries'])
      expect(series.get(`rpo_metrics_source_up{source="${source}"}`), source).toBe('1')
    expect(series.get('rpo_tasks{project="vision",state="active"}')).toBe('1')
    expect(series.get('rpo_tick_errors_total{cluster="hpc",step="observe"}')).toBe('2')
  })
})
