/** GET /v1/runs (newest first, filtered, paged by cursor) and GET /v1/runs/:runId (tasks, attempts, expected vs actual). */
import { z } from 'zod'
import { RpoError } from '../../core/errors.js'
import type { RunState } from '../../core/scheduling/run-snapshot.js'
import { AttemptStateSchema, RunStateSchema, TaskStateSchema } from '../../events/event-schemas.js'
import { apiRoute, intParam, listParam, oneOf, textParam } from '../api-route.js'
import { projectsFor, requireProject } from '../auth.js'
import { AttemptPageSchema, RunDetailSchema, RunPageSchema, TaskPageSchema } from '../response-schemas.js'
import { attemptCursorProblem, attemptPage, taskPage } from '../run-pages.js'
import { runDetail, runSummaries } from '../run-views.js'

const RUN_STATES = RunStateSchema.options as readonly string[]
// an expanded foreach template is not listed: its instances are
const TASK_STATES = TaskStateSchema.options.filter((state) => state !== 'expanded') as readonly string[]
const MAX_PAGE = 200
/** Tasks and attempts per page: default and most. */
const ITEMS_PAGE = 100
const MAX_ITEMS_PAGE = 1000
const runParams = z.strictObject({ runId: z.string().min(1).max(200) })

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
    params: runParams,
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
  apiRoute({
    method: 'GET',
    url: '/v1/runs/:runId/tasks',
    scope: 'read',
    tag: 'runs',
    summary:
      'A run’s tasks a page at a time, in the run’s order, each with expected vs actual; filtered by state, stage or id prefix',
    params: runParams,
    query: z.strictObject({
      state: listParam('state', oneOf(TASK_STATES)),
      stage: listParam('stage').meta({
        description: 'the task’s name in the pipeline file (sweep instances share it); repeat or separate with commas',
      }),
      prefix: textParam('prefix').meta({ description: 'tasks whose id starts with this' }),
      after: textParam('after').meta({ description: 'a task id: the tasks after it (pass the answer’s `next`)' }),
      limit: intParam('limit', 1, MAX_ITEMS_PAGE).meta({
        description: `tasks per page, 1 to ${MAX_ITEMS_PAGE} (default ${ITEMS_PAGE})`,
      }),
    }),
    response: TaskPageSchema,
    errors: { 404: 'no such run' },
    handler: ({ app, token, params, query }) =>
      taskPage(app, token, params.runId, { ...query, limit: query.limit ?? ITEMS_PAGE }),
  }),
  apiRoute({
    method: 'GET',
    url: '/v1/runs/:runId/attempts',
    scope: 'read',
    tag: 'runs',
    summary: 'A run’s attempts a page at a time, by task then attempt number; filtered by task and state',
    params: runParams,
    query: z.strictObject({
      task: listParam('task').meta({ description: 'task ids; repeat the parameter or separate them with commas' }),
      state: listParam('state', oneOf(AttemptStateSchema.options as readonly string[])),
      after: textParam('after', attemptCursorProblem).meta({
        description: '`<taskId>:<attempt>`: the attempts after it (pass the answer’s `next`)',
      }),
      limit: intParam('limit', 1, MAX_ITEMS_PAGE).meta({
        description: `attempts per page, 1 to ${MAX_ITEMS_PAGE} (default ${ITEMS_PAGE})`,
      }),
    }),
    response: AttemptPageSchema,
    errors: { 404: 'no such run' },
    handler: ({ app, token, params, query }) =>
      attemptPage(app, token, params.runId, { ...query, limit: query.limit ?? ITEMS_PAGE }),
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
