/** GET /v1/history: past attempts (durations, queue waits) and `rpo history`'s per-stage rows, by window and filters. */
import { z } from 'zod'
import { summarizeStageHistory } from '../../core/estimate/stage-history.js'
import type { AttemptState } from '../../core/scheduling/run-snapshot.js'
import { AttemptStateSchema } from '../../events/event-schemas.js'
import { apiRoute, dateParam, intParam, listParam, oneOf, textParam } from '../api-route.js'
import { projectsFor } from '../auth.js'
import { HistorySchema } from '../response-schemas.js'

const MAX_ATTEMPTS = 1000

export const historyRoutes = [
  apiRoute({
    method: 'GET',
    url: '/v1/history',
    scope: 'read',
    tag: 'history',
    summary:
      'Attempts that ended in a window (newest first; page by passing the oldest endedAt as `until`) and each stage’s durations, waits, failure/retry/resume rates and GPU-hours',
    query: z.strictObject({
      since: dateParam('since'),
      until: dateParam('until'),
      project: textParam('project'),
      pipeline: listParam('pipeline'),
      stage: textParam('stage'),
      user: textParam('user'),
      cluster: textParam('cluster'),
      state: listParam('state', oneOf(AttemptStateSchema.options as readonly string[])),
      limit: intParam('limit', 1, MAX_ATTEMPTS),
    }),
    response: HistorySchema,
    async handler({ app, token, query }) {
      const project = projectsFor(token, query.project === undefined ? undefined : [query.project])?.[0]
      const filter = {
        ...(query.since !== undefined ? { since: query.since } : {}),
        ...(query.until !== undefined ? { until: query.until } : {}),
        ...(project !== undefined ? { project } : {}),
        ...(query.pipeline !== undefined ? { pipeline: query.pipeline } : {}),
        ...(query.stage !== undefined ? { stage: query.stage } : {}),
        ...(query.user !== undefined ? { user: query.user } : {}),
        ...(query.cluster !== undefined ? { cluster: query.cluster } : {}),
      }
      const [attempts, window] = await Promise.all([
        app.store.history.attempts({
          ...filter,
          ...(query.state ? { states: query.state as AttemptState[] } : {}),
          limit: query.limit ?? 100,
        }),
        app.store.history.attempts(filter),
      ])
      // the same per-stage rows as `rpo history`, over the whole window
      return { attempts, stages: summarizeStageHistory(window) }
    },
  }),
]
