/**
 * The HTTP API of `rpo serve`: a fastify server over an App, read-only unless a token is admin.
 * Every route is an ApiRoute (api-route.ts) registered here with its scope; a route without a
 * scope cannot be registered at all, and every request is authenticated (auth.ts) before anything
 * else, so no route can be reached without a token. Inputs are parsed with the routes' zod
 * schemas (a bad one is 400 naming it) and every JSON answer is parsed with its response schema
 * before it is sent, so the OpenAPI document (openapi.ts) is what clients get. Errors are JSON
 * `{error: {code, message}}` with the status their code means; only a bug is 500, and its
 * details go to the log, not to the client. Logging is off unless asked for, and never includes
 * the Authorization header.
 */
import { setMaxListeners } from 'node:events'
import type { Writable } from 'node:stream'
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import { z } from 'zod'
import { isRpoError, type RpoErrorCode } from '../core/errors.js'
import type { App } from '../create-app.js'
import type { ApiRoute } from './api-route.js'
import { parseInput } from './api-route.js'
import { authenticator } from './auth.js'
import { openApiDocument } from './openapi.js'
import { checkedResponse } from './response-check.js'
import { budgetRoutes } from './routes/budget-routes.js'
import { eventRoutes } from './routes/event-routes.js'
import { historyRoutes } from './routes/history-routes.js'
import { type MetricsProvider, metaRoutes } from './routes/meta-routes.js'
import { projectRoutes } from './routes/project-routes.js'
import { runRoutes } from './routes/run-routes.js'

export type { MetricsProvider } from './routes/meta-routes.js'

export const API_VERSION = '1.0.0'

/** A route as the server registered it (every one, however it was added). */
export interface RegisteredRoute {
  readonly method: string
  readonly url: string
  readonly scope: 'read' | 'admin' | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered, as the onRoute hook saw it: what the tests enumerate. */
    readonly registeredRoutes: readonly RegisteredRoute[]
  }
}

export interface HttpServerOptions {
  /** GET /metrics answers with this (read scope); without it there is no /metrics. */
  readonly metrics?: MetricsProvider
  /** Request and error logs (JSON lines) to this stream; off when absent. */
  readonly log?: { readonly stream: Writable; readonly level?: 'trace' | 'debug' | 'info' | 'warn' | 'error' }
}

/** Every route of the API (the metrics route included), in the order they are documented. */
export function apiRoutes(metrics: () => MetricsProvider | undefined = () => undefined): ApiRoute[] {
  const routes: ApiRoute[] = [...runRoutes, ...projectRoutes, ...budgetRoutes, ...historyRoutes, ...eventRoutes]
  return [...routes, ...metaRoutes(() => apiDocument(), metrics)]
}

let document: Record<string, unknown> | null = null

/** The OpenAPI 3.1 document (docs/openapi.json). */
export function apiDocument(): Record<string, unknown> {
  document ??= openApiDocument(apiRoutes(), API_VERSION)
  return document
}

const STATUS_OF: Partial<Record<RpoErrorCode, number>> = {
  usage: 400,
  'spec-invalid': 400,
  'budget-period-invalid': 400,
  unauthenticated: 401,
  forbidden: 403,
  'budget-not-permitted': 403,
  'run-not-found': 404,
  'task-not-found': 404,
  'grant-not-found': 404,
  'token-not-found': 404,
  'project-not-found': 404,
  'grant-invalid': 409,
  'grant-expired': 409,
  'revoke-exceeds-unused': 409,
  'lend-exceeds-remaining': 409,
  'store-locked': 503,
  'store-unavailable': 503,
  'lease-held': 503,
}

export async function buildHttpServer(app: App, options: HttpServerOptions = {}): Promise<FastifyInstance> {
  const server = Fastify({
    logger: options.log
      ? {
          level: options.log.level ?? 'info',
          stream: options.log.stream,
          // the default request serializer has no headers; this keeps it so should that change
          redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
        }
      : false,
    exposeHeadRoutes: false,
    // a client that never finishes its request is cut off; event streams are answers, not requests
    requestTimeout: 30_000,
  })
  const closing = new AbortController()
  // every open event stream listens for the server closing: 100 subscribers are not a leak
  setMaxListeners(0, closing.signal)
  server.addHook('preClose', async () => closing.abort())

  const registered: RegisteredRoute[] = []
  server.decorate('registeredRoutes', registered)
  server.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) registered.push({ method, url: route.url, scope: route.config?.scope })
    if (route.config?.scope !== 'read' && route.config?.scope !== 'admin')
      throw new Error(
        `HTTP route ${route.method} ${route.url} has no scope: every route must say which tokens may call it`,
      )
  })
  server.addHook('onRequest', authenticator(app.store.tokens, app.clock))

  server.setErrorHandler((error: FastifyError, request, reply) => {
    if (isRpoError(error)) {
      const status = STATUS_OF[error.code] ?? 500
      if (status === 503) void reply.header('retry-after', '1')
      if (status === 500) request.log.error({ err: error }, 'request failed')
      return reply.status(status).send({ error: { code: error.code, message: error.message } })
    }
    const status =
      typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
    if (status === 500) {
      request.log.error({ err: error }, 'request failed')
      return reply
        .status(500)
        .send({ error: { code: 'internal', message: 'internal error; the server log has the details' } })
    }
    return reply.status(status).send({ error: { code: error.code ?? 'usage', message: error.message } })
  })
  server.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ error: { code: 'not-found', message: `no route ${request.method} ${request.url.split('?')[0]}` } }),
  )

  for (const route of apiRoutes(() => options.metrics)) {
    if (route.url === '/metrics' && !options.metrics) continue
    server.route({
      method: route.method,
      url: route.url,
      config: { scope: route.scope },
      handler: async (request, reply) => {
        const query = parseInput(route.query ?? z.strictObject({}), request.query, 'query parameter')
        const params = parseInput(route.params ?? z.strictObject({}), request.params, 'path parameter')
        const body = route.body ? parseInput(route.body, request.body, 'body field') : undefined
        const result = await route.handler({
          app,
          token: request.apiToken as NonNullable<typeof request.apiToken>,
          query,
          params,
          body,
          request,
          reply,
          closing: closing.signal,
        })
        if (result === undefined) return reply
        // what is sent is what the document says (response-check.ts)
        return checkedResponse(route.response as z.ZodType, result, request.log)
      },
    })
  }
  return server
}
