/**
 * A store with known runs, tasks, budgets, charges, rounds and events, and what /metrics must say
 * of it (hand-computed, not read back through the code under test). Used against SQLite and
 * PostgreSQL, and through a real Prometheus.
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { loadConfig } from '../../src/config/load-config.js'
import { allocationAccount, type LedgerEntry, usageAccount } from '../../src/core/budget/budget-ledger.js'
import type { TaskState } from '../../src/core/scheduling/run-snapshot.js'
import { type App, createApp } from '../../src/create-app.js'
import type { NewRpoEvent } from '../../src/events/event-schemas.js'
import { attemptOf, newRunOf, pipelineOf } from '../support/fixtures.js'

/** The scrape's "now": mid-month, so every charge below is in the budgets' current period. */
export const NOW = Date.parse('2026-11-16T12:00:00.000Z')
const MINUTE = 60_000
export const iso = (ms: number) => new Date(ms).toISOString()

const CONFIG = `
defaultCluster: box
clusters:
  box: { kind: local, cpus: 4, memory: 8G }
projects:
  vision:
    deadline: ${iso(NOW + 3 * 60 * MINUTE)}
    gpuWeights: { v100: 0.5 }
    budgets:
      - { resource: gpu-hours, amount: 100, cap: hard }
      - { resource: gpu-hours, gpuType: a100, amount: 40, cap: soft }
      - { resource: cpu-hours, amount: 10 }
  nlp:
    budgets:
      - { resource: gpu-hours, amount: 50, user: ann }
`

// prep done, train running since 30 min on one a100 (expected 2 h, limit 4 h), eval waiting for it
const VISION = pipelineOf(`
name: vision
project: vision
cluster: box
tasks:
  prep: { command: prep.sh, expected: 10m, resources: { time: 1h } }
  train:
    command: train.sh
    after: [prep]
    expected: 2h
    resources: { time: 4h, gpus: { count: 1, type: a100 } }
  eval: { command: eval.sh, after: [train], expected: 30m, resources: { time: 1h } }
`)
const NLP = pipelineOf(`
name: nlp
project: nlp
cluster: box
tasks:
  tok: { command: tok.sh, expected: 20m, resources: { time: 1h } }
`)
const SCRATCH = pipelineOf(`
name: scratch
cluster: box
tasks:
  a: { command: a.sh }
  b: { command: b.sh, after: [a] }
`)

export interface FixtureApp {
  readonly app: App
  readonly dir: string
}

/** An app on `storeUrl` (a SQLite path or a postgres:// URL) whose clock is NOW. */
export async function openFixtureApp(dir: string, storeUrl: string): Promise<App> {
  writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
  const config = loadConfig({ configPath: path.join(dir, 'rpo.config.yaml'), env: { RPO_STORE: storeUrl } })
  return createApp({ config, clock: () => NOW })
}

/** Another run of the nlp pipeline, created now (running, its one task pending). */
export async function addNlpRun(app: App, id: string): Promise<void> {
  await createRun(app, id, NLP, 'ann', NOW)
}

async function createRun(app: App, id: string, loaded: typeof VISION, user: string | null, at: number) {
  await app.store.createRun(newRunOf(loaded, id, iso(at), { cluster: 'box', specHash: `hash-${id}`, user }))
}

function charge(
  key: string,
  [project, user]: [string, string],
  gpu: Record<string, number>,
  at: number,
  usageKey = key,
): LedgerEntry {
  return {
    key: `charge:${key}`,
    at: iso(at),
    kind: 'charge',
    from: allocationAccount(project, user),
    to: usageAccount(project, user),
    hours: { gpu, cpu: 0, memoryGb: 0, billing: 0 },
    usageKey,
    actor: 'rpo',
    note: 'fixture',
  }
}

export function tickError(cluster: string, step: string, at: number): NewRpoEvent {
  return {
    at: iso(at),
    type: 'tick.error',
    project: null,
    runId: null,
    taskId: null,
    payload: { cluster, step, code: 'ssh-timeout', message: 'timed out' },
  }
}

/** A delivery failure as the webhook sender records it; its type may be unknown to this rpo's schemas. */
export function webhookFailed(hook: string, at: number): NewRpoEvent {
  return {
    at: iso(at),
    type: 'webhook.failed',
    project: 'vision',
    runId: null,
    taskId: null,
    payload: { hook, eventId: 1, eventType: 'run.finished', attempts: 5, status: 503, error: 'Service Unavailable' },
  } as unknown as NewRpoEvent
}

