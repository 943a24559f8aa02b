/**
 * Virtual time for the simulator: milliseconds that move only when the caller says so, and the
 * queue of events due at future virtual times. Advancing the clock runs every event due on the way,
 * each at its own time, in (time, scheduling order) — so a run is a pure function of its inputs.
 */
import { RpoError } from '../../src/core/errors.js'
import { type SimTimer, SimTimerQueue } from './sim-timer-queue.js'

export interface SimTimerHandle {
  readonly atMs: number
  cancel(): void
}

export interface RunUntilIdleOptions {
  /** Stop at this virtual time even if events remain. */
  readonly untilMs?: number
  /** Guard against a scenario that never settles. @default 10000000 */
  readonly maxEvents?: number
}

export class SimClock {
  #nowMs: number
  readonly #queue = new SimTimerQueue()
  #seq = 0
  #running = false
  #eventsRun = 0

  /** @param startMs the virtual epoch (ms since 1970), e.g. `Date.parse('2026-01-05T09:00:00Z')`. @default 0 */
  constructor(startMs = 0) {
    if (!Number.isFinite(startMs)) throw new RpoError('usage', `SimClock: start time must be a number, got ${startMs}`)
    this.#nowMs = startMs
  }

  now(): number {
    return this.#nowMs
  }

  date(): Date {
    return new Date(this.#nowMs)
  }

  /** Events run so far (a cheap progress and cost measure for long scenarios). */
  get eventsRun(): number {
    return this.#eventsRun
  }

  /** Run `action` when virtual time reaches `atMs` (never in the past: earlier means now). */
  at(atMs: number, action: () => void, label = ''): SimTimerHandle {
    const timer: SimTimer = { atMs: Math.max(atMs, this.#nowMs), seq: this.#seq++, label, action, cancelled: false }
    this.#queue.push(timer)
    return {
      atMs: timer.atMs,
      cancel: () => {
        timer.cancelled = true
      },
    }
  }

  after(delayMs: number, action: () => void, label = ''): SimTimerHandle {
    return this.at(this.#nowMs + delayMs, action, label)
  }

  /** When the next event is due, or null when none is. */
  nextEventAt(): number | null {
    return this.#queue.peek()?.atMs ?? null
  }

  /**
   * Run every event due up to and including `targetMs`, then stand at `targetMs`.
   * Called from inside an event (a scenario step that submits work), it returns at once: the outer
   * advance is already running and will run what was just scheduled.
   */
  advanceTo(targetMs: number): void {
    this.#advance(targetMs, Number.POSITIVE_INFINITY)
  }

  advanceBy(ms: number): void {
    this.advanceTo(this.#nowMs + ms)
  }

  /**
   * Run events until none is left, or until `untilMs` (where it then stands); returns the virtual
   * time it stopped at. Pending jobs that wait for nothing scheduled (held, blocked) do not keep it busy.
   */
  runUntilIdle(options: RunUntilIdleOptions = {}): number {
    const untilMs = options.untilMs ?? Number.POSITIVE_INFINITY
    const maxEvents = options.maxEvents ?? 10_000_000
    const startedWith = this.#eventsRun
    const budget = () => maxEvents - (this.#eventsRun - startedWith)
    // events schedule further events, so step from one due time to the next until none is left
    for (let next = this.nextEventAt(); next !== null && next <= untilMs; next = this.nextEventAt()) {
      this.#advance(next, budget())
    }
    if (Number.isFinite(untilMs) && untilMs > this.#nowMs) this.#advance(untilMs, budget())
    return this.#nowMs
  }

  #advance(targetMs: number, maxEvents: number): void {
    if (targetMs < this.#nowMs) {
      throw new RpoError('usage', `SimClock: cannot go back in time from ${this.#nowMs} to ${targetMs}`)
    }
    if (this.#running) return
    this.#running = true
    try {
      let budget = maxEvents
      for (let next = this.#queue.peek(); next && next.atMs <= targetMs; next = this.#queue.peek()) {
        if (budget-- <= 0) {
          throw new RpoError('internal', `SimClock: still busy after ${maxEvents} events at t=${this.#nowMs} ms`)
        }
        this.#queue.pop()
        this.#nowMs = next.atMs
        this.#eventsRun++
        next.action()
      }
      this.#nowMs = targetMs
    } finally {
      this.#running = false
    }
  }
}
