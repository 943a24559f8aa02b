/**
 * The cluster tick's decision (issue #11): one `planCluster` call over 1,000 runs × 20 tasks on a
 * simulated cluster (native dependencies, no capacity: the scheduler queues), against the target
 * p99 < 100 ms and RSS < 500 MB; and the old way, `planTick` per run, summed. Two rounds: one in the
 * middle of work (jobs ending, ready work, retries due) and one where nothing changed. Each run's
 * pipeline is its own object, as the store's rows give them. A daemon's RunStore keeps each run's parsed
 * pipeline between rounds (PipelineCache), so its rounds are the 'pipelines kept' figures; a process's
 * first round (`rpo sync` runs one) parses every pipeline: the 'loaded afresh' figures.
 * Runs alone (`node --import tsx bench/plan-cluster-bench.ts`) or from run.ts.
 */
import { loadavg } from 'node:os'
import { pathToFileURL } from 'node:url'
import { type LoadedPipeline, loadPipelineText } from '../src/config/load-pipeline.js'
import type { JobState } from '../src/core/job/job-state.js'
import type { ResolvedPipeline } from '../src/core/pipeline/resolved-pipeline.js'
import { type ClusterPlanOptions, planCluster, type RunPlanInput } from '../src/core/scheduling/plan-cluster.js'
import { planTick } from '../src/core/scheduling/plan-tick.js'
import {
  type AttemptObservation,
  type AttemptSnapshot,
  newTaskSnapshot,
  type RunSnapshot,
} from '../src/core/scheduling/run-snapshot.js'
import type { PlanOptions, TickPlan } from '../src/core/scheduling/tick-plan.js'
import { asNativeJobId } from '../src/scheduler/scheduler-adapter.js'

const NOW = Date.parse('2026-12-01T12:00:00.000Z')
const RUNS = 1000
const ROUNDS = 60
const WARMUP = 8
const TARGET_MS = 100
const TARGET_RSS_MB = 500

/** Three 20-task shapes: a sweep between two steps, a chain, a staged sweep. */
const SHAPES = [
  `name: sweep
tasks:
  prep: { command: "prep", expected: 5m }
  lint: { command: "lint", expected: 1m }
  train: { command: "train {{params.i}}", after: [prep], expected: 1h, retries: 2, matrix: { i: [${range(16).join(', ')}] } }
  evaluate: { command: "eval", after: [train], expected: 10m }
  report: { command: "report", after: [evaluate, lint] }
`,
  `name: chain\ntasks:\n${range(20)
    .map((i) => `  s${i}: { command: "step ${i}", retries: 1${i > 0 ? `, after: [s${i - 1}]` : ''} }`)
    .join('\n')}\n`,
  `name: stages\ntasks:\n${range(4)
    .map(
      (g) =>
        `  g${g}: { command: "stage {{params.k}}", matrix: { k: [0, 1, 2, 3, 4] }${g > 0 ? `, after: [g${g - 1}]` : ''} }`,
    )
    .join('\n')}\n`,
]

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i)
}

/** A fixed-seed LCG: the same world every run, so figures compare across commits. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0
    return state / 2 ** 32
  }
}

const LIMITS = { now: NOW, capacity: null, maxActive: 10_000, lostAfterMissedPolls: 3, nativeDependencies: true }
const TICK: PlanOptions = LIMITS
const OPTIONS: ClusterPlanOptions = { ...LIMITS, cluster: 'sim' }

/** One round of a world: every run's snapshot and what the scheduler said about its attempts. */
type Round = RunPlanInput[]

