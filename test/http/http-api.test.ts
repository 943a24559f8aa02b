/**
 * The HTTP API over real HTTP on 127.0.0.1, against a SQLite store with two real local runs: every
 * route refused without a token (401) and with a wrong scope (403), enumerated from the server
 * itself; the answers parsed with the documented schemas; a project-restricted token; bad and
 * fuzzed query parameters on every GET route the server has (4xx, never 500); admin budget
 * changes seen by `rpo budget report`; /metrics; the OpenAPI document equal to docs/openapi.json;
 * no token ever in the log.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiDocument } from '../../src/http/build-server.js'
import {
  BudgetReportSchema,
  EventPageSchema,
  HistorySchema,
  ProjectListSchema,
  RunDetailSchema,
  RunPageSchema,
} from '../../src/http/response-schemas.js'
import { REPO_ROOT, runCli } from '../support/cli-harness.js'
import { getJson, postJson, removeWorkspace, type ServedApi, serve, workspaceWithRuns } from './http-harness.js'

let dir = ''
let runs: Record<string, string> = {}
let api: ServedApi

beforeAll(async () => {
  ;({ dir, runs } = await workspaceWithRuns())
  api = await serve(dir, { metrics: { contentType: 'text/plain; version=0.0.4', render: async () => 'rpo_up 1\n' } })
})

afterAll(async () => {
  await api?.close()
  removeWorkspace(dir)
})

/** A concrete path for a route pattern. */
const concrete = (url: string) =>
  url
    .replace(':runId', runs.vision as string)
    .replace(':project', 'vision')
    .replace(':grantId', 'grant-none')

async function call(method: string, url: string, token: string | null) {
  const response = await fetch(`${api.url}${concrete(url)}`, {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
    },
    ...(method === 'POST' ? { body: '{}' } : {}),
  })
  const text = response.headers.get('content-type')?.includes('event-stream') ? '' : await response.text()
  await response.body?.cancel().catch(() => undefined)
  return { status: response.status, text }
}

describe('rpo serve: authentication', () => {
  it('refuses every route without a token, with an unknown or revoked one (401), and with a read token where admin is needed (403)', async () => {
    const routes = api.server.registeredRoutes
    // every route the server has says who may call it; the admin ones are the budget changes
    expect(routes.length).toBeGreaterThanOrEqual(11)
    expect(routes.every((r) => r.scope === 'read' || r.scope === 'admin')).toBe(true)
    expect(routes.filter((r) => r.scope === 'admin').every((r) => r.method === 'POST')).toBe(true)
    for (const route of routes) {
      const where = `${route.method} ${route.url}`
      for (const token of [null, 'rpo_not-a-token-at-all', 'garbage', api.tokens.revoked as string]) {
        const answer = await call(route.method, route.url, token)
        expect(answer.status, `${where} with ${token}`).toBe(401)
        expect(JSON.parse(answer.text).error.code).toBe('unauthenticated')
      }
      const wrongScope = await call(route.method, route.url, api.tokens.read as string)
      if (route.scope === 'admin') {
        expect(wrongScope.status, where).toBe(403)
        expect(JSON.parse(wrongScope.text).error.code).toBe('forbidden')
      } else expect(wrongScope.status, where).toBe(200)
    }
    // an unknown path says nothing to a caller without a token
    expect((await call('GET', '/v1/nothing', null)).status).toBe(401)
    expect((await call('GET', '/v1/nothing', api.tokens.read as string)).status).toBe(404)
  })

  it('records when a token was last used, and never logs a token', async () => {
    const listed = await api.app.store.tokens.list()
    expect(listed.find((t) => t.name === 'read')?.lastUsedAt).not.toBeNull()
    expect(listed.find((t) => t.name === 'revoked')?.lastUsedAt).toBeNull()
    const log = api.log()
    // requests were logged, with their URLs, at trace level: the log is not simply empty
    expect(log).toContain('"url":"/v1/runs"')
    expect(log).toContain('"statusCode":401')
    for (const secret of Object.values(api.tokens)) {
      expect(log).not.toContain(secret)
      expect(log).not.toContain(secret.slice(4, 24))
    }
    expect(log).not.toContain('rpo_not-a-token-at-all')
    expect(log.toLowerCase()).not.toContain('bearer')
  })
})

