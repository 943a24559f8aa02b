/**
 * GET /v1/history: past attempts (durations, queue waits) and `rpo history`'s per-stage rows, by
 * window and filters; GET /v1/efficiency: `rpo history --efficiency --json` of the same window, from
 * the stored figures only (a request never asks a cluster's accounting).
 */
import { z } from 'zod'
import { summarizeStageHistory } from '../../core/estimate/stage-history.js'
import type { AttemptState } from '../../core/scheduling/run-snapshot.js'
import { AttemptStateSchema } from '../../events/event-schemas.js'
import { DEFAULT_EFFICIENCY_ATTEMPTS, historyEfficiency } from '../../monitor/history-efficiency.js'
import type { HistoryFilter } from '../../store/history-queries.js'
import { apiRoute, dateParam, intParam, listParam, oneOf, textParam } from '../api-route.js'
import { projectsFor } from '../auth.js'
import { EfficiencySchema, HistorySchema } from '../response-schemas.js'

const MAX_ATTEMPTS = 1000
/** As `rpo history --limit` allows. */
const MAX_EFFICIENCY_ATTEMPTS = 1_000_000

const windowQuery = {
  since: dateParam('since'),
  until: dateParam('until'),
  project: textParam('project'),
  pipeline: listParam('pipeline'),
  stage: textParam('stage'),
  user: textParam('user'),
  cluster: textParam('cluster'),
}

interface WindowQuery {
  readonly since?: string | undefined
  readonly until?: string | undefined
  readonly project?: string | undefined
  readonly pipeline?: string[] | undefined
  readonly stage?: string | undefined
  readonly user?: string | undefined
  readonly cluster?: string | undefined
}

/** The history filter a request asks for, within its token's project. */
function windowFilter(token: Parameters<typeof projectsFor>[0], query: WindowQuery): HistoryFilter {
  const project = projectsFor(token, query.project === undefined ? undefined : [query.project])?.[0]
  return {
    ...(query.since !== undefined ? { since: query.since } : {}),
    ...(query.until !== undefined ? { until: query.until } : {}),
    ...(project !== undefined ? { project } : {}),
    ...(query.pipeline !== undefined ? { pipeline: query.pipeline } : {}),
    ...(query.stage !== undefined ? { stage: query.stage } : {}),
    ...(query.user !== undefined ? { user: query.user } : {}),
    ...(query.cluster !== undefined ? { cluster: query.cluster } : {}),
  }
}

export const historyRoutes = [
  apiRoute({
    method: 'GET',
    url: '/v1/history',
    scope: 'read',
    tag: 'history',
    summary:
      'Attempts that ended in a window (newest first; page by passing the oldest endedAt as `until`) and each stage’s durations, waits, failure/retry/resume rates and GPU-hours',
    query: z.strictObject({
      ...windowQuery,
      state: listParam('state', oneOf(AttemptStateSchema.options as readonly string[])),
      limit: intParam('limit', 1, MAX_ATTEMPTS),
    }),
    response: HistorySchema,
    async handler({ app, token, query }) {
      const filter = windowFilter(token, query)
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
  apiRoute({
    method: 'GET',
    url: '/v1/efficiency',
    scope: 'read',
    tag: 'history',
    summary:
      'Efficiency of the attempts that ended in a window, as `rpo history --efficiency --json`: CPU efficiency, memory high-water vs asked, GPU-hours allocated/used/unknown per stage, the waste and right-sizing; from stored accounting figures only',
    query: z.strictObject({
      ...windowQuery,
      limit: intParam('limit', 1, MAX_EFFICIENCY_ATTEMPTS).meta({
        description: `newest attempts read, 1 to ${MAX_EFFICIENCY_ATTEMPTS} (default ${DEFAULT_EFFICIENCY_ATTEMPTS})`,
      }),
    }),
    response: EfficiencySchema,
    async handler({ app, token, query }) {
      const filter = { ...windowFilter(token, query), limit: query.limit ?? DEFAULT_EFFICIENCY_ATTEMPTS }
      return historyEfficiency(app, filter, { askAccounting: false })
    },
  }),
]
