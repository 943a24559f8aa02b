/**
 * A configured webhook made ready to deliver: its secret read from the environment, its durations
 * in milliseconds, and which events it takes. Pure apart from reading the environment it is handed.
 */
import { DEFAULT_WEBHOOK_TYPES, type WebhookConfig } from '../config/config-schema.js'
import { RpoError } from '../core/errors.js'
import { parseDurationSeconds } from '../core/pipeline/units.js'
import type { EventFilter } from '../events/event-log.js'
import type { EventType, RpoEvent } from '../events/event-schemas.js'

export interface WebhookTarget {
  readonly name: string
  readonly url: string
  /** Event types and `task.failed` (a `task.state` event to failed). */
  readonly types: readonly string[]
  /** Only events of these projects; null: every event. */
  readonly projects: readonly string[] | null
  /** The HMAC-SHA256 key; null: deliveries are not signed. */
  readonly secret: string | null
  readonly timeoutMs: number
  readonly retries: { readonly max: number; readonly backoffMs: number }
}

/** The configured webhooks, ready to deliver; a `secretEnv` that is not set is a config error naming the hook. */
export function webhookTargetsOf(
  hooks: readonly WebhookConfig[],
  env: NodeJS.ProcessEnv = process.env,
  where = 'the config',
): WebhookTarget[] {
  return hooks.map((hook, index) => {
    let secret = hook.secret ?? null
    if (hook.secretEnv !== undefined) {
      secret = env[hook.secretEnv] ?? ''
      if (secret === '')
        throw new RpoError(
          'config-invalid',
          `${where}: webhooks[${index}] (${hook.name}): secretEnv names ${hook.secretEnv}, which is not set or empty in rpo's environment`,
        )
    }
    return {
      name: hook.name,
      url: hook.url,
      types: hook.types ?? DEFAULT_WEBHOOK_TYPES,
      projects: hook.projects ?? null,
      secret,
      timeoutMs: secondsOf(hook.timeout) * 1000,
      retries: { max: hook.retries.max, backoffMs: secondsOf(hook.retries.backoff) * 1000 },
    }
  })
}

/** What the store can filter on: the types (task.failed read as task.state) and the projects. */
export function storeFilterOf(target: WebhookTarget): EventFilter {
  const types = new Set(target.types.map((t) => (t === 'task.failed' ? 'task.state' : t)) as EventType[])
  return { types: [...types], ...(target.projects ? { projects: target.projects } : {}) }
}

/**
 * Whether the hook takes an event the store filter let through: a `task.state` only when it is
 * selected as such or ends in failed under `task.failed`; never the hook's own delivery failures
 * (a failing hook would otherwise feed on them).
 */
export function takesEvent(target: WebhookTarget, event: RpoEvent): boolean {
  if (event.type === 'webhook.failed' && event.payload.hook === target.name) return false
  if (target.projects && (event.project === null || !target.projects.includes(event.project))) return false
  if (target.types.includes(event.type)) return true
  return event.type === 'task.state' && event.payload.to === 'failed' && target.types.includes('task.failed')
}

function secondsOf(value: string | number): number {
  const seconds = parseDurationSeconds(value)
  if (seconds === null) throw new RpoError('internal', `a validated duration did not parse: ${String(value)}`)
  return seconds
}