describe('rpo serve: reading', () => {
  it('answers a listed ended run again from its row once the row changes (ended runs are summarised once per history read)', async () => {
    const before = RunPageSchema.parse((await getJson(api, '/v1/runs?project=vision')).body).runs[0]
    expect(before?.finishedAt).not.toBeNull()
    // another process rewrites the ended run (as a later true-up might): the next listing must say what the row says
    const db = new Database(path.join(dir, '.rpo', 'rpo.sqlite'))
    const finishedAt = new Date(Date.parse(before?.finishedAt as string) + 3_600_000).toISOString()
    try {
      db.prepare('update runs set finished_at = ?, updated_at = ? where id = ?').run(
        finishedAt,
        finishedAt,
        runs.vision,
      )
      const after = RunPageSchema.parse((await getJson(api, '/v1/runs?project=vision')).body).runs[0]
      expect(after?.finishedAt).toBe(finishedAt)
      expect(after?.elapsedSeconds).toBeCloseTo((before?.elapsedSeconds as number) + 3600, 3)
    } finally {
      db.prepare('update runs set finished_at = ?, updated_at = ? where id = ?').run(
        before?.finishedAt,
        before?.finishedAt,
        runs.vision,
      )
      db.close()
    }
  })

  it('lists runs newest first, filtered and paged, each with progress and expected vs actual', async () => {
    const all = RunPageSchema.parse((await getJson(api, '/v1/runs')).body)
    expect(all.runs.map((r) => r.runId)).toEqual([runs.nlp, runs.vision])
    expect(all.nextCursor).toBeNull()
    const vision = all.runs[1]
    expect(vision).toMatchObject({ pipeline: 'train', project: 'vision', state: 'succeeded', total: 2, done: 2 })
    expect(vision?.estimate?.deadline).toBe('2099-01-01T00:00:00Z')
    expect(vision?.estimate?.slackSeconds).toBeGreaterThan(0)

    const failed = RunPageSchema.parse((await getJson(api, '/v1/runs?state=failed,cancelled')).body)
    expect(failed.runs.map((r) => r.runId)).toEqual([runs.nlp])
    const byPipeline = RunPageSchema.parse((await getJson(api, '/v1/runs?pipeline=train&project=vision')).body)
    expect(byPipeline.runs.map((r) => r.runId)).toEqual([runs.vision])

    const first = RunPageSchema.parse((await getJson(api, '/v1/runs?limit=1')).body)
    expect(first.runs.map((r) => r.runId)).toEqual([runs.nlp])
    const second = RunPageSchema.parse(
      (await getJson(api, `/v1/runs?limit=1&cursor=${first.nextCursor as string}`)).body,
    )
    expect(second.runs.map((r) => r.runId)).toEqual([runs.vision])
    const third = RunPageSchema.parse(
      (await getJson(api, `/v1/runs?limit=1&cursor=${second.nextCursor as string}`)).body,
    )
    expect(third).toEqual({ runs: [], nextCursor: null })
  })

  it('shows one run with its tasks, attempts and expected-vs-actual view', async () => {
    const { status, body } = await getJson(api, `/v1/runs/${runs.nlp}`)
    expect(status).toBe(200)
    const run = RunDetailSchema.parse(body)
    expect(run.tasks.map((t) => [t.id, t.state])).toEqual([['only', 'failed']])
    expect(run.attempts).toEqual([
      expect.objectContaining({ taskId: 'only', attempt: 1, state: 'failed', exitCode: 3 }),
    ])
    expect(run.tasks[0]?.estimate?.actualEnd).not.toBeNull()
    expect(run.estimate?.actualEnd).not.toBeNull()
    const missing = await getJson(api, '/v1/runs/no-such-run')
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'run-not-found' } } })
  })

  it('reports projects, budgets (as `rpo budget report`), history and events', async () => {
    const projects = ProjectListSchema.parse((await getJson(api, '/v1/projects')).body).projects
    expect(projects.map((p) => p.project)).toEqual(['nlp', 'vision'])
    const vision = projects.find((p) => p.project === 'vision')
    expect(vision).toMatchObject({ deadline: '2099-01-01T00:00:00Z', atRisk: false, tasks: { total: 2, done: 2 } })
    expect(vision?.runs).toEqual({ total: 1, unfinished: 0, projected: [runs.vision] })
    expect(vision?.slackSeconds).toBeGreaterThan(0)
    expect((await getJson(api, '/v1/projects/vision')).body).toEqual(vision)
    expect((await getJson(api, '/v1/projects/nope')).status).toBe(404)

    const report = BudgetReportSchema.parse((await getJson(api, '/v1/budgets?by=task')).body)
    const cli = await runCli(dir, ['budget', 'report', '--by', 'task', '--json'])
    // the same report but for the moment it was made: the burn rate is per day until now
    const sameMoment = ({ at: _at, budgets, ...rest }: { at: string; budgets: { burnPerDay: number }[] }) => ({
      ...rest,
      budgets: budgets.map((b) => ({ ...b, burnPerDay: Number(b.burnPerDay.toPrecision(4)) })),
    })
    expect(sameMoment(report)).toEqual(sameMoment(JSON.parse(cli.stdout)))
    expect(report.budgets.map((b) => b.project)).toEqual(['vision', 'nlp'])

    const history = HistorySchema.parse((await getJson(api, '/v1/history?project=vision')).body)
    expect(history.attempts.map((a) => a.taskId).sort()).toEqual(['a', 'b'])
    expect(history.stages.map((o) => [o.stage, o.succeeded])).toEqual([
      ['a', 1],
      ['b', 1],
    ])
    const failedOnly = HistorySchema.parse((await getJson(api, '/v1/history?state=failed')).body)
    expect(failedOnly.attempts.map((a) => a.runId)).toEqual([runs.nlp])

    const page = EventPageSchema.parse((await getJson(api, '/v1/events?afterId=0&limit=1000')).body)
    expect(page.events).toEqual(await api.app.events.list({ afterId: 0, limit: 1000 }))
    const finished = EventPageSchema.parse((await getJson(api, '/v1/events?type=run.finished&project=nlp')).body)
    expect(finished.events.map((e) => [e.type, e.runId])).toEqual([['run.finished', runs.nlp]])
    const next = EventPageSchema.parse((await getJson(api, `/v1/events?afterId=${page.nextAfterId}`)).body)
    expect(next).toEqual({ events: [], nextAfterId: page.nextAfterId })
  })

  it('shows a project-restricted token its project only, and refuses it any other (403)', async () => {
    const token = api.tokens.visionRead as string
    const own = RunPageSchema.parse((await getJson(api, '/v1/runs', token)).body)
    expect(own.runs.map((r) => r.runId)).toEqual([runs.vision])
    const events = EventPageSchema.parse((await getJson(api, '/v1/events?limit=1000', token)).body).events
    expect(events.length).toBeGreaterThan(0)
    expect(new Set(events.map((e) => e.project))).toEqual(new Set(['vision']))
    const projects = ProjectListSchema.parse((await getJson(api, '/v1/projects', token)).body).projects
    expect(projects.map((p) => p.project)).toEqual(['vision'])
    const budgets = BudgetReportSchema.parse((await getJson(api, '/v1/budgets', token)).body)
    expect(budgets.budgets.map((b) => b.project)).toEqual(['vision'])
    const history = HistorySchema.parse((await getJson(api, '/v1/history', token)).body)
    expect(new Set(history.attempts.map((a) => a.project))).toEqual(new Set(['vision']))
    for (const url of [
      `/v1/runs/${runs.nlp}`,
      `/v1/runs/${runs.nlp}/tasks`,
      `/v1/runs/${runs.nlp}/attempts`,
      '/v1/runs?project=nlp',
      '/v1/projects/nlp',
      '/v1/projects?project=vision,nlp',
      '/v1/budgets?project=nlp',
      '/v1/history?project=nlp',
      '/v1/events?project=nlp',
      '/v1/events/stream?project=nlp',
    ]) {
      const answer = await getJson(api, url, token)
      expect(answer.status, url).toBe(403)
      expect(answer.body.error.message).toMatch(/may see project vision only, not project nlp/)
    }
  })
})

