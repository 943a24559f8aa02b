/**
 * The HTTP API on a PostgreSQL store (RPO_TEST_PG_URL; the suite fails when the server is missing):
 * tokens (migration 008) verified and revoked, runs and their detail, the event stream resumed
 * with Last-Event-ID, and an admin budget change persisted and seen by `rpo budget report`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BudgetReportSchema, RunDetailSchema, RunPageSchema } from '../../src/http/response-schemas.js'
import { runCli } from '../support/cli-harness.js'
import { postgresHarness } from '../support/store-dialects.js'
import {
  getJson,
  openEventStream,
  postJson,
  removeWorkspace,
  type ServedApi,
  serve,
  tickError,
  workspaceWithRuns,
} from './http-harness.js'

const harness = postgresHarness()
let dir = ''
let runs: Record<string, string> = {}
let api: ServedApi

beforeAll(async () => {
  const target = await harness.setUp()
  if (target.kind !== 'postgres') throw new Error('expected a PostgreSQL target')
  ;({ dir, runs } = await workspaceWithRuns(`store: { url: "${target.url}" }\n`))
  api = await serve(dir)
})

afterAll(async () => {
  await api?.close()
  removeWorkspace(dir)
  await harness.tearDown()
})

describe('rpo serve on PostgreSQL', () => {
  it('authenticates with stored token hashes and serves runs, a project-restricted view and 401/403', async () => {
    expect(api.app.store.dialect).toBe('postgres')
    const page = RunPageSchema.parse((await getJson(api, '/v1/runs')).body)
    expect(page.runs.map((r) => r.runId)).toEqual([runs.nlp, runs.vision])
    const detail = RunDetailSchema.parse((await getJson(api, `/v1/runs/${runs.vision}`)).body)
    expect(detail.tasks.map((t) => [t.id, t.state])).toEqual([
      ['a', 'succeeded'],
      ['b', 'succeeded'],
    ])
    expect(detail.attempts).toHaveLength(2)
    const restricted = RunPageSchema.parse((await getJson(api, '/v1/runs', api.tokens.visionRead)).body)
    expect(restricted.runs.map((r) => r.runId)).toEqual([runs.vision])
    expect((await getJson(api, `/v1/runs/${runs.nlp}`, api.tokens.visionRead)).status).toBe(403)
    expect((await getJson(api, '/v1/runs', null)).status).toBe(401)
    expect((await getJson(api, '/v1/runs', api.tokens.revoked)).status).toBe(401)
    const readOnly = await postJson(api, '/v1/budgets/settings', {}, api.tokens.read as string)
    expect(readOnly.status).toBe(403)
  })

  it('resumes the event stream with Last-Event-ID', async () => {
    const start = await api.app.events.lastId()
    const first = await openEventStream(api, `?afterId=${start}&type=tick.error`)
    await api.app.events.record([tickError('pg one'), tickError('pg two')])
    const seen = await first.take(2)
    first.close()
    await first.ended()
    await api.app.events.record([tickError('pg three')])
    const again = await openEventStream(api, '?type=tick.error', { 'last-event-id': String(seen[1]?.id) })
    const [third] = await again.take(1)
    again.close()
    expect(third?.type === 'tick.error' && third.payload.message).toBe('pg three')
    expect(third?.id).toBeGreaterThan(seen[1]?.id as number)
  })

  it('persists an admin budget change that `rpo budget report` shows', async () => {
    const set = await postJson(
      api,
      '/v1/budgets/settings',
      { project: 'vision', resource: 'cpu-hours', amount: 7, period: 'rolling:30d', cap: 'soft' },
      api.tokens.visionAdmin as string,
    )
    expect(set.status, JSON.stringify(set.body)).toBe(200)
    const report = JSON.parse((await runCli(dir, ['budget', 'report', '--project', 'vision', '--json'])).stdout)
    expect(report.budgets[0]).toMatchObject({ project: 'vision', amount: 7, cap: 'soft', window: 'last 30 days' })
    const served = BudgetReportSchema.parse((await getJson(api, '/v1/budgets?project=vision')).body)
    expect(served.budgets[0]).toMatchObject({ amount: 7, cap: 'soft' })
  })
})
