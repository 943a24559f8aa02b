/**
 * rpo's Prometheus metrics (prom-client): what `rpo serve` answers at GET /metrics. Every value is
 * read from the store when scraped — the server may run on another host than the daemon, sharing
 * only PostgreSQL — by a few aggregate queries (metrics-reading.ts), once per scrape however many
 * families ask: each family's collect() awaits the one reading under way.
 *
 * Names follow Prometheus conventions: `rpo_` prefix, the unit last (`_seconds`, `_gpu_hours`),
 * `_total` on counters; labels are low-cardinality (project, state, cluster, step, budget rule,
 * webhook), never a run id.
 */
import { Counter, Gauge, Registry } from 'prom-client'
import type { App } from '../create-app.js'
import { EstimateHistoryCache } from '../monitor/estimate-history.js'
import { EventTally, GpuHoursTally, METRIC_SOURCES, type MetricsReading, readMetrics } from './metrics-reading.js'

export interface MetricsOptions {
  /** The instant budgets and projections are computed at (ms since the epoch). @default app.clock */
  readonly clock?: () => number
  /** How long one read of the estimates' history (projections) is reused, in ms. @default 60000 */
  readonly historyMaxAgeMs?: number
}

export interface RpoMetrics {
  /** The Content-Type of `render()`'s text (Prometheus text format 0.0.4). */
  readonly contentType: string
  /** Read the store and render every metric in the text exposition format. */
  render(): Promise<string>
  /** The prom-client registry (its collect() callbacks read the store too): merge it with others. */
  readonly registry: Registry
}

/** The event type webhooks record a delivery they gave up on as (written by the webhook sender). */
export const DELIVERY_FAILURE_EVENT = 'webhook.failed'

