/**
 * One cluster tick: the unit of work is the cluster, not the run. Under the cluster's lease
 * (short, renewed by a heartbeat while the round runs), every `running` run with work on the
 * cluster is observed ONCE, charged, ranked, admitted, planned together, persisted (attempt intents
 * written `submitting` before anything is sent), acted on ONCE (one cancel, one submission batch),
 * warned, enforced once and reported. Each step is its own module; this file only composes them.
 *
 * A run whose tasks span clusters is ticked by each of its clusters for its own tasks, never by two
 * at once: its `run:<id>` lease is taken for the round, and a run held elsewhere waits for the next.
 */
import type { BudgetGate, BudgetRoundGate } from '../budget/budget-service.js'
import { StoreError } from '../core/errors.js'
import type { PlanOptions } from '../core/scheduling/plan-tick.js'
import type { Capacity } from '../core/scheduling/run-snapshot.js'
import type { SchedulerAdapter } from '../scheduler/scheduler-adapter.js'
import type { RunStore } from '../store/run-store.js'
import { actRound } from './act-step.js'
import { admitRound, type RoundAdmission } from './admit-step.js'
import { awaitedAccounting, chargeRound } from './charge-step.js'
import { type CheckpointWatchDeps, reportCheckpoints, warnBeforeLimit } from './checkpoint-watch.js'
import { enforceRound } from './enforce-step.js'
import type { EngineEvents } from './engine-events.js'
import type { GpuPlacementDeps } from './gpu-placement-step.js'
import type { JobLayout } from './job-submission.js'
import { clusterLease, type Leases, runLease } from './leases.js'
import type { NotificationCheck } from './notify-step.js'
import { observeRound, type RoundRun } from './observe-step.js'
import { persistRound } from './persist-step.js'
import { planRound } from './plan-step.js'
import { emitFinished, emitPlanned, reportRound, type TickResult } from './report-step.js'
import { clustersOf } from './run-clusters.js'

export interface ClusterTickDeps {
  readonly store: RunStore
  readonly adapter: SchedulerAdapter
  readonly clusterName: string
  readonly layout: JobLayout
  readonly readFile: (file: string) => Promise<string | null>
  readonly events: EngineEvents
  readonly leases: Leases
  readonly clock: () => number
  readonly leaseMs: number
  /** Commands run on the target so far (the cluster's CountingTransport). */
  readonly commandsRun: () => number
  readonly capacity: Capacity | null
  readonly maxActive: number
  readonly planOptions: () => Omit<PlanOptions, 'now' | 'maxActive' | 'admit'>
  readonly checkpointWatch: CheckpointWatchDeps
  readonly budget?: BudgetGate
  /** Each run's rank for this round (higher first); absent or failing: all equal. */
  readonly rankRuns?: (
    runs: readonly RoundRun[],
    now: number,
    round?: BudgetRoundGate | null,
  ) => Promise<ReadonlyMap<string, number>>
  /** Deadline, bottleneck and budget notifications of the round's runs still running (notify-step.ts). */
  readonly notify?: NotificationCheck
  /** GPU placement of the round's jobs against the GPUs free now (gpu-placement-step.ts). */
  readonly placement?: GpuPlacementDeps
}

export interface ClusterTickResult {
  readonly cluster: string
  /** Who held the cluster's lease when it was not ours (nothing was done), else null. */
  readonly heldBy: string | null
  readonly runs: readonly TickResult[]
  /** Runs skipped this round: another process plans them on another of their clusters. */
  readonly skipped: readonly string[]
  readonly submitted: number
  readonly schedulerCommands: number
}

export async function tickCluster(deps: ClusterTickDeps): Promise<ClusterTickResult> {
  const lease = clusterLease(deps.clusterName)
  const holder = await deps.leases.take(lease, deps.leaseMs)
  if (holder !== null)
    return { cluster: deps.clusterName, heldBy: holder, runs: [], skipped: [], submitted: 0, schedulerCommands: 0 }
  const runLeases: string[] = []
  const stopHeartbeat = deps.leases.heartbeat(() => [lease, ...runLeases], deps.leaseMs)
  try {
    return await round(deps, lease, runLeases)
  } finally {
    stopHeartbeat()
    for (const name of runLeases) await deps.leases.release(name).catch(() => undefined)
  }
}

