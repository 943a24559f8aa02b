/**
 * A run's tasks and attempts through the API, against a real store with a real sweep run (a
 * preparation, 12 sweep instances, a task that fails twice): an attempt with every field the
 * library has (every optional usage figure, gpuUtilPercent included) comes back whole, not stripped;
 * the schemas refuse a field they do not know; GET /v1/runs/:runId/tasks and /attempts page in
 * order with their cursors, filter, keep a project-restricted token to its project (403), and say
 * 404 for an unknown run and 400 for bad parameters.
 */
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ResourceUsage } from '../../src/core/job/job-observation.js'
import {
  AttemptPageSchema,
  AttemptSchema,
  HistorySchema,
  RunDetailSchema,
  TaskPageSchema,
} from '../../src/http/response-schemas.js'
import type { AttemptRecord } from '../../src/store/run-store.js'
import { runCli, writePipeline } from '../support/cli-harness.js'
import { getJson, removeWorkspace, type ServedApi, serve, workspaceWithRuns } from './http-harness.js'

let dir = ''
let runs: Record<string, string> = {}
let sweep = ''
let api: ServedApi

const SWEEP = `name: sweep
project: vision
tasks:
  prep: { command: "true" }
  sweep:
    after: [prep]
    matrix: { i: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] }
    command: "true"
  flaky: { command: "exit 1", retries: { max: 1, backoff: 1s } }
`

/** Every usage figure a scheduler can report. */
const FULL_USAGE: Required<ResourceUsage> = {
  elapsedSeconds: 3600,
  cpuSeconds: 1800,
  maxRssMb: 900,
  allocTres: { cpu: 2, mem: 4096, 'gres/gpu': 2, 'gres/gpu:a100': 2 },
  gpuUtilPercent: 150,
}

/** Every field of an attempt, the optional ones included: a field added to AttemptRecord fails tsc here. */
const ATTEMPT_FIELDS: Record<keyof AttemptRecord, true> = {
  runId: true,
  taskId: true,
  attempt: true,
  submissionKey: true,
  jobId: true,
  state: true,
  nativeState: true,
  exitCode: true,
  reason: true,
  submittedAt: true,
  startedAt: true,
  endedAt: true,
  missedPolls: true,
  nodes: true,
  heldReason: true,
  nice: true,
  expectedStartAt: true,
  usage: true,
}

beforeAll(async () => {
  ;({ dir, runs } = await workspaceWithRuns())
  writePipeline(dir, 'sweep.yaml', SWEEP)
  const run = await runCli(dir, ['run', 'sweep.yaml', '--quiet', '--json'])
  expect(run.code, run.stderr).toBe(1)
  sweep = JSON.parse(run.stdout).runId
  api = await serve(dir)
  // prep's attempt with every field set: accounting's figures as a tick stores them, and what a
  // budget hold, a nice value and the scheduler's expected start leave on an attempt
  const [prep] = await api.app.store.listAttempts(sweep, 'prep')
  const key = prep?.submissionKey as string
  await api.app.store.recordEndedUsage(new Map([[key, FULL_USAGE]]))
  const db = new Database(path.join(dir, '.rpo', 'rpo.sqlite'))
  try {
    db.prepare(
      'update attempts set held_reason = ?, nice = ?, expected_start_at = ?, nodes_json = ?, reason = ? where submission_key = ?',
    ).run('project vision is over its budget', 10, '2026-11-01T12:00:00.000Z', '["node1","node2"]', 'held', key)
  } finally {
    db.close()
  }
})

afterAll(async () => {
  await api?.close()
  if (dir) removeWorkspace(dir)
})

/** Every page of a paged route, following `next` with `after`. */
async function allPages(url: string, limit: number): Promise<{ pages: number; items: unknown[] }> {
  const items: unknown[] = []
  let after: string | null = null
  let pages = 0
  do {
    const query: string = `${url.includes('?') ? '&' : '?'}limit=${limit}${after === null ? '' : `&after=${encodeURIComponent(after)}`}`
    const { status, body } = await getJson(api, `${url}${query}`)
    expect(status, JSON.stringify(body)).toBe(200)
    const list = 'tasks' in body ? TaskPageSchema.parse(body).tasks : AttemptPageSchema.parse(body).attempts
    expect(list.length).toBeLessThanOrEqual(limit)
    items.push(...list)
    after = body.next
    pages++
  } while (after !== null && pages < 100)
  return { pages, items }
}

