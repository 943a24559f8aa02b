/**
 * One HTTP API route as data: method, path, the scope a token needs, zod schemas of its query,
 * path parameters, body and response, and a handler that receives them parsed. The server
 * (build-server.ts) registers every route from this form and the OpenAPI document (openapi.ts) is
 * generated from the same list, so a route cannot exist without being documented and scoped.
 * Query parameters arrive as text (or a list of texts when repeated); the helpers here read them
 * strictly and name the parameter in every refusal.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { RpoError } from '../core/errors.js'
import type { App } from '../create-app.js'
import type { ApiToken, TokenScope } from '../store/token-store.js'

export interface RouteContext<Q, P, B> {
  readonly app: App
  readonly token: ApiToken
  readonly query: Q
  readonly params: P
  readonly body: B
  readonly request: FastifyRequest
  readonly reply: FastifyReply
  /** Aborted when the server begins to close: long-lived answers (event streams) end then. */
  readonly closing: AbortSignal
}

export interface ApiRoute<Q = unknown, P = unknown, B = unknown> {
  readonly method: 'GET' | 'POST'
  /** fastify form: `/v1/runs/:runId`. */
  readonly url: string
  readonly scope: TokenScope
  readonly summary: string
  readonly tag: string
  readonly query?: z.ZodType<Q>
  readonly params?: z.ZodType<P>
  readonly body?: z.ZodType<B>
  /** The 200 body's schema (JSON), or another media type the route answers with. */
  readonly response: z.ZodType | { readonly mediaType: string; readonly description: string }
  /** Refusals beyond the common 400/401/403 (404 for a missing run, 409 for a refused change, ...). */
  readonly errors?: Readonly<Record<number, string>>
  /** Returns the JSON body, or undefined when it answered itself (a stream, text). */
  handler(context: RouteContext<Q, P, B>): Promise<unknown>
}

/** Typed construction of a route (the handler sees its schemas' output types). */
export function apiRoute<Q = Record<string, never>, P = Record<string, never>, B = undefined>(
  route: ApiRoute<Q, P, B>,
): ApiRoute {
  return route as unknown as ApiRoute
}

/** A query's fields: each a text, or a list when repeated (`?state=a&state=b`). */
type Raw = string | string[] | undefined

function single(name: string, value: Raw): string | undefined {
  if (Array.isArray(value)) {
    if (value.length > 1)
      throw new RpoError('usage', `query parameter "${name}" is given ${value.length} times; give it once`)
    return value[0]
  }
  return value
}

/** A whole number from `min` to `max`, written plainly (no sign, exponent or decimals). */
export function intParam(name: string, min: number, max: number) {
  return z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((value) => {
      const text = single(name, value)
      if (text === undefined) return undefined
      const n = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN
      if (!Number.isSafeInteger(n) || n < min || n > max)
        throw new RpoError(
          'usage',
          `query parameter "${name}": expected a whole number from ${min} to ${max}, got ${JSON.stringify(text.slice(0, 40))}`,
        )
      return n
    })
    .meta({ description: `a whole number from ${min} to ${max}` })
}

/** A check of one value: why it is refused, or null; `values` when it takes only those (documented). */
export type ValueCheck = ((text: string) => string | null) & { readonly values?: readonly string[] }

const described = (check: ValueCheck, text: string) =>
  check.values ? `${text}; one of: ${check.values.join(', ')}` : text

/** One text, checked by `check` (which returns why it is refused, or null). */
export function textParam(name: string, check: ValueCheck = () => null) {
  const schema = z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((value) => {
      const text = single(name, value)
      if (text === undefined) return undefined
      const why = text.length > 200 ? 'longer than 200 characters' : check(text)
      if (why) throw new RpoError('usage', `query parameter "${name}": ${why}`)
      return text
    })
  return check.values ? schema.meta({ description: described(check, 'one value') }) : schema
}

/** A list: repeated, comma-separated, or both; each element checked. */
export function listParam(name: string, check: ValueCheck = () => null, maxItems = 100) {
  return z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((value) => {
      if (value === undefined) return undefined
      const items = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).filter((v) => v !== '')
      if (items.length > maxItems)
        throw new RpoError('usage', `query parameter "${name}": at most ${maxItems} values, got ${items.length}`)
      for (const item of items) {
        const why = item.length > 200 ? 'longer than 200 characters' : check(item)
        if (why) throw new RpoError('usage', `query parameter "${name}": ${why}`)
      }
      return items
    })
    .meta({ description: described(check, 'repeat the parameter or separate values with commas') })
}

/** An ISO date/time, returned as given (normalised by whoever reads it). */
export function dateParam(name: string) {
  return textParam(name, (text) =>
    /^\d{4}-\d\d-\d\d(T[\d:.]+(Z|[+-]\d\d:?\d\d)?)?$/.test(text) && !Number.isNaN(Date.parse(text))
      ? null
      : `expected an ISO date such as 2026-11-01 or 2026-11-01T12:00Z, got ${JSON.stringify(text.slice(0, 40))}`,
  ).meta({ description: 'ISO 8601 date or date-time' })
}

export function oneOf(values: readonly string[]): ValueCheck {
  const check = (text: string) =>
    values.includes(text) ? null : `${JSON.stringify(text.slice(0, 40))} is not one of ${values.join(', ')}`
  return Object.assign(check, { values })
}

/** Parse with a schema; the first problem becomes a usage error naming where it is. */
export function parseInput<T>(
  schema: z.ZodType<T>,
  input: unknown,
  where: 'query parameter' | 'path parameter' | 'body field',
): T {
  const result = schema.safeParse(input ?? {})
  if (result.success) return result.data
  const issue = result.error.issues[0]
  if (!issue) throw new RpoError('usage', `invalid ${where}`)
  if (issue.code === 'unrecognized_keys')
    throw new RpoError(
      'usage',
      `unknown ${where}${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`,
    )
  const name = issue.path.length > 0 ? issue.path.join('.') : '(the whole input)'
  throw new RpoError('usage', `${where} "${name}": ${issue.message}`)
}