async function round(deps: ClusterTickDeps, lease: string, runLeases: string[]): Promise<ClusterTickResult> {
  const { store, adapter, events, clusterName } = deps
  // real elapsed time, not the engine's clock: a simulated clock may jump while the round runs
  const startedMs = performance.now()
  const commandsBefore = deps.commandsRun()
  const { runs, skipped } = await loadRound(deps, runLeases)
  // concluded jobs whose accounting figure budgets await ride along in the one poll, for charging only
  const awaited = deps.budget ? await awaitedAccounting(deps, deps.clock()) : []
  const { byRun: observations, accounting } = await observeRound(
    { ...deps.layout, ...deps, events },
    runs,
    awaited.map((w) => w.jobId),
    new Set(deps.budget ? runs.filter(({ run }) => run.project !== null).map(({ run }) => run.id) : []),
  )
  const now = deps.clock()
  if (deps.budget)
    await chargeRound({ budget: deps.budget, events, now }, runs, observations, { awaited, observed: accounting })
  const budgetRound = deps.budget ? await beginBudgetRound(deps.budget, events, now) : null
  const ranks = await rank(deps, runs, now, budgetRound && !('failed' in budgetRound) ? budgetRound : null)
  const admission: RoundAdmission | null = budgetRound
    ? await admitRound(
        { round: budgetRound, canHold: adapter.capabilities.hold, events, leases: deps.leases, now },
        runs,
      )
    : null
  let persisted: Awaited<ReturnType<typeof persistRound<RoundRun>>>
  const fence = () => deps.leases.confirm([lease, ...runLeases], deps.leaseMs)
  try {
    // the admission is released by the finally below, whether the round plans or stands down
    const lostBeforePlan = await fence()
    if (lostBeforePlan !== null) return standDown(deps, lostBeforePlan, skipped, commandsBefore)
    const plans = planRound(
      runs.map(({ run, snapshot }) => ({
        snapshot,
        observations: observations.get(run.id) ?? [],
        cluster: run.cluster,
        rank: ranks.get(run.id) ?? 0,
      })),
      {
        ...deps.planOptions(),
        cluster: clusterName,
        now: deps.clock(),
        maxActive: deps.maxActive,
        ...(admission?.admit ? { admit: admission.admit } : {}),
      },
    )
    persisted = await persistRound(store, runs, plans, observations, iso(deps.clock()))
  } finally {
    await admission?.release()
  }
  for (const { run, plan } of persisted.applied) emitPlanned(events, run.id, plan.events)
  // the intents are written `submitting`: a successor that took over meanwhile finds and sends them
  const lostBeforeAct = await fence()
  if (lostBeforeAct !== null) return standDown(deps, lostBeforeAct, skipped, commandsBefore)
  const submitted = await actRound(
    {
      store,
      adapter,
      layout: deps.layout,
      events,
      now: () => iso(deps.clock()),
      ...(deps.placement ? { placement: deps.placement } : {}),
    },
    persisted.applied.map((r) => ({ ...r, observations: observations.get(r.run.id) ?? [] })),
  )
  for (const { run, snapshot, plan } of persisted.applied) {
    emitFinished(events, run.id, snapshot.state, plan)
    await warnBeforeLimit(deps.checkpointWatch, run, snapshot, plan.attemptUpdates)
    await reportCheckpoints(deps.checkpointWatch, run, snapshot, plan.attemptUpdates)
  }
  if (budgetRound && !('failed' in budgetRound))
    await enforceRound({ round: budgetRound, adapter, clusterName, events })
  const commands = deps.commandsRun() - commandsBefore
  const results: TickResult[] = [
    ...persisted.applied.map(({ run, snapshot, plan }) => ({
      runId: run.id,
      state: plan.runState,
      submitted: submitted.get(run.id) ?? 0,
      changes: plan.taskUpdates.size + plan.attemptUpdates.size,
      schedulerCommands: commands,
      jobsRunning: snapshot.latestAttempts.filter((a) => {
        const state = plan.attemptUpdates.get(a.submissionKey)?.state ?? a.state
        return state === 'running' || state === 'completing'
      }).length,
    })),
    ...(await Promise.all(
      persisted.refused.map(async ({ run }) => ({
        runId: run.id,
        state: (await store.getRun(run.id)).state,
        submitted: 0,
        changes: 0,
        schedulerCommands: commands,
      })),
    )),
  ]
  await reportRound(
    { store, events, clusterName, now: iso(deps.clock()), durationMs: performance.now() - startedMs },
    results,
    commands,
  )
  if (deps.notify) {
    const stillRunning = persisted.applied.filter(({ plan }) => plan.runState === 'running')
    await deps.notify(clusterName, stillRunning, deps.clock()).catch((error: unknown) => {
      events.tickError('notify', error, { what: 'checking deadlines and budgets to notify' })
    })
  }
  return {
    cluster: clusterName,
    heldBy: null,
    runs: results,
    skipped,
    submitted: results.reduce((sum, r) => sum + r.submitted, 0),
    schedulerCommands: commands,
  }
}

