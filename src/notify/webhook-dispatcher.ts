/**
 * Webhooks at work: each configured hook follows the event log from its own cursor, kept in the
 * store, and POSTs every event it takes (webhook-delivery.ts), one at a time and in id order. A
 * failed delivery is retried with exponential backoff (backoff, 2×, 4×, … capped at 10 min); after
 * the last retry, or at once when the receiver refuses the event (a 4xx but 408 and 429), the hook
 * records a `webhook.failed` event and moves on, both in one write. It runs beside the ticks, never
 * inside them: a slow or hanging receiver delays only its own hook.
 *
 * Across processes (several `rpo daemon` on one store) each hook is delivered by one of them: the
 * dispatcher holding its `webhook:<name>` lease (renewed while it delivers); the cursor only moves
 * from where its mover read it, so a dispatcher that lost its lease while paused stands down.
 * Delivery is at least once: a delivery cut short by a stop or a crash is sent again by whoever
 * goes on (receivers de-duplicate by `X-Rpo-Event-Id`); a graceful restart repeats nothing.
 *
 * ```ts
 * const hooks = createWebhookDispatcher(app)   // the config's webhooks
 * hooks.start()
 * ...
 * await hooks.stop()
 * ```
 */
import type { App } from '../create-app.js'
import { Leases } from '../engine/leases.js'
import type { EventLog } from '../events/event-log.js'
import type { NewRpoEvent, RpoEvent } from '../events/event-schemas.js'
import type { NotificationStore } from '../store/notification-store.js'
import { type DeliveryOutcome, deliverEvent } from './webhook-delivery.js'
import { storeFilterOf, takesEvent, type WebhookTarget, webhookTargetsOf } from './webhook-target.js'

/** How long a dispatcher's claim on a hook lasts without renewal. */
export const WEBHOOK_LEASE_MS = 30_000
const MAX_BACKOFF_MS = 10 * 60_000
const webhookLease = (hook: string) => `webhook:${hook}`

export interface WebhookDispatcherOptions {
  readonly hooks: readonly WebhookTarget[]
  readonly log: EventLog
  readonly store: Pick<NotificationStore, 'cursor' | 'moveCursor'>
  /** One dispatcher per hook across processes; absent: this one delivers regardless. */
  readonly leases?: Leases
  readonly clock?: () => number
  /** Deliveries that failed and hooks that stumbled, in words (the daemon's log). */
  readonly report?: (line: string) => void
  /** How often to look for events other processes stored (ms; default: the log's). */
  readonly pollIntervalMs?: number
  /** One delivery (tests); default: an HTTP POST. */
  readonly deliver?: typeof deliverEvent
}

export class WebhookDispatcher {
  readonly #options: WebhookDispatcherOptions
  readonly #clock: () => number
  #abort: AbortController | null = null
  #loops: Promise<void>[] = []

  constructor(options: WebhookDispatcherOptions) {
    this.#options = options
    this.#clock = options.clock ?? Date.now
  }

  get running(): boolean {
    return this.#abort !== null
  }

