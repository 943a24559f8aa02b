/**
 * The engine's typed event API (`namespace:action`). The CLI, the HTTP API and tests subscribe;
 * the engine never calls them directly.
 */
import { EventEmitter } from 'node:events'

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
  'poll:error': { readonly runId: string; readonly message: string; readonly code: string }
  'submit:error': { readonly runId: string; readonly message: string; readonly code: string }
  'sync:tick': { readonly runId: string; readonly state: string; readonly schedulerCommands: number }
}

export type EngineEventName = keyof EngineEventMap

export class EngineEvents {
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