/** Apply a plan the way the engine does: patches, new tasks, new attempts with a job id. */
function apply(snapshot: RunSnapshot, plan: TickPlan, now: number): RunSnapshot {
  const tasks = [...snapshot.tasks, ...plan.newTasks.map(newTaskSnapshot)].map((task) => {
    const patch = plan.taskUpdates.get(task.id)
    return patch ? { ...task, ...patch } : task
  })
  const latest = new Map(snapshot.latestAttempts.map((a) => [a.taskId, a]))
  for (const [taskId, attempt] of latest) {
    const patch = plan.attemptUpdates.get(attempt.submissionKey)
    if (patch) latest.set(taskId, { ...attempt, ...patch })
  }
  for (const s of plan.submissions) {
    latest.set(s.taskId, {
      taskId: s.taskId,
      attempt: s.attempt,
      submissionKey: s.submissionKey,
      jobId: `${1000 + latest.size}`,
      state: 'pending',
      nativeState: null,
      exitCode: null,
      reason: null,
      submittedAt: new Date(now).toISOString(),
      startedAt: null,
      endedAt: null,
      missedPolls: 0,
      nodes: [],
    })
  }
  return { ...snapshot, state: plan.runState, tasks, latestAttempts: [...latest.values()] }
}

/** What squeue/sacct say about every attempt in flight; `change` picks an ending (or none). */
function observe(snapshot: RunSnapshot, now: number, change: (a: AttemptSnapshot) => JobState | null) {
  const observations: AttemptObservation[] = []
  for (const attempt of snapshot.latestAttempts) {
    const task = snapshot.tasks.find((t) => t.id === attempt.taskId)
    if (task?.state !== 'active' || attempt.endedAt !== null) continue
    const state = change(attempt) ?? (attempt.state === 'submitting' ? 'pending' : (attempt.state as JobState))
    const ended = state !== 'pending' && state !== 'running'
    observations.push({
      kind: 'observed',
      submissionKey: attempt.submissionKey,
      job: {
        jobId: asNativeJobId(attempt.jobId ?? '0'),
        state,
        nativeState: state.toUpperCase(),
        exitCode: state === 'succeeded' ? 0 : state === 'failed' ? 1 : null,
        reason: null,
        startedAt:
          state === 'pending' ? null : new Date(attempt.startedAt ? Date.parse(attempt.startedAt) : now - 1000),
        endedAt: ended ? new Date(now) : null,
        nodes: state === 'pending' ? [] : ['n1'],
      },
      outputs: state === 'succeeded' ? {} : null,
      outputsError: null,
    })
  }
  return observations
}

/**
 * 1,000 runs moved forward a random number of rounds (jobs start, most succeed, a few fail and
 * retry), the pipeline copied per run (JSON, as stored). `middle`: a round where jobs end and
 * ready work waits; `quiet`: the next round, where the scheduler reports nothing new.
 */
export function buildWorld(runs = RUNS): { middle: Round; quiet: Round } {
  const next = random(11)
  const loaded: LoadedPipeline[] = SHAPES.map((yaml, i) => loadPipelineText(`shape${i}.yaml`, yaml))
  const snapshots: RunSnapshot[] = []
  const ranks: number[] = []
  for (let r = 0; r < runs; r++) {
    const shape = loaded[r % loaded.length] as LoadedPipeline
    const pipeline = JSON.parse(JSON.stringify(shape.pipeline)) as ResolvedPipeline
    let snapshot: RunSnapshot = {
      id: `r${String(r).padStart(4, '0')}`,
      state: 'running',
      pipeline,
      tasks: shape.instances.map(newTaskSnapshot),
      latestAttempts: [],
    }
    let now = NOW - 3_600_000
    const rounds = Math.floor(next() * 12)
    for (let k = 0; k < rounds && snapshot.state === 'running'; k++) {
      const observations = observe(snapshot, now, (a) =>
        a.state === 'pending' ? 'running' : next() < 0.5 ? (next() < 0.93 ? 'succeeded' : 'failed') : null,
      )
      snapshot = apply(snapshot, planTick(snapshot, observations, { ...TICK, now }), now)
      now += 60_000
    }
    snapshots.push(snapshot)
    ranks.push(Math.floor(next() * 4))
  }
  const middle: Round = snapshots.map((snapshot, r) => ({
    snapshot,
    observations: observe(snapshot, NOW, (a) =>
      a.state === 'pending'
        ? next() < 0.5
          ? 'running'
          : null
        : next() < 0.15
          ? next() < 0.9
            ? 'succeeded'
            : 'failed'
          : null,
    ),
    cluster: 'sim',
    rank: ranks[r] as number,
  }))
  const after = planCluster(middle, OPTIONS)
  const quiet: Round = middle.map((run) => {
    const snapshot = apply(run.snapshot, after.get(run.snapshot.id) as TickPlan, NOW)
    return { ...run, snapshot, observations: observe(snapshot, NOW + 30_000, () => null) }
  })
  return { middle, quiet }
}

