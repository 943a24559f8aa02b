/**
 * GET /v1/events (a page after an id, filtered) and GET /v1/events/stream: Server-Sent Events from
 * `app.events.follow`, each sent with its event id, so a client that reconnects with
 * `Last-Event-ID` (browsers' EventSource do it by themselves) gets every event stored after the
 * last one it saw, none twice. A stream ends when the client goes away or the server closes; a
 * comment line every 15 s keeps proxies from taking it for idle.
 */
import { once } from 'node:events'
import type { ServerResponse } from 'node:http'
import { z } from 'zod'
import { RpoError } from '../../core/errors.js'
import type { EventFilter } from '../../events/event-log.js'
import { EVENT_TYPES, type EventType, isEventType } from '../../events/event-schemas.js'
import { apiRoute, intParam, listParam, textParam } from '../api-route.js'
import { projectsFor } from '../auth.js'
import { EventPageSchema } from '../response-schemas.js'

const CATEGORIES = [...new Set(EVENT_TYPES.map((t) => t.split('.')[0] as string))]
const MAX_PAGE = 1000
const HEARTBEAT_MS = 15_000

/**
 * Until a slow client has taken what was written, or the stream ends. The listener that did not
 * fire is removed: a long stream waits for drain again and again, and each wait left one on the
 * stream's signal before (100 subscribers behind a burst: thousands, and Node's leak warning).
 */
async function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  const settled = new AbortController()
  try {
    await Promise.race([
      once(res, 'drain', { signal: settled.signal }),
      once(signal, 'abort', { signal: settled.signal }),
    ])
  } finally {
    settled.abort()
  }
}

const typeCheck = Object.assign(
  (text: string) =>
    isEventType(text) || CATEGORIES.includes(text)
      ? null
      : `unknown event type ${JSON.stringify(text.slice(0, 40))}; the types are ${EVENT_TYPES.join(', ')} (or a category: ${CATEGORIES.join(', ')})`,
  { values: [...EVENT_TYPES, ...CATEGORIES] },
)

const filterQuery = {
  type: listParam('type', typeCheck),
  project: listParam('project'),
  runId: textParam('runId'),
}

function expandTypes(given: readonly string[]): EventType[] {
  return EVENT_TYPES.filter((type) => given.some((g) => g === type || type.startsWith(`${g}.`)))
}

function filterOf(
  token: Parameters<typeof projectsFor>[0],
  query: { type?: string[] | undefined; project?: string[] | undefined; runId?: string | undefined },
): EventFilter {
  const projects = projectsFor(token, query.project)
  return {
    ...(query.type && query.type.length > 0 ? { types: expandTypes(query.type) } : {}),
    ...(projects ? { projects } : {}),
    ...(query.runId !== undefined ? { runId: query.runId } : {}),
  }
}

export const eventRoutes = [
  apiRoute({
    method: 'GET',
    url: '/v1/events',
    scope: 'read',
    tag: 'events',
    summary: 'Stored events after an id, oldest first, filtered by type, project and run',
    query: z.strictObject({
      ...filterQuery,
      afterId: intParam('afterId', 0, Number.MAX_SAFE_INTEGER),
      limit: intParam('limit', 1, MAX_PAGE),
    }),
    response: EventPageSchema,
    async handler({ app, token, query }) {
      const afterId = query.afterId ?? 0
      const events = await app.events.list({ ...filterOf(token, query), afterId, limit: query.limit ?? 100 })
      return { events, nextAfterId: events.at(-1)?.id ?? afterId }
    },
  }),
  apiRoute({
    method: 'GET',
    url: '/v1/events/stream',
    scope: 'read',
    tag: 'events',
    summary:
      'Server-Sent Events as they are stored (`id:` is the event id, `event:` its type, `data:` the event as JSON); resume with Last-Event-ID',
    query: z.strictObject({ ...filterQuery, afterId: intParam('afterId', 0, Number.MAX_SAFE_INTEGER) }),
    response: {
      mediaType: 'text/event-stream',
      description:
        'Without Last-Event-ID or afterId: only events stored from now on; with either: every stored event after it first',
    },
    async handler({ app, token, query, request, reply, closing }) {
      const header = request.headers['last-event-id']
      let fromId = query.afterId
      if (header !== undefined) {
        const text = Array.isArray(header) ? header[0] : header
        if (text === undefined || !/^\d{1,16}$/.test(text.trim()) || !Number.isSafeInteger(Number(text.trim())))
          throw new RpoError(
            'usage',
            `header "Last-Event-ID": expected an event id (a whole number), got ${JSON.stringify(String(text).slice(0, 40))}`,
          )
        fromId = Number(text.trim())
      }
      const filter = filterOf(token, query)
      // the id to start from is fixed before the answer begins: nothing stored meanwhile is missed
      const start = fromId ?? (await app.events.lastId())
      const abort = new AbortController()
      const stop = () => abort.abort()
      closing.addEventListener('abort', stop)
      reply.hijack()
      const res = reply.raw
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      })
      // the response closes when the client goes away (or once it was ended here)
      res.on('close', stop)
      res.write(': rpo event stream\n\n')
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS)
      try {
        for await (const event of app.events.follow({ fromId: start, filter, signal: abort.signal })) {
          if (!res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`))
            await drained(res, abort.signal)
        }
      } catch (error) {
        // the store failed under the stream: say so in the stream (the status was sent already)
        const message = error instanceof Error ? error.message : String(error)
        if (!res.destroyed)
          res.write(
            `event: error\ndata: ${JSON.stringify({ error: { code: (error as RpoError).code ?? 'internal', message } })}\n\n`,
          )
      } finally {
        clearInterval(heartbeat)
        closing.removeEventListener('abort', stop)
        if (!res.destroyed) res.end()
      }
      return undefined
    },
  }),
]