export async function writeFixture(app: App): Promise<void> {
  const trainStart = NOW - 30 * MINUTE
  // vision v1: running
  await createRun(app, 'v1', VISION, 'alice', NOW - 60 * MINUTE)
  const prep = attemptOf('prep', 1, {
    submissionKey: 'rpo.v1.prep.1',
    state: 'succeeded',
    submittedAt: iso(NOW - 60 * MINUTE),
    startedAt: iso(NOW - 50 * MINUTE),
    endedAt: iso(trainStart - MINUTE),
    exitCode: 0,
  })
  const train = attemptOf('train', 1, {
    submissionKey: 'rpo.v1.train.1',
    state: 'running',
    submittedAt: iso(trainStart - MINUTE),
    startedAt: iso(trainStart),
  })
  const states: Record<string, TaskWrite> = {
    prep: { state: 'succeeded', attempts: 1, startedAt: iso(NOW - 50 * MINUTE), endedAt: iso(trainStart - MINUTE) },
    train: { state: 'active', attempts: 1, startedAt: iso(trainStart) },
  }
  await writePlan(app, 'v1', states, [prep, train], 'running')

  // vision v0: finished last week (its tasks are no longer in hand; the run still counts)
  await createRun(app, 'v0', VISION, 'alice', NOW - 7 * 24 * 60 * MINUTE)
  await writePlan(
    app,
    'v0',
    { prep: { state: 'succeeded' }, train: { state: 'succeeded' }, eval: { state: 'succeeded' } },
    [],
    'succeeded',
  )
  // nlp n1: running, nothing started; scratch s1 (no project): interrupted
  await createRun(app, 'n1', NLP, 'ann', NOW - 5 * MINUTE)
  await createRun(app, 's1', SCRATCH, null, NOW - 5 * MINUTE)
  await writePlan(app, 's1', {}, [], 'interrupted')

  await app.store.budgets.recordCharges({
    entries: [
      // v0's jobs: 10 a100-hours and 5 v100-hours (weighted 0.5: 2.5)
      charge('v0-train', ['vision', 'alice'], { a100: 10 }, NOW - 6 * 24 * 60 * MINUTE),
      charge('v0-prep', ['vision', 'alice'], { v100: 5 }, NOW - 6 * 24 * 60 * MINUTE),
      // v1's train, charged now for its first 30 minutes: it may use 3.5 more hours
      charge('v1-train', ['vision', 'alice'], { a100: 0.5 }, NOW, `rpo.v1.train.1@${iso(trainStart)}`),
      charge('n-ann', ['nlp', 'ann'], { untyped: 2 }, NOW - 60 * MINUTE),
      charge('n-bob', ['nlp', 'bob'], { untyped: 3 }, NOW - 60 * MINUTE),
    ],
  })

  await app.store.clusterTicks.record({ cluster: 'hpc', at: iso(NOW - MINUTE), durationMs: 1500, commands: 3, runs: 2 })
  await app.store.clusterTicks.record({ cluster: 'hpc', at: iso(NOW), durationMs: 500, commands: 2, runs: 1 })
  await app.store.clusterTicks.record({ cluster: 'box', at: iso(NOW), durationMs: 20, commands: 0, runs: 1 })

  await app.store.events.append([
    tickError('hpc', 'observe', NOW - 3 * MINUTE),
    tickError('hpc', 'observe', NOW - 2 * MINUTE),
    tickError('hpc', 'act', NOW - 2 * MINUTE),
    tickError('box', 'observe', NOW - MINUTE),
  ])
}

interface TaskWrite {
  readonly state: TaskState
  readonly attempts?: number
  readonly startedAt?: string
  readonly endedAt?: string
}

async function writePlan(
  app: App,
  runId: string,
  tasks: Record<string, TaskWrite>,
  newAttempts: ReturnType<typeof attemptOf>[],
  runState: 'running' | 'succeeded' | 'interrupted',
): Promise<void> {
  const written = await app.store.applyPlan(runId, 'running', {
    taskUpdates: new Map(
      Object.entries(tasks).map(([id, t]) => [
        id,
        {
          state: t.state,
          ...(t.attempts ? { attempts: t.attempts } : {}),
          ...(t.startedAt ? { startedAt: t.startedAt } : {}),
          ...(t.endedAt ? { endedAt: t.endedAt } : {}),
        },
      ]),
    ),
    attemptUpdates: new Map(),
    newTasks: [],
    newAttempts,
    events: [],
    runState,
    now: iso(NOW - MINUTE),
  })
  if (!written) throw new Error(`fixture: run ${runId} was not written`)
}