describe('an attempt with every field', () => {
  it('comes back whole through GET /v1/runs/:runId, /attempts and /v1/history: no field stripped', async () => {
    const stored = (await api.app.store.listAttempts(sweep, 'prep'))[0] as AttemptRecord
    // the store has every field: what the API answers must have them all too
    expect(Object.keys(stored).sort()).toEqual(Object.keys(ATTEMPT_FIELDS).sort())
    expect(stored.usage).toEqual(FULL_USAGE)

    const { status, body } = await getJson(api, `/v1/runs/${sweep}`)
    expect(status).toBe(200)
    const served = body.attempts.find((a: { taskId: string }) => a.taskId === 'prep')
    expect(Object.keys(served).sort()).toEqual(Object.keys(ATTEMPT_FIELDS).sort())
    expect(served).toEqual(stored)
    expect(served.usage.gpuUtilPercent).toBe(150)
    expect(RunDetailSchema.parse(body).attempts).toEqual(await api.app.store.listAttempts(sweep))

    const page = await getJson(api, `/v1/runs/${sweep}/attempts?task=prep`)
    expect(page.body.attempts).toEqual([stored])

    const history = HistorySchema.parse((await getJson(api, '/v1/history?pipeline=sweep&stage=prep')).body)
    const row = (await api.app.store.history.attempts({ pipeline: 'sweep', stage: 'prep' }))[0]
    expect(history.attempts).toEqual([row])
    expect(history.attempts[0]?.usage).toEqual(FULL_USAGE)
    expect(history.attempts[0]?.asked).not.toBeNull()
  })

  it('is refused by the schemas when it carries a field they do not know, at any depth', async () => {
    const stored = (await api.app.store.listAttempts(sweep, 'prep'))[0] as AttemptRecord
    expect(AttemptSchema.parse(stored)).toEqual(stored)
    expect(AttemptSchema.safeParse({ ...stored, surprise: 1 }).success).toBe(false)
    expect(AttemptSchema.safeParse({ ...stored, usage: { ...FULL_USAGE, surprise: 1 } }).success).toBe(false)
    const detail = (await getJson(api, `/v1/runs/${sweep}`)).body
    expect(RunDetailSchema.safeParse(detail).success).toBe(true)
    const [task, ...others] = detail.tasks
    expect(RunDetailSchema.safeParse({ ...detail, tasks: [{ ...task, surprise: 1 }, ...others] }).success).toBe(false)
  })
})

describe('GET /v1/runs/:runId/tasks', () => {
  it('pages through every task in the run’s order, as GET /v1/runs/:runId lists them', async () => {
    const detail = RunDetailSchema.parse((await getJson(api, `/v1/runs/${sweep}`)).body)
    const ids = detail.tasks.map((t) => t.id)
    expect(ids).toHaveLength(14)
    // the run's order, not the ids': sweep.9 before sweep.10
    expect(ids.indexOf('sweep.9')).toBeLessThan(ids.indexOf('sweep.10'))

    const paged = await allPages(`/v1/runs/${sweep}/tasks`, 5)
    expect(paged.pages).toBe(3)
    expect(paged.items).toEqual(detail.tasks)
    // a last page that is exactly full says so: no empty page after it
    expect((await allPages(`/v1/runs/${sweep}/tasks`, 7)).pages).toBe(2)
    const whole = TaskPageSchema.parse((await getJson(api, `/v1/runs/${sweep}/tasks`)).body)
    expect(whole).toEqual({ runId: sweep, tasks: detail.tasks, next: null })

    const first = TaskPageSchema.parse((await getJson(api, `/v1/runs/${sweep}/tasks?limit=2`)).body)
    expect(first.tasks.map((t) => t.id)).toEqual(ids.slice(0, 2))
    expect(first.next).toBe(ids[1])
    const second = TaskPageSchema.parse(
      (await getJson(api, `/v1/runs/${sweep}/tasks?limit=2&after=${first.next}`)).body,
    )
    expect(second.tasks.map((t) => t.id)).toEqual(ids.slice(2, 4))
  })

  it('filters by state, stage and id prefix, and pages the filtered list', async () => {
    const ids = async (query: string) =>
      TaskPageSchema.parse((await getJson(api, `/v1/runs/${sweep}/tasks?${query}`)).body).tasks.map((t) => t.id)
    expect(await ids('state=failed')).toEqual(['flaky'])
    expect(await ids('state=succeeded&stage=prep,flaky')).toEqual(['prep'])
    expect(await ids('stage=sweep')).toHaveLength(12)
    expect(await ids('prefix=sweep.1')).toEqual(['sweep.1', 'sweep.10', 'sweep.11'])
    expect(await ids('state=pending')).toEqual([])
    const filtered = await allPages(`/v1/runs/${sweep}/tasks?stage=sweep`, 5)
    expect(filtered.items.map((t) => (t as { id: string }).id)).toEqual(await ids('stage=sweep'))
  })

  it('says 404 for an unknown run, 403 for another project’s, and 400 for a bad parameter', async () => {
    expect(await getJson(api, '/v1/runs/no-such-run/tasks')).toMatchObject({
      status: 404,
      body: { error: { code: 'run-not-found' } },
    })
    const vision = api.tokens.visionRead as string
    expect((await getJson(api, `/v1/runs/${sweep}/tasks`, vision)).status).toBe(200)
    const other = await getJson(api, `/v1/runs/${runs.nlp}/tasks`, vision)
    expect(other.status).toBe(403)
    expect(other.body.error.message).toMatch(/may see project vision only, not project nlp/)
    for (const [query, message] of [
      ['after=nope', /query parameter "after": run .* has no task "nope"/],
      ['limit=0', /query parameter "limit": expected a whole number from 1 to 1000/],
      ['limit=1001', /query parameter "limit"/],
      ['state=expanded', /query parameter "state": "expanded" is not one of pending/],
      ['after=a&after=b', /query parameter "after" is given 2 times/],
      ['task=prep', /unknown query parameter "task"/],
    ] as const) {
      const answer = await getJson(api, `/v1/runs/${sweep}/tasks?${query}`)
      expect(answer.status, query).toBe(400)
      expect(answer.body.error.message, query).toMatch(message)
    }
  })
})

