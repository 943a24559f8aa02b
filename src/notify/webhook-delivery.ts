/**
 * One HTTP delivery of one event to one webhook: the event as JSON, signed, POSTed with a timeout.
 * Receivers verify `X-Rpo-Signature: sha256=<hex HMAC-SHA256 of the raw body with the shared secret>`
 * and de-duplicate by `X-Rpo-Event-Id` (a delivery cut short by a stop is sent again).
 */
import { createHmac } from 'node:crypto'
import type { RpoEvent } from '../events/event-schemas.js'
import type { WebhookTarget } from './webhook-target.js'

export type DeliveryOutcome =
  | { readonly ok: true; readonly status: number }
  | {
      readonly ok: false
      /** The receiver's HTTP status; null when it never answered. */
      readonly status: number | null
      readonly error: string
      /** Worth trying again: no answer, a timeout, 408, 429 or a 5xx. */
      readonly retryable: boolean
    }

/** `sha256=<hex>`: the signature header's value for a body. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`
}

export async function deliverEvent(
  target: WebhookTarget,
  event: RpoEvent,
  attempt: number,
  now: number,
  signal: AbortSignal,
): Promise<DeliveryOutcome> {
  const body = JSON.stringify(event)
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'rpo-webhook',
    'x-rpo-event-id': String(event.id),
    'x-rpo-event-type': event.type,
    'x-rpo-delivery-attempt': String(attempt),
    'x-rpo-timestamp': new Date(now).toISOString(),
  }
  if (target.secret !== null) headers['x-rpo-signature'] = signBody(target.secret, body)
  const timeout = AbortSignal.timeout(target.timeoutMs)
  try {
    const response = await fetch(target.url, {
      method: 'POST',
      headers,
      body,
      // a redirect is a misconfigured URL, not somewhere to send signed events to
      redirect: 'manual',
      signal: AbortSignal.any([signal, timeout]),
    })
    // the answer's body is not read: dropping it frees the connection
    await response.body?.cancel().catch(() => undefined)
    if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status }
    const retryable = response.status >= 500 || response.status === 408 || response.status === 429
    return { ok: false, status: response.status, error: `HTTP ${response.status}`, retryable }
  } catch (error) {
    if (timeout.aborted && !signal.aborted)
      return { ok: false, status: null, error: `no answer within ${target.timeoutMs} ms`, retryable: true }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause
    const text = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error))
    return { ok: false, status: null, error: `not delivered: ${text}`, retryable: true }
  }
}
