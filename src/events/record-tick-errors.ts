/**
 * Tick errors into the event log. A tick error is said by the engine as it happens (`tick:error`)
 * and belongs to no store write, so it is stored on its own, after the fact, never awaited by the
 * tick: recording it must not slow or fail the round. A tick error that cannot be recorded is
 * itself said as a tick error (code `event-unrecorded`), which is not recorded in turn.
 */
import type { EngineEvents, TickErrorPayload } from '../engine/engine-events.js'
import type { EventLog } from './event-log.js'

export const UNRECORDED_CODE = 'event-unrecorded'

export class TickErrorRecorder {
  readonly #log: EventLog
  readonly #pending = new Set<Promise<void>>()
  readonly #clock: () => number

  constructor(log: EventLog, clock: () => number = Date.now) {
    this.#log = log
    this.#clock = clock
  }

  /** Record the tick errors of one cluster's engine; returns the unsubscribe. */
  watch(events: EngineEvents, cluster: string): () => void {
    return events.on('tick:error', (error) => {
      if (error.cause.code === UNRECORDED_CODE) return
      const write = this.#record(cluster, error).catch((failure: unknown) =>
        events.tickError(error.step, failure, {
          code: UNRECORDED_CODE,
          what: `recording the tick error "${error.cause.message}" in the event log`,
          ...(error.runId ? { runId: error.runId } : {}),
        }),
      )
      this.#pending.add(write)
      void write.finally(() => this.#pending.delete(write))
    })
  }

  /** Wait for the records under way (before the store closes). */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
  }

  #record(cluster: string, error: TickErrorPayload): Promise<void> {
    return this.#log.record([
      {
        at: new Date(this.#clock()).toISOString(),
        type: 'tick.error',
        project: null,
        runId: error.runId ?? null,
        taskId: null,
        payload: { cluster, step: error.step, code: error.cause.code, message: error.cause.message },
      },
    ])
  }
}