/** A round whose lease was taken over while it ran (its holder was paused past the lease): it does nothing more. */
function standDown(
  deps: ClusterTickDeps,
  holder: string,
  skipped: readonly string[],
  commandsBefore: number,
): ClusterTickResult {
  deps.events.tickError(
    'act',
    new StoreError(
      'lease-lost',
      `lost the lease of cluster ${deps.clusterName} to ${holder} during the round: it stands down`,
    ),
  )
  return {
    cluster: deps.clusterName,
    heldBy: holder,
    runs: [],
    skipped,
    submitted: 0,
    schedulerCommands: deps.commandsRun() - commandsBefore,
  }
}

/** The running runs with work on this cluster, each with its snapshot; multi-cluster runs under their lease. */
async function loadRound(deps: ClusterTickDeps, runLeases: string[]): Promise<{ runs: RoundRun[]; skipped: string[] }> {
  const records = await deps.store.listRuns({ limit: 10_000, states: ['running'] })
  const runs: RoundRun[] = []
  const skipped: string[] = []
  for (const record of records) {
    const clusters = clustersOf(record)
    if (!clusters.includes(deps.clusterName)) continue
    if (clusters.length > 1) {
      const name = runLease(record.id)
      if ((await deps.leases.take(name, deps.leaseMs)) !== null) {
        skipped.push(record.id)
        continue
      }
      runLeases.push(name)
    }
    const { run, snapshot } = await deps.store.loadSnapshot(record.id)
    // a run being stopped (or stopped) since the listing is left to whoever stops it: see stop-run.ts
    if (snapshot.state === 'running') runs.push({ run, snapshot })
  }
  return { runs, skipped }
}

async function rank(
  deps: ClusterTickDeps,
  runs: readonly RoundRun[],
  now: number,
  round: BudgetRoundGate | null,
): Promise<ReadonlyMap<string, number>> {
  if (!deps.rankRuns || runs.length < 2) return new Map()
  try {
    return await deps.rankRuns(runs, now, round)
  } catch (error) {
    deps.events.tickError('rank', error, { what: 'ranking runs' })
    return new Map()
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

/** The round's one budget judgement; when it cannot be begun, budgeted work waits (fail closed). */
async function beginBudgetRound(
  budget: BudgetGate,
  events: EngineEvents,
  now: number,
): Promise<BudgetRoundGate | { readonly failed: string }> {
  try {
    return await budget.beginRound(now)
  } catch (error) {
    events.tickError('admit', error, { what: 'checking budgets' })
    return { failed: error instanceof Error ? error.message : String(error) }
  }
}