describe('GET /v1/runs/:runId/attempts', () => {
  it('pages through every attempt by task then attempt number, and filters by task and state', async () => {
    const stored = await api.app.store.listAttempts(sweep)
    expect(stored).toHaveLength(15)
    const paged = await allPages(`/v1/runs/${sweep}/attempts`, 4)
    expect(paged.pages).toBe(4)
    expect(paged.items).toEqual(stored)

    const flaky = AttemptPageSchema.parse((await getJson(api, `/v1/runs/${sweep}/attempts?task=flaky&limit=1`)).body)
    expect(flaky.attempts.map((a) => [a.taskId, a.attempt, a.state])).toEqual([['flaky', 1, 'failed']])
    expect(flaky.next).toBe('flaky:1')
    const rest = AttemptPageSchema.parse(
      (await getJson(api, `/v1/runs/${sweep}/attempts?task=flaky&after=${flaky.next}`)).body,
    )
    expect(rest.attempts.map((a) => [a.taskId, a.attempt])).toEqual([['flaky', 2]])
    expect(rest.next).toBeNull()

    const failed = AttemptPageSchema.parse((await getJson(api, `/v1/runs/${sweep}/attempts?state=failed`)).body)
    expect(failed.attempts.map((a) => `${a.taskId}:${a.attempt}`)).toEqual(['flaky:1', 'flaky:2'])
    const two = AttemptPageSchema.parse((await getJson(api, `/v1/runs/${sweep}/attempts?task=prep,flaky`)).body)
    expect(two.attempts.map((a) => a.taskId)).toEqual(['flaky', 'flaky', 'prep'])
    const beyond = await getJson(api, `/v1/runs/${sweep}/attempts?after=zzz:1`)
    expect(beyond.body).toEqual({ runId: sweep, attempts: [], next: null })
  })

  it('says 404 for an unknown run, 403 for another project’s, and 400 for a bad parameter', async () => {
    expect((await getJson(api, '/v1/runs/no-such-run/attempts')).status).toBe(404)
    const other = await getJson(api, `/v1/runs/${runs.nlp}/attempts`, api.tokens.visionRead as string)
    expect(other.status).toBe(403)
    for (const [query, message] of [
      ['after=flaky', /query parameter "after": expected <taskId>:<attempt>/],
      ['after=flaky:x', /query parameter "after"/],
      ['limit=1001', /query parameter "limit"/],
      ['state=done', /query parameter "state": "done" is not one of submitting/],
      ['stage=sweep', /unknown query parameter "stage"/],
    ] as const) {
      const answer = await getJson(api, `/v1/runs/${sweep}/attempts?${query}`)
      expect(answer.status, query).toBe(400)
      expect(answer.body.error.message, query).toMatch(message)
    }
  })

  it('are registered read routes (which the authentication and fuzzing tests enumerate), documented', async () => {
    for (const url of ['/v1/runs/:runId/tasks', '/v1/runs/:runId/attempts'])
      expect(api.server.registeredRoutes).toContainEqual({ method: 'GET', url, scope: 'read' })
    const document = (await getJson(api, '/v1/openapi.json')).body
    for (const [page, schema] of [
      ['tasks', 'TaskPage'],
      ['attempts', 'AttemptPage'],
    ]) {
      const operation = document.paths[`/v1/runs/{runId}/${page}`].get
      expect(operation['x-rpo-scope']).toBe('read')
      expect(operation.responses['200'].content['application/json'].schema).toEqual({
        $ref: `#/components/schemas/${schema}`,
      })
      expect(operation.responses['404']).toBeDefined()
      expect(operation.parameters.map((p: { name: string }) => p.name)).toEqual(
        expect.arrayContaining(['runId', 'after', 'limit', 'state']),
      )
    }
    // the library's fields, all of them: an attempt's usage has the GPU utilisation efficiency reads
    expect(document.components.schemas.ResourceUsage.properties.gpuUtilPercent).toBeDefined()
    expect(document.components.schemas.Attempt.additionalProperties).toBe(false)
  })
})