export function createMetrics(app: App, options: MetricsOptions = {}): RpoMetrics {
  const clock = options.clock ?? app.clock
  const registry = new Registry()
  const state = {
    histories: new EstimateHistoryCache(app.store, options.historyMaxAgeMs ?? 60_000),
    gpuHours: new GpuHoursTally(),
    tickErrors: new EventTally('tick.error', ['cluster', 'step']),
    deliveryFailures: new EventTally(DELIVERY_FAILURE_EVENT, ['hook']),
  }
  let reading: Promise<MetricsReading> | null = null
  // registry.metrics() calls every collect() in one synchronous pass: they all join the same read
  const current = (): Promise<MetricsReading> => {
    if (reading) return reading
    const started = readMetrics(app, state, clock())
    reading = started
    const done = () => {
      reading = null
    }
    started.then(done, done)
    return started
  }
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (set: (labels: Record<L, string>, value: number) => void, r: MetricsReading) => void,
  ) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const r = await current()
        this.reset()
        fill((labels, value) => this.set(labels, value), r)
      },
    })
  const counter = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (set: (labels: Record<L, string>, value: number) => void, r: MetricsReading) => void,
  ) =>
    new Counter<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const r = await current()
        this.reset()
        fill((labels, value) => this.inc(labels, value), r)
      },
    })

  gauge('rpo_runs', 'Runs in the store by project and run state.', ['project', 'state'], (set, r) => {
    for (const c of r.runs) set({ project: c.project ?? '', state: c.state }, c.count)
  })
  gauge(
    'rpo_tasks',
    'Tasks of unfinished runs (running, interrupting, interrupted, cancelling) by project and task state.',
    ['project', 'state'],
    (set, r) => {
      for (const c of r.tasks) set({ project: c.project ?? '', state: c.state }, c.count)
    },
  )

  const budgetLabels = ['project', 'budget', 'user', 'gpu_type', 'cap'] as const
  const budgetGauge = (name: string, help: string, value: (b: MetricsReading['gpuBudgets'][number]) => number) =>
    gauge(name, help, budgetLabels, (set, r) => {
      for (const b of r.gpuBudgets)
        set(
          { project: b.project, budget: b.budget, user: b.user ?? '', gpu_type: b.gpuType ?? '', cap: b.cap },
          value(b),
        )
    })
  budgetGauge(
    'rpo_budget_limit_gpu_hours',
    'A GPU-hours budget in its current period: amount - lent + borrowed (weighted GPU-hours unless gpu_type names one).',
    (b) => b.limit,
  )
  budgetGauge('rpo_budget_used_gpu_hours', 'GPU-hours charged to the budget in its current period.', (b) => b.used)
  budgetGauge(
    'rpo_budget_committed_gpu_hours',
    'GPU-hours jobs in flight may still use at worst (until their time limits).',
    (b) => b.committed,
  )
  budgetGauge(
    'rpo_budget_remaining_gpu_hours',
    'GPU-hours left in the budget: limit - used - committed (negative when over).',
    (b) => b.remaining,
  )
  counter(
    'rpo_project_gpu_hours_total',
    'GPU-hours charged to the project from accounting (device-hours by GPU type), with or without a GPU-hours budget.',
    ['project', 'gpu_type'],
    (set, r) => {
      for (const t of r.gpuHours.totals()) set({ project: t.project, gpu_type: t.gpuType }, t.hours)
    },
  )
  gauge(
    'rpo_budget_problems',
    'Budgets of the project that cannot be judged (a bad rule or setting): its budgeted work waits.',
    ['project'],
    (set, r) => {
      for (const [project, count] of r.budgetProblems) set({ project }, count)
    },
  )

  gauge(
    'rpo_project_deadline_slack_seconds',
    "Deadline minus the projected completion of the project's running runs, in seconds (negative: late).",
    ['project'],
    (set, r) => {
      for (const p of r.projects) if (p.slackSeconds !== null) set({ project: p.project }, p.slackSeconds)
    },
  )
  gauge(
    'rpo_project_projected_completion_timestamp_seconds',
    "When the project's running runs are projected to complete (Unix time).",
    ['project'],
    (set, r) => {
      for (const p of r.projects) set({ project: p.project }, p.projectedCompletion / 1000)
    },
  )
  gauge(
    'rpo_project_deadline_timestamp_seconds',
    'The deadline the project is held to (Unix time): the earliest of its config and running pipelines.',
    ['project'],
    (set, r) => {
      for (const p of r.projects) if (p.deadline !== null) set({ project: p.project }, p.deadline / 1000)
    },
  )

  // each cluster's last round and totals: one series per cluster, a value read off its row
  const perCluster = (
    make: typeof gauge | typeof counter,
    name: string,
    help: string,
    read: (t: MetricsReading['ticks'][number]) => number,
  ) =>
    make(name, help, ['cluster'], (set, r) => {
      for (const t of r.ticks) set({ cluster: t.cluster }, read(t))
    })
  perCluster(
    gauge,
    'rpo_cluster_last_tick_timestamp_seconds',
    "When the cluster's last round ended (Unix time).",
    (t) => Date.parse(t.lastAt) / 1000,
  )
  perCluster(
    gauge,
    'rpo_cluster_last_tick_duration_seconds',
    "Wall time of the cluster's last round, in seconds.",
    (t) => t.lastDurationMs / 1000,
  )
  perCluster(
    gauge,
    'rpo_cluster_last_tick_scheduler_commands',
    "Scheduler commands (squeue, sacct, sbatch, qstat, ...) the cluster's last round ran.",
    (t) => t.lastCommands,
  )
  perCluster(gauge, 'rpo_cluster_last_tick_runs', "Runs planned in the cluster's last round.", (t) => t.lastRuns)
  perCluster(counter, 'rpo_cluster_ticks_total', 'Rounds the cluster has been ticked.', (t) => t.rounds)
  perCluster(
    counter,
    'rpo_cluster_tick_seconds_total',
    "Wall time of all the cluster's rounds, in seconds.",
    (t) => t.durationMsTotal / 1000,
  )
  perCluster(
    counter,
    'rpo_cluster_scheduler_commands_total',
    "Scheduler commands all the cluster's rounds ran.",
    (t) => t.commandsTotal,
  )

  counter(
    'rpo_tick_errors_total',
    'Tick errors (tick.error events) by cluster and step: observe is the scheduler poll.',
    ['cluster', 'step'],
    (set, r) => {
      for (const t of r.tickErrors.totals()) set({ cluster: t.fields[0] ?? '', step: t.fields[1] ?? '' }, t.count)
    },
  )
  counter(
    'rpo_event_delivery_failures_total',
    `Event deliveries given up after their retries (${DELIVERY_FAILURE_EVENT} events), by webhook.`,
    ['hook'],
    (set, r) => {
      for (const t of r.deliveryFailures.totals()) set({ hook: t.fields[0] ?? '' }, t.count)
    },
  )

  gauge(
    'rpo_metrics_source_up',
    'Whether this scrape could read the source (1) or not (0, its series are left out).',
    ['source'],
    (set, r) => {
      for (const source of METRIC_SOURCES) set({ source }, r.up.get(source) ? 1 : 0)
    },
  )
  gauge('rpo_metrics_read_seconds', 'How long this scrape took to read the store, in seconds.', [], (set, r) => {
    set({}, r.readSeconds)
  })

  return {
    contentType: registry.contentType,
    render: () => registry.metrics(),
    registry,
  }
}
