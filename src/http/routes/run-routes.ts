/** GET /v1/runs (newest first, filtered, paged by cursor) and GET /v1/runs/:runId (tasks, attempts, expected vs actual). */
import { z } from 'zod'
import { RpoError } from '../../core/errors.js'
import type { RunState } from '../../core/scheduling/run-snapshot.js'
import { RunStateSchema } from '../../events/event-schemas.js'
import { apiRoute, intParam, listParam, oneOf, textParam } from '../api-route.js'
import { projectsFor, requireProject } from '../auth.js'
import { RunDetailSchema, RunPageSchema } from '../response-schemas.js'
import { runDetail, runSummaries } from '../run-views.js'

const RUN_STATES = RunStateSchema.options as readonly string[]
const MAX_PAGE = 200

export const runRoutes = [
  apiRoute({
    method: 'GET',
    url: '/v1/runs',
    scope: 'read',
    tag: 'runs',
    summary: 'Runs, newest first, with progress and expected vs actual; filtered and paged',
    query: z.strictObject({
      state: listParam('state', oneOf(RUN_STATES)),
      project: listParam('project'),
      pipeline: listParam('pipeline'),
      limit: intParam('limit', 1, MAX_PAGE),
      cursor: textParam('cursor', (text) =>
        decodeCursor(text) ? null : 'not a cursor this API gave (pass nextCursor as it is)',
      ),
    }),
    response: RunPageSchema,
    async handler({ app, token, query }) {
      const limit = query.limit ?? 50
      const projects = projectsFor(token, query.project)
      const runs = await app.store.listing.page({
        ...(query.state ? { states: query.state as RunState[] } : {}),
        ...(projects ? { projects } : {}),
        ...(query.pipeline ? { pipelines: query.pipeline } : {}),
        ...(query.cursor ? { after: decodeCursor(query.cursor) as { createdAt: string; id: string } } : {}),
        limit,
      })
      const last = runs.at(-1)
      return {
        runs: await runSummaries(app, runs),
        nextCursor: runs.length === limit && last ? encodeCursor(last.createdAt, last.id) : null,
      }
    },
  }),
  apiRoute({
    method: 'GET',
    url: '/v1/runs/:runId',
    scope: 'read',
    tag: 'runs',
    summary: 'One run: its tasks with expected vs actual, every attempt, and the run’s projection',
    params: z.strictObject({ runId: z.string().min(1).max(200) }),
    query: z.strictObject({}),
    response: RunDetailSchema,
    errors: { 404: 'no such run' },
    async handler({ app, token, params }) {
      // the run's project is known only once it is read; another project's run is 403, not 404
      const { run, detail } = await runDetail(app, params.runId)
      requireProject(token, run.project)
      return detail
    },
  }),
]

function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id]), 'utf8').toString('base64url')
}

function decodeCursor(text: string): { createdAt: string; id: string } | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'string'))
      return { createdAt: value[0] as string, id: value[1] as string }
  } catch {
    // not JSON: not ours
  }
  if (text === '') throw new RpoError('usage', 'query parameter "cursor" is empty')
  return null
}
