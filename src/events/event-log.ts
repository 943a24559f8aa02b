/**
 * The event log as programs use it: list stored events, follow them as they are stored, record
 * events that belong to no run-store write. Following is an async iterator in id order that can be
 * resumed from the last id a subscriber saw. It wakes at once when this process commits events and
 * polls the store at an interval for those other processes write (`rpo daemon` on PostgreSQL).
 *
 * ```ts
 * for await (const event of app.events.follow({ fromId: lastSeen })) { lastSeen = event.id; ... }
 * ```
 */
import { RpoError } from '../core/errors.js'
import type { EventQuery, EventStore } from '../store/event-store.js'
import type { EventType, NewRpoEvent, RpoEvent } from './event-schemas.js'

export interface EventFilter {
  readonly types?: readonly EventType[]
  readonly projects?: readonly string[]
  readonly runId?: string
}

export interface EventListOptions extends EventFilter {
  readonly afterId?: number
  readonly limit?: number
  /** The newest `limit` matching events (in id order) instead of the oldest after `afterId`. */
  readonly newest?: boolean
}

export interface FollowEventsOptions {
  /**
   * Yield the events after this id. Absent: only events stored from now on; 0: every stored
   * event first, then new ones.
   */
  readonly fromId?: number
  readonly filter?: EventFilter
  /** Ends the iteration (it returns; nothing is thrown). */
  readonly signal?: AbortSignal
  /** How often to look for events other processes stored (default: the log's). */
  readonly pollIntervalMs?: number
}

export interface EventLogOptions {
  /** Default interval for followers to poll the store (ms; default 1000). */
  readonly pollIntervalMs?: number
}

// a page per read while catching up: big enough to drain a backlog fast, small enough to stay light
const PAGE = 500

export class EventLog {
  readonly #store: EventStore
  readonly #pollIntervalMs: number

  constructor(store: EventStore, options: EventLogOptions = {}) {
    this.#store = store
    this.#pollIntervalMs = checkedInterval(options.pollIntervalMs ?? 1000)
  }

  list(options: EventListOptions = {}): Promise<RpoEvent[]> {
    return this.#store.list(toQuery(options))
  }

  /** The newest stored event's id (0 when there is none). */
  lastId(): Promise<number> {
    return this.#store.lastId()
  }

  /**
   * Store events that belong to no run-store write (a tick error). Events that describe a change
   * of a run, task or attempt are written by the store with that change, not through here.
   */
  record(events: readonly NewRpoEvent[]): Promise<void> {
    return this.#store.append(events)
  }

  async *follow(options: FollowEventsOptions = {}): AsyncGenerator<RpoEvent, void, undefined> {
    const { signal } = options
    const interval = checkedInterval(options.pollIntervalMs ?? this.#pollIntervalMs)
    let lastId = options.fromId ?? (await this.#store.lastId())
    // counts commits in this process: a commit between a read and the wait is not slept through
    let commits = 0
    let wake: (() => void) | null = null
    const stopListening = this.#store.onCommitted(() => {
      commits++
      wake?.()
    })
    const onAbort = () => wake?.()
    signal?.addEventListener('abort', onAbort)
    try {
      while (!signal?.aborted) {
        const seen = commits
        const page = await this.#store.list({ ...toQuery(options.filter ?? {}), afterId: lastId, limit: PAGE })
        for (const event of page) {
          if (signal?.aborted) return
          lastId = event.id
          yield event
        }
        if (page.length === PAGE || commits !== seen) continue
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, interval)
          function done() {
            clearTimeout(timer)
            wake = null
            resolve()
          }
          wake = done
          if (signal?.aborted || commits !== seen) done()
        })
      }
    } finally {
      stopListening()
      signal?.removeEventListener('abort', onAbort)
    }
  }
}

function toQuery(options: EventListOptions): EventQuery {
  return {
    ...(options.afterId !== undefined ? { afterId: options.afterId } : {}),
    ...(options.types ? { types: options.types } : {}),
    ...(options.projects ? { projects: options.projects } : {}),
    ...(options.runId !== undefined ? { runId: options.runId } : {}),
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
    ...(options.newest ? { newest: true } : {}),
  }
}

function checkedInterval(ms: number): number {
  if (!Number.isFinite(ms) || ms < 10 || ms > 3_600_000)
    throw new RpoError('usage', `an event poll interval must be from 10 ms to 1 hour, got ${ms}`)
  return ms
}