interface Figures {
  readonly medianMs: number
  readonly p95Ms: number
  readonly p99Ms: number
  readonly maxRssMb: number
}

/** `prepare` runs untimed before each call. */
function time(fn: () => unknown, prepare: () => void = () => {}): Figures {
  for (let i = 0; i < WARMUP; i++) fn()
  const times: number[] = []
  let maxRss = process.memoryUsage().rss
  for (let i = 0; i < ROUNDS; i++) {
    prepare()
    const start = performance.now()
    fn()
    times.push(performance.now() - start)
    maxRss = Math.max(maxRss, process.memoryUsage().rss)
  }
  times.sort((a, b) => a - b)
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] as number
  return { medianMs: at(0.5), p95Ms: at(0.95), p99Ms: at(0.99), maxRssMb: maxRss / 2 ** 20 }
}

function print(name: string, f: Figures): void {
  console.log(
    `${name.padEnd(46)} median ${f.medianMs.toFixed(1).padStart(7)} ms  p95 ${f.p95Ms.toFixed(1).padStart(7)} ms  p99 ${f.p99Ms.toFixed(1).padStart(7)} ms  max RSS ${f.maxRssMb.toFixed(0).padStart(4)} MB  p99/${TARGET_MS} ms ${(f.p99Ms / TARGET_MS).toFixed(2)}×`,
  )
}

function describe(round: Round): string {
  let tasks = 0
  let active = 0
  let observations = 0
  for (const run of round) {
    tasks += run.snapshot.tasks.length
    active += run.snapshot.tasks.filter((t) => t.state === 'active').length
    observations += run.observations.length
  }
  return `${round.length} runs, ${tasks} tasks, ${active} active, ${observations} observations`
}

export async function benchPlanCluster(): Promise<void> {
  console.log(`\n## plan-cluster: one decision over ${RUNS} runs × 20 tasks (load ${loadavg()[0]?.toFixed(1)})`)
  const { middle, quiet } = buildWorld()
  for (const [name, round] of [
    ['middle of work', middle],
    ['nothing changed', quiet],
  ] as const) {
    console.log(`${name}: ${describe(round)}`)
    const cluster = time(() => planCluster(round, OPTIONS))
    print(`  planCluster (one call, ${ROUNDS} rounds)`, cluster)
    // a process's first round: every pipeline parsed from its row, none seen before
    let fresh = round
    const reloaded = time(
      () => planCluster(fresh, OPTIONS),
      () => {
        fresh = round.map((run) => ({
          ...run,
          snapshot: { ...run.snapshot, pipeline: JSON.parse(JSON.stringify(run.snapshot.pipeline)) },
        }))
      },
    )
    print('  planCluster, pipelines loaded afresh (first round)', reloaded)
    const perRun = time(() => {
      for (const run of round) planTick(run.snapshot, run.observations, TICK)
    })
    print('  planTick per run, summed', perRun)
    const verdict = (f: Figures) => (f.p99Ms < TARGET_MS && f.maxRssMb < TARGET_RSS_MB ? 'ok' : 'MISSED')
    console.log(
      `  target p99 < ${TARGET_MS} ms, RSS < ${TARGET_RSS_MB} MB → ${verdict(cluster)} (a daemon's rounds, pipelines kept), ${verdict(reloaded)} (a first round, loaded afresh); planCluster/planTick median ${(cluster.medianMs / perRun.medianMs).toFixed(2)}×`,
    )
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchPlanCluster()
