/**
 * The tick's report step: what a cluster round did, said — the planned events of each run as typed
 * events, a run's end, each run's tick recorded in the store (when, and the round's scheduler
 * commands), the round itself recorded for its cluster (duration, commands: /metrics reads them
 * from the store, possibly in another process), and one `cluster:tick` for the round.
 */
import type { PlannedEvent, TickPlan } from '../core/scheduling/plan-tick.js'
import { type RunState, TERMINAL_RUN_STATES } from '../core/scheduling/run-snapshot.js'
import type { RunStore } from '../store/run-store.js'
import type { EngineEvents } from './engine-events.js'

/** What one tick did to one run. */
export interface TickResult {
  readonly runId: string
  readonly state: RunState
  readonly submitted: number
  /** Task and attempt transitions this tick decided (0: nothing moved). */
  readonly changes: number
  /** Scheduler commands of the whole cluster round the run was planned in. */
  readonly schedulerCommands: number
  /** The run's jobs running or completing after this tick: an ending may come at any moment. */
  readonly jobsRunning?: number
}

/** A run's planned events as engine events (the run's own transitions are said by `run:finished`). */
export function emitPlanned(events: EngineEvents, runId: string, planned: readonly PlannedEvent[]): void {
  for (const event of planned) {
    if (event.type === 'run:finished' || event.type === 'run:resumed' || event.type === 'run:stopped') continue
    events.emit(event.type, { runId, taskId: event.taskId, message: event.message, data: event.data })
  }
}

export function emitFinished(events: EngineEvents, runId: string, before: RunState, plan: TickPlan): void {
  if (plan.runState !== before && TERMINAL_RUN_STATES.has(plan.runState))
    events.emit('run:finished', { runId, state: plan.runState })
}

export async function reportRound(
  deps: {
    readonly store: RunStore
    readonly events: EngineEvents
    readonly clusterName: string
    readonly now: string
    /** Wall time of the round so far, ms. */
    readonly durationMs: number
  },
  results: readonly TickResult[],
  commands: number,
): Promise<void> {
  for (const result of results) {
    try {
      await deps.store.recordTick(result.runId, deps.now, commands)
    } catch (error) {
      deps.events.tickError('report', error, { runId: result.runId, what: 'recording the tick' })
    }
    deps.events.emit('sync:tick', { runId: result.runId, state: result.state, schedulerCommands: commands })
  }
  try {
    await deps.store.clusterTicks.record({
      cluster: deps.clusterName,
      at: deps.now,
      durationMs: deps.durationMs,
      commands,
      runs: results.length,
    })
  } catch (error) {
    deps.events.tickError('report', error, { what: `recording the round of cluster ${deps.clusterName}` })
  }
  deps.events.emit('cluster:tick', {
    cluster: deps.clusterName,
    runs: results.length,
    submitted: results.reduce((sum, r) => sum + r.submitted, 0),
    schedulerCommands: commands,
  })
}
