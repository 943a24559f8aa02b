/**
 * The engine's typed event API (`namespace:action`). The CLI, the HTTP API and tests subscribe;
 * the engine never calls them directly.
 */
import { EventEmitter } from 'node:events'
import { isRpoError } from '../core/errors.js'

export interface TaskEventPayload {
  readonly runId: string
  readonly taskId: string | null
  readonly message: string
  readonly data?: Readonly<Record<string, unknown>> | undefined
}

export interface EngineEventMap {
  'run:created': { readonly runId: string; readonly tasks: number }
  'run:resumed': { readonly runId: string }
  'run:finished': { readonly runId: string; readonly state: string }
  'run:interrupted': { readonly runId: string; readonly message: string }
  'run:cancelled': { readonly runId: string; readonly message: string }
  'task:submitted': TaskEventPayload & { readonly jobId: string; readonly attempt: number }
  'task:started': TaskEventPayload
  'task:succeeded': TaskEventPayload
  'task:failed': TaskEventPayload
  'task:retrying': TaskEventPayload
  'task:resuming': TaskEventPayload
  'task:checkpoint-requested': TaskEventPayload
  'task:checkpoint': TaskEventPayload
  'task:skipped': TaskEventPayload
  'task:upstream-failed': TaskEventPayload
  'task:cancelled': TaskEventPayload
  'task:expanded': TaskEventPayload
  'task:lost': TaskEventPayload
  /** The GPU types an attempt was sent with, and why (gpu-placement-step.ts). */
  'task:placed': TaskEventPayload
  /** A step of a tick failed; the tick carried on without it and the next one tries again. */
  'tick:error': TickErrorPayload
  'submit:error': { readonly runId: string; readonly message: string; readonly code: string }
  'sync:tick': { readonly runId: string; readonly state: string; readonly schedulerCommands: number }
  /** One cluster round ended: how many runs it planned, jobs it submitted, scheduler commands it ran. */
  'cluster:tick': {
    readonly cluster: string
    readonly runs: number
    readonly submitted: number
    readonly schedulerCommands: number
  }
}

/** The steps of a cluster tick, as a tick error names them. */
export type TickStep =
  | 'observe'
  | 'charge'
  | 'rank'
  | 'admit'
  | 'plan'
  | 'persist'
  | 'act'
  | 'enforce'
  | 'warn'
  | 'report'
  | 'notify'
  | 'inventory'

export interface TickErrorPayload {
  readonly step: TickStep
  readonly cause: { readonly code: string; readonly message: string }
  /** The run it concerns; absent when it concerns the whole cluster (a poll, enforcement). */
  readonly runId?: string
}

export type EngineEventName = keyof EngineEventMap

export class EngineEvents {
  /** A tick error from anything thrown: a typed error keeps its code, anything else is `internal`. */
  tickError(step: TickStep, error: unknown, options: { runId?: string; what?: string; code?: string } = {}): void {
    const message = error instanceof Error ? error.message : String(error)
    const code = options.code ?? (isRpoError(error) ? error.code : 'internal')
    this.emit('tick:error', {
      step,
      cause: { code, message: options.what ? `${options.what}: ${message}` : message },
      ...(options.runId ? { runId: options.runId } : {}),
    })
  }

  readonly #emitter = new EventEmitter()

  on<K extends EngineEventName>(name: K, listener: (payload: EngineEventMap[K]) => void): () => void {
    this.#emitter.on(name, listener)
    return () => this.#emitter.off(name, listener)
  }

  /** Every event, with its name: for logs and progress displays. */
  onAny(listener: <K extends EngineEventName>(name: K, payload: EngineEventMap[K]) => void): () => void {
    const wrapped = (name: EngineEventName, payload: unknown) => listener(name, payload as never)
    this.#emitter.on('*', wrapped)
    return () => this.#emitter.off('*', wrapped)
  }

  emit<K extends EngineEventName>(name: K, payload: EngineEventMap[K]): void {
    this.#emitter.emit(name, payload)
    this.#emitter.emit('*', name, payload)
  }
}