describe('rpo serve: bad input', () => {
  it.each([
    ['/v1/runs?limit=0', /query parameter "limit": expected a whole number from 1 to 200, got "0"/],
    ['/v1/runs?limit=1e3', /"limit"/],
    ['/v1/runs?limit=5&limit=6', /query parameter "limit" is given 2 times/],
    ['/v1/runs?state=done', /query parameter "state": "done" is not one of running/],
    ['/v1/runs?cursor=xyz', /query parameter "cursor": not a cursor this API gave/],
    ['/v1/runs?bogus=1', /unknown query parameter "bogus"/],
    ['/v1/events?afterId=-1', /query parameter "afterId"/],
    ['/v1/events?type=task.started', /query parameter "type": unknown event type "task.started"/],
    ['/v1/history?since=yesterday', /query parameter "since": expected an ISO date/],
    ['/v1/budgets?by=week', /query parameter "by": "week" is not one of user, task, gpu-type, day/],
    ['/v1/budgets?project=bad%20name', /project "bad name"/],
  ])('%s is 400 and names the parameter', async (url, message) => {
    const { status, body } = await getJson(api, url)
    expect(status).toBe(400)
    expect(body.error.code).toBe('usage')
    expect(body.error.message).toMatch(message)
  })

  it('answers fuzzed query parameters with 200 or a 4xx, never a 5xx', async () => {
    const gets = api.server.registeredRoutes.filter((r) => r.method === 'GET')
    const names = [
      ...['state', 'project', 'pipeline', 'limit', 'cursor', 'afterId', 'type', 'runId', 'since', 'until'],
      ...['after', 'task', 'stage', 'prefix'],
    ]
    const value = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.string({ unit: 'grapheme', maxLength: 10 }),
      fc.integer().map(String),
      fc.constantFrom('', '0', '-1', '1e3', '9007199254740993', 'vision', 'run.finished', '2026-13-45', '%', '\u0000'),
      // task ids and attempt cursors of the runs' tasks, and near misses
      fc.constantFrom('a', 'b', 'only', 'a:1', 'a:0', 'b:99', ':1', 'a:', 'succeeded', 'failed'),
    )
    const param = fc.tuple(fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 8 })), value)
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...gets), fc.array(param, { maxLength: 4 }), async (route, params) => {
        const query = new URLSearchParams(params).toString()
        const abort = new AbortController()
        const response = await fetch(`${api.url}${concrete(route.url)}?${query}`, {
          headers: { authorization: `Bearer ${api.tokens.read}` },
          signal: abort.signal,
        })
        abort.abort()
        await response.body?.cancel().catch(() => undefined)
        expect(response.status, `${route.url}?${query}`).toBeLessThan(500)
      }),
      { numRuns: 250 },
    )
  })

  it('refuses a malformed body or Last-Event-ID, naming it', async () => {
    const admin = api.tokens.admin as string
    const missing = await postJson(api, '/v1/budgets/settings', { project: 'nlp' }, admin)
    expect(missing).toMatchObject({ status: 400, body: { error: { code: 'usage' } } })
    expect(missing.body.error.message).toMatch(/body field "resource"/)
    const extra = await postJson(
      api,
      '/v1/budgets/settings',
      { project: 'nlp', resource: 'cpu-hours', amount: 1, x: 1 },
      admin,
    )
    expect(extra.body.error.message).toMatch(/unknown body field "x"/)
    const negative = await postJson(
      api,
      '/v1/budgets/settings',
      { project: 'nlp', resource: 'cpu-hours', amount: -1 },
      admin,
    )
    expect(negative.body.error.message).toMatch(/^amount "-1"/)
    const notJson = await fetch(`${api.url}/v1/budgets/settings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{"project":',
    })
    expect(notJson.status).toBe(400)
    const badId = await fetch(`${api.url}/v1/events/stream`, {
      headers: { authorization: `Bearer ${api.tokens.read}`, 'last-event-id': 'abc' },
    })
    expect(badId.status).toBe(400)
    expect(((await badId.json()) as { error: { message: string } }).error.message).toMatch(/header "Last-Event-ID"/)
  })
})

describe('rpo serve: admin', () => {
  it('changes budgets through the same checks as `rpo budget`, and the report shows the change', async () => {
    const admin = api.tokens.admin as string
    const set = await postJson(
      api,
      '/v1/budgets/settings',
      { project: 'nlp', resource: 'cpu-hours', amount: 42, note: 'more' },
      admin,
    )
    expect(set.status, JSON.stringify(set.body)).toBe(200)
    expect(set.body).toMatchObject({ project: 'nlp', amount: 42, actor: 'alice', approvedAs: 'global admin' })
    const report = JSON.parse((await runCli(dir, ['budget', 'report', '--project', 'nlp', '--json'])).stdout)
    expect(report.budgets[0]).toMatchObject({ project: 'nlp', amount: 42 })
    expect(report.changes.at(-1)).toMatchObject({ kind: 'set', approvedBy: 'alice', note: 'more' })

    const grant = await postJson(
      api,
      '/v1/budgets/grants',
      { from: 'nlp', to: 'vision', resource: 'cpu-hours', amount: '2.5', expires: '7d' },
      admin,
    )
    expect(grant.status, JSON.stringify(grant.body)).toBe(200)
    expect(grant.body).toMatchObject({ kind: 'grant', from: 'allocation:nlp', to: 'allocation:vision', actor: 'alice' })
    const tooMuch = await postJson(
      api,
      '/v1/budgets/grants',
      { from: 'nlp', to: 'vision', resource: 'cpu-hours', amount: 1000, expires: '7d' },
      admin,
    )
    expect(tooMuch).toMatchObject({ status: 409, body: { error: { code: 'lend-exceeds-remaining' } } })

    // a project-restricted admin changes its own project only; one whose maker is no admin, nothing
    const vision = api.tokens.visionAdmin as string
    expect((await postJson(api, `/v1/budgets/grants/${grant.body.key}/revoke`, {}, vision)).status).toBe(403)
    const mallory = await postJson(
      api,
      '/v1/budgets/settings',
      { project: 'nlp', resource: 'cpu-hours', amount: 1 },
      api.tokens.mallory as string,
    )
    expect(mallory).toMatchObject({ status: 403, body: { error: { code: 'budget-not-permitted' } } })
    expect(mallory.body.error.message).toMatch(/user mallory may not change project nlp's budget/)

    const revoke = await postJson(api, `/v1/budgets/grants/${grant.body.key}/revoke`, { amount: 1 }, admin)
    expect(revoke.status, JSON.stringify(revoke.body)).toBe(200)
    expect(revoke.body).toMatchObject({ kind: 'revoke', grantId: grant.body.key })
    const after = BudgetReportSchema.parse((await getJson(api, '/v1/budgets?project=vision')).body)
    expect(after.budgets[0]?.borrowed).toBeCloseTo(1.5, 9)
    expect((await postJson(api, '/v1/budgets/grants/grant-none/revoke', {}, admin)).status).toBe(404)
  })
})

describe('rpo serve: metrics and the OpenAPI document', () => {
  it('serves the metrics provider’s text at /metrics', async () => {
    const response = await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${api.tokens.read}` } })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4')
    expect(await response.text()).toBe('rpo_up 1\n')
  })

  it('refuses /metrics to a token of one project: the series cover every project (403)', async () => {
    const response = await fetch(`${api.url}/metrics`, {
      headers: { authorization: `Bearer ${api.tokens.visionRead}` },
    })
    expect(response.status).toBe(403)
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/covers every project/)
  })

  it('serves the document generated from the schemas, equal to docs/openapi.json, naming every route with its scope', async () => {
    const served = (await getJson(api, '/v1/openapi.json')).body
    expect(served).toEqual(apiDocument())
    const committed = JSON.parse(readFileSync(path.join(REPO_ROOT, 'docs/openapi.json'), 'utf8'))
    // regenerate with: node bin/rpo.js serve --print-openapi > docs/openapi.json
    expect(committed).toEqual(served)
    expect(served.openapi).toBe('3.1.0')
    for (const route of api.server.registeredRoutes) {
      const operation = served.paths[route.url.replace(/:([A-Za-z]+)/g, '{$1}')]?.[route.method.toLowerCase()]
      expect(operation, `${route.method} ${route.url}`).toBeDefined()
      expect(operation['x-rpo-scope']).toBe(route.scope)
    }
    expect(served.components.schemas.RunDetail.properties.attempts).toBeDefined()
  })
})

