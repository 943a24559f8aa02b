/** GET /v1/openapi.json (this API's OpenAPI 3.1 document) and GET /metrics (when the server has a metrics provider). */
import { z } from 'zod'
import { RpoError } from '../../core/errors.js'
import { apiRoute } from '../api-route.js'

export interface MetricsProvider {
  readonly contentType: string
  render(): Promise<string>
}

export function metaRoutes(document: () => Record<string, unknown>, metrics: () => MetricsProvider | undefined) {
  return [
    apiRoute({
      method: 'GET',
      url: '/v1/openapi.json',
      scope: 'read',
      tag: 'meta',
      summary: 'This document',
      query: z.strictObject({}),
      response: { mediaType: 'application/json', description: 'an OpenAPI 3.1 document' },
      async handler({ reply }) {
        await reply.type('application/json; charset=utf-8').send(document())
        return undefined
      },
    }),
    apiRoute({
      method: 'GET',
      url: '/metrics',
      scope: 'read',
      tag: 'meta',
      summary:
        'Metrics in the Prometheus text format (present when the server was given a metrics provider); they cover every project, so a project-restricted token gets 403',
      query: z.strictObject({}),
      response: { mediaType: 'text/plain', description: 'Prometheus exposition format' },
      async handler({ reply, token }) {
        // the series carry every project's budgets, tasks and deadlines: not for a token of one project
        if (token.project !== null)
          throw new RpoError(
            'forbidden',
            `token ${token.id} may see project ${token.project} only, and /metrics covers every project: scrape with a token made without --project`,
          )
        const provider = metrics() as MetricsProvider
        const text = await provider.render()
        await reply.type(provider.contentType).send(text)
        return undefined
      },
    }),
  ]
}