  /** Start delivering (each hook from its cursor; a hook's first start begins at the newest event). */
  start(): void {
    if (this.#abort) return
    const abort = new AbortController()
    this.#abort = abort
    this.#loops = this.#options.hooks.map((hook) => this.#runHook(hook, abort.signal))
  }

  /** Stop: deliveries under way are cut short (and sent again by the next start). */
  async stop(): Promise<void> {
    const abort = this.#abort
    if (!abort) return
    abort.abort()
    await Promise.all(this.#loops)
    this.#abort = null
    this.#loops = []
  }

  async #runHook(hook: WebhookTarget, signal: AbortSignal): Promise<void> {
    const { leases } = this.#options
    const lease = webhookLease(hook.name)
    let pause = 1000
    while (!signal.aborted) {
      try {
        const holder = leases ? await leases.take(lease, WEBHOOK_LEASE_MS) : null
        if (holder !== null) {
          await sleep(Math.min(5000, WEBHOOK_LEASE_MS / 4), signal)
          continue
        }
        const stopHeartbeat = leases?.heartbeat(() => [lease], WEBHOOK_LEASE_MS)
        try {
          await this.#deliverWhileHeld(hook, signal)
          pause = 1000
        } finally {
          stopHeartbeat?.()
          await leases?.release(lease).catch(() => undefined)
        }
      } catch (error) {
        // the store unreachable or busy: try again later, never give the hook up
        this.#report(`webhook ${hook.name}: ${error instanceof Error ? error.message : String(error)}; retrying`)
        await sleep(pause, signal)
        pause = Math.min(pause * 2, 60_000)
      }
    }
  }

  /** Deliver from the cursor until stopped, the lease is lost or another dispatcher moved the cursor. */
  async #deliverWhileHeld(hook: WebhookTarget, signal: AbortSignal): Promise<void> {
    const { store, log, leases } = this.#options
    let cursor = await store.cursor(hook.name)
    if (cursor === null) {
      // a new hook starts from now: it is not handed the store's whole past
      const start = await log.lastId()
      if (!(await store.moveCursor(hook.name, null, start, this.#now()))) return
      cursor = start
    }
    const following = new AbortController()
    const stopFollowing = () => following.abort()
    signal.addEventListener('abort', stopFollowing)
    try {
      for await (const event of log.follow({
        fromId: cursor,
        filter: storeFilterOf(hook),
        signal: following.signal,
        ...(this.#options.pollIntervalMs !== undefined ? { pollIntervalMs: this.#options.pollIntervalMs } : {}),
      })) {
        if (!takesEvent(hook, event)) continue
        if (leases && (await leases.confirm([webhookLease(hook.name)], WEBHOOK_LEASE_MS)) !== null) return
        const failure = await this.#deliverWithRetries(hook, event, signal)
        if (signal.aborted) return
        if (!(await store.moveCursor(hook.name, cursor, event.id, this.#now(), failure ?? undefined))) return
        cursor = event.id
      }
    } finally {
      signal.removeEventListener('abort', stopFollowing)
    }
  }

  /** Null when delivered; else the `webhook.failed` event to record (nothing when stopped meanwhile). */
  async #deliverWithRetries(hook: WebhookTarget, event: RpoEvent, signal: AbortSignal): Promise<NewRpoEvent | null> {
    const deliver = this.#options.deliver ?? deliverEvent
    let outcome: DeliveryOutcome = { ok: false, status: null, error: 'not tried', retryable: true }
    let attempt = 0
    while (!signal.aborted) {
      attempt++
      outcome = await deliver(hook, event, attempt, this.#clock(), signal)
      if (outcome.ok || signal.aborted) return null
      const last = !outcome.retryable || attempt > hook.retries.max
      this.#report(
        `webhook ${hook.name}: event #${event.id} (${event.type}) attempt ${attempt}: ${outcome.error}${last ? '; giving up' : ''}`,
      )
      if (last) break
      await sleep(Math.min(MAX_BACKOFF_MS, hook.retries.backoffMs * 2 ** (attempt - 1)), signal)
    }
    if (signal.aborted || outcome.ok) return null
    return {
      at: this.#now(),
      type: 'webhook.failed',
      project: event.project,
      runId: event.runId,
      taskId: event.taskId,
      payload: {
        hook: hook.name,
        eventId: event.id,
        eventType: event.type,
        attempts: attempt,
        status: outcome.status,
        error: outcome.error,
      },
    }
  }

  #now(): string {
    return new Date(this.#clock()).toISOString()
  }

  #report(line: string): void {
    this.#options.report?.(line)
  }
}

/**
 * The dispatcher of an app's configured webhooks, on its store and event log, sharing each hook
 * with other processes through the store's leases. A `secretEnv` not set is a config error.
 */
export function createWebhookDispatcher(
  app: Pick<App, 'config' | 'store' | 'events'>,
  options: {
    readonly report?: (line: string) => void
    readonly env?: NodeJS.ProcessEnv
    readonly pollIntervalMs?: number
  } = {},
): WebhookDispatcher {
  return new WebhookDispatcher({
    hooks: webhookTargetsOf(app.config.webhooks, options.env ?? process.env, app.config.file ?? 'the config'),
    log: app.events,
    store: app.store.notifications,
    leases: new Leases(app.store),
    ...(options.report ? { report: options.report } : {}),
    ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
  })
}

/** Wait `ms`, or less when `signal` aborts (no error). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done)
  })
}