// after every other suite: a fuzzed admin body that happens to be valid changes a budget, which
// must not move what the tests above check
describe('rpo serve: fuzzed paths and bodies', () => {
  it('answers fuzzed path parameters and admin bodies with a 4xx or a success, never a 5xx', async () => {
    const admin = api.tokens.admin as string
    const routes = api.server.registeredRoutes.filter((r) => r.url.includes(':') || r.method === 'POST')
    const text = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom('', '..', '%2e%2e', 'vision', 'grant-none', 'a'.repeat(300), '\u0000', '%00', '-1'),
    )
    const field = fc.oneof(
      fc.constantFrom('project', 'user', 'resource', 'gpuType', 'amount', 'period', 'cap', 'note', 'to', 'from'),
      fc.constantFrom('expires', 'grantId', '__proto__', 'constructor'),
      fc.string({ maxLength: 8 }),
    )
    const value = fc.oneof(
      text,
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom('gpu-hours', 'cpu-hours', 'month', 'rolling:7d', 'hard', 'soft', '2026-13-01'),
      fc.array(fc.integer(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
    )
    const body = fc.oneof(
      fc.dictionary(field, value, { maxKeys: 6 }),
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom('{', '[]', 'null', '"x"', '{"amount":1e999}'),
    )
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), text, body, async (route, segment, payload) => {
        const url = route.url.replace(/:[A-Za-z]+/g, () => encodeURIComponent(segment) || 'x')
        const abort = new AbortController()
        const response = await fetch(`${api.url}${url}`, {
          method: route.method,
          headers: {
            authorization: `Bearer ${route.method === 'POST' ? admin : api.tokens.read}`,
            ...(route.method === 'POST' ? { 'content-type': 'application/json' } : {}),
          },
          ...(route.method === 'POST' ? { body: typeof payload === 'string' ? payload : JSON.stringify(payload) } : {}),
          signal: abort.signal,
        })
        abort.abort()
        await response.body?.cancel().catch(() => undefined)
        expect(response.status, `${route.method} ${url} ${JSON.stringify(payload)}`).toBeLessThan(500)
      }),
      { numRuns: 200 },
    )
  })
})

// last: after the admin changes and the fuzzing above, the server's log still carries no token
describe('rpo serve: the log at the end', () => {
  it('never logged a token, whatever the requests were', () => {
    const log = api.log()
    for (const secret of Object.values(api.tokens)) {
      expect(log).not.toContain(secret)
      expect(log).not.toContain(secret.slice(4, 24))
    }
    expect(log.toLowerCase()).not.toContain('bearer')
  })
})