/** What the metrics must say of the fixture, one line per series (label order as exposed). */
export const EXPECTED_SERIES = [
  'rpo_runs{project="vision",state="running"} 1',
  'rpo_runs{project="vision",state="succeeded"} 1',
  'rpo_runs{project="nlp",state="running"} 1',
  'rpo_runs{project="",state="interrupted"} 1',
  'rpo_tasks{project="vision",state="succeeded"} 1',
  'rpo_tasks{project="vision",state="active"} 1',
  'rpo_tasks{project="vision",state="pending"} 1',
  'rpo_tasks{project="nlp",state="pending"} 1',
  'rpo_tasks{project="",state="pending"} 2',
  // 10 a100 + 5 v100 × 0.5 + 0.5 a100; the running train may use 1 GPU × (4 h − 0.5 h charged)
  'rpo_budget_limit_gpu_hours{project="vision",budget="vision.budgets[0]",user="",gpu_type="",cap="hard"} 100',
  'rpo_budget_used_gpu_hours{project="vision",budget="vision.budgets[0]",user="",gpu_type="",cap="hard"} 13',
  'rpo_budget_committed_gpu_hours{project="vision",budget="vision.budgets[0]",user="",gpu_type="",cap="hard"} 3.5',
  'rpo_budget_remaining_gpu_hours{project="vision",budget="vision.budgets[0]",user="",gpu_type="",cap="hard"} 83.5',
  'rpo_budget_limit_gpu_hours{project="vision",budget="vision.budgets[1]",user="",gpu_type="a100",cap="soft"} 40',
  'rpo_budget_used_gpu_hours{project="vision",budget="vision.budgets[1]",user="",gpu_type="a100",cap="soft"} 10.5',
  'rpo_budget_committed_gpu_hours{project="vision",budget="vision.budgets[1]",user="",gpu_type="a100",cap="soft"} 3.5',
  'rpo_budget_remaining_gpu_hours{project="vision",budget="vision.budgets[1]",user="",gpu_type="a100",cap="soft"} 26',
  // only ann's 2 of nlp's 5 GPU-hours count against her budget
  'rpo_budget_used_gpu_hours{project="nlp",budget="nlp.budgets[0]",user="ann",gpu_type="",cap="hard"} 2',
  'rpo_budget_remaining_gpu_hours{project="nlp",budget="nlp.budgets[0]",user="ann",gpu_type="",cap="hard"} 48',
  // every GPU-hour charged, by project and type, budget or not: bob's 3 count against no budget
  'rpo_project_gpu_hours_total{project="vision",gpu_type="a100"} 10.5',
  'rpo_project_gpu_hours_total{project="vision",gpu_type="v100"} 5',
  'rpo_project_gpu_hours_total{project="nlp",gpu_type="untyped"} 5',
  // the queue waited 10 min once on box (v1's prep: submitted NOW − 60 min, started NOW − 50 min):
  // train ends at NOW + 90 min (started 30 min ago, expected 2 h), eval queues 10 min and runs
  // 30 min: NOW + 130 min; the deadline is NOW + 180 min
  'rpo_project_deadline_slack_seconds{project="vision"} 3000',
  `rpo_project_projected_completion_timestamp_seconds{project="vision"} ${(NOW + 130 * MINUTE) / 1000}`,
  `rpo_project_deadline_timestamp_seconds{project="vision"} ${(NOW + 180 * MINUTE) / 1000}`,
  // nlp's tok: queues 10 min, runs 20 min
  `rpo_project_projected_completion_timestamp_seconds{project="nlp"} ${(NOW + 30 * MINUTE) / 1000}`,
  `rpo_cluster_last_tick_timestamp_seconds{cluster="hpc"} ${NOW / 1000}`,
  'rpo_cluster_last_tick_duration_seconds{cluster="hpc"} 0.5',
  'rpo_cluster_last_tick_scheduler_commands{cluster="hpc"} 2',
  'rpo_cluster_last_tick_runs{cluster="hpc"} 1',
  'rpo_cluster_ticks_total{cluster="hpc"} 2',
  'rpo_cluster_tick_seconds_total{cluster="hpc"} 2',
  'rpo_cluster_scheduler_commands_total{cluster="hpc"} 5',
  'rpo_cluster_ticks_total{cluster="box"} 1',
  'rpo_cluster_tick_seconds_total{cluster="box"} 0.02',
  'rpo_tick_errors_total{cluster="hpc",step="observe"} 2',
  'rpo_tick_errors_total{cluster="hpc",step="act"} 1',
  'rpo_tick_errors_total{cluster="box",step="observe"} 1',
] as const

/** The series of a rendering, by name and labels (the text before the value). */
export function seriesOf(text: string): Map<string, string> {
  const series = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    series.set(line.slice(0, at), line.slice(at + 1))
  }
  return series
}
