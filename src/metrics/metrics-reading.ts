/**
 * One scrape's reading of the store: everything `/metrics` reports, as plain values, computed from
 * the store at the moment of the scrape (`rpo serve` may run apart from the processes that tick,
 * so nothing is counted in memory but the event tallies, which only add what the store holds).
 *
 * Each source is read on its own: one that fails (a budget rule that cannot be read, the server
 * gone) is reported down and leaves the others standing, as an exporter's `*_up` does.
 */
import type { App } from '../create-app.js'
import type { EstimateHistoryCache } from '../monitor/estimate-history.js'
import type { ClusterTickStat } from '../store/cluster-tick-stats.js'
import type { StateCount } from '../store/metrics-queries.js'
import type { RunStore } from '../store/run-store.js'
import { type ProjectSlack, readProjectSlack } from './project-slack.js'

export const METRIC_SOURCES = [
  'runs',
  'tasks',
  'budgets',
  'usage',
  'projections',
  'ticks',
  'tick-errors',
  'deliveries',
] as const
export type MetricSource = (typeof METRIC_SOURCES)[number]

/** A GPU-hours budget rule where it stands (as `rpo budget report` shows it). */
export interface GpuBudgetReading {
  readonly project: string
  /** The rule: `vision.budgets[0]`, or `vision.set[2]` for one made with `rpo budget set`. */
  readonly budget: string
  readonly user: string | null
  readonly gpuType: string | null
  readonly cap: string
  /** The effective budget: amount − lent + borrowed. */
  readonly limit: number
  readonly used: number
  readonly committed: number
  readonly remaining: number
}

export interface MetricsReading {
  readonly runs: readonly StateCount[]
  readonly tasks: readonly StateCount[]
  readonly gpuBudgets: readonly GpuBudgetReading[]
  /** Budgets that cannot be judged, per project (their work is held). */
  readonly budgetProblems: ReadonlyMap<string, number>
  readonly projects: readonly ProjectSlack[]
  readonly gpuHours: GpuHoursTally
  readonly ticks: readonly ClusterTickStat[]
  readonly tickErrors: EventTally
  readonly deliveryFailures: EventTally
  readonly up: ReadonlyMap<MetricSource, boolean>
  readonly readSeconds: number
}

/**
 * Counts of one event type by payload fields, since this process's first scrape read them all:
 * each scrape adds the events stored after the last id it counted, so the totals never go down
 * (even if old events were pruned) and a scrape reads only what is new.
 */
export class EventTally {
  readonly type: string
  readonly fields: readonly string[]
  readonly #counts = new Map<string, { readonly fields: readonly string[]; count: number }>()
  #lastId = 0

  constructor(type: string, fields: readonly string[]) {
    this.type = type
    this.fields = fields
  }

  async update(store: RunStore): Promise<void> {
    const { counts, lastId } = await store.metrics.countEvents(this.type, this.fields, this.#lastId)
    for (const { fields, count } of counts) {
      const key = fields.join('\u0000')
      const entry = this.#counts.get(key)
      if (entry) entry.count += count
      else this.#counts.set(key, { fields, count })
    }
    this.#lastId = lastId
  }

  /** The totals, each with its field values in the order asked for. */
  totals(): { readonly fields: readonly string[]; readonly count: number }[] {
    return [...this.#counts.values()].map(({ fields, count }) => ({ fields, count }))
  }
}

/**
 * GPU-hours charged per project and GPU type, from the ledger's charges (what accounting said the
 * jobs used), whether or not the project has a GPU-hours budget: like EventTally, each scrape adds
 * only the charges written since the last one it read, so a counter's value never goes down.
 */
export class GpuHoursTally {
  readonly #hours = new Map<string, { readonly project: string; readonly gpuType: string; hours: number }>()
  #lastSeq = 0

  async update(store: RunStore): Promise<void> {
    for (;;) {
      const { lastSeq, charges } = await store.budgets.chargesAfter(this.#lastSeq)
      for (const { project, hours } of charges)
        for (const [gpuType, value] of Object.entries(hours.gpu)) {
          if (!Number.isFinite(value) || value <= 0) continue
          const key = `${project}\u0000${gpuType}`
          const entry = this.#hours.get(key)
          if (entry) entry.hours += value
          else this.#hours.set(key, { project, gpuType, hours: value })
        }
      if (lastSeq === this.#lastSeq) return
      this.#lastSeq = lastSeq
    }
  }

  totals(): { readonly project: string; readonly gpuType: string; readonly hours: number }[] {
    return [...this.#hours.values()].map(({ project, gpuType, hours }) => ({ project, gpuType, hours }))
  }
}

export interface ReadingState {
  readonly histories: EstimateHistoryCache
  readonly gpuHours: GpuHoursTally
  readonly tickErrors: EventTally
  readonly deliveryFailures: EventTally
}

export async function readMetrics(app: App, state: ReadingState, now: number): Promise<MetricsReading> {
  const started = performance.now()
  const up = new Map<MetricSource, boolean>()
  const attempt = async <T>(source: MetricSource, read: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      const value = await read()
      up.set(source, true)
      return value
    } catch {
      up.set(source, false)
      return fallback
    }
  }
  const [runs, tasks, budgets, , projects, ticks] = await Promise.all([
    attempt('runs', () => app.store.metrics.runsByState(), []),
    attempt('tasks', () => app.store.metrics.tasksByState(), []),
    attempt('budgets', () => readBudgets(app, now), { gpu: [], problems: new Map<string, number>() }),
    attempt('usage', () => state.gpuHours.update(app.store), undefined),
    attempt('projections', () => readProjectSlack(app.store, app.config, state.histories, now), []),
    attempt('ticks', () => app.store.clusterTicks.list(), []),
    attempt('tick-errors', () => state.tickErrors.update(app.store), undefined),
    attempt('deliveries', () => state.deliveryFailures.update(app.store), undefined),
  ])
  return {
    runs,
    tasks,
    gpuBudgets: budgets.gpu,
    budgetProblems: budgets.problems,
    projects,
    gpuHours: state.gpuHours,
    ticks,
    tickErrors: state.tickErrors,
    deliveryFailures: state.deliveryFailures,
    up,
    readSeconds: (performance.now() - started) / 1000,
  }
}

async function readBudgets(app: App, now: number): Promise<{ gpu: GpuBudgetReading[]; problems: Map<string, number> }> {
  const { statuses, problems } = await app.budgets.statuses(now)
  const gpu = statuses
    .filter((s) => s.resource === 'gpu-hours')
    .map((s) => ({
      project: s.project,
      budget: s.ruleId,
      user: s.user,
      gpuType: s.gpuType,
      cap: s.cap,
      limit: s.effective,
      used: s.used,
      committed: s.committed,
      remaining: s.remaining,
    }))
  const byProject = new Map<string, number>()
  for (const problem of problems) byProject.set(problem.project, (byProject.get(problem.project) ?? 0) + 1)
  return { gpu, problems: byProject }
}
