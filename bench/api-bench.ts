/**
 * The HTTP API at the issue's scale: 100 runs × 100 tasks and 1,000,000 stored events (api-fill.ts),
 * `rpo serve`'s server (buildHttpServer) on 127.0.0.1, asked over real HTTP with keep-alive:
 * median, p95 and p99 of each read route against the 50 ms target; 100 Server-Sent Events
 * subscribers on the one process taking a burst of events (delivery latency, none lost or twice,
 * RSS); and what a tick's transaction pays for the events it writes. The store lives in a temp
 * folder removed at the end. RPO_BENCH_QUICK=1: 10 runs and 50,000 events (seconds).
 * Runs alone (`node --import tsx bench/api-bench.ts`) or from run.ts (`npm run bench -- api`).
 */
import { rmSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { pathToFileURL } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import { buildHttpServer } from '../src/http/build-server.js'
import { type FilledStore, fillStore } from './api-fill.js'
import { benchSse } from './api-sse.js'
import { benchTickEvents } from './api-tick-events.js'

const TARGET_MS = 50
const REQUESTS = 200
const WARMUP = 10

export interface Served {
  readonly url: string
  readonly token: string
  readonly server: FastifyInstance
}

export async function benchApi(): Promise<void> {
  const quick = process.env.RPO_BENCH_QUICK === '1'
  const scale = quick
    ? { runs: 10, tasksPerRun: 100, events: 50_000 }
    : { runs: 100, tasksPerRun: 100, events: 1_000_000 }
  console.log(
    `\n## HTTP API (rpo serve) on SQLite: ${scale.runs} runs × ${scale.tasksPerRun} tasks, ${scale.events.toLocaleString('en')} events`,
  )
  let filled: FilledStore | null = null
  try {
    filled = await fillStore(scale, { kind: 'sqlite' })
    const f = filled.fillSeconds
    console.log(
      `filled in ${Object.values(f)
        .reduce((a, b) => a + b, 0)
        .toFixed(1)} s (runs through engine.startRun ${f.runs?.toFixed(1)} s, attempts ${f.attempts?.toFixed(1)} s, ` +
        `charges ${f.charges?.toFixed(1)} s, events ${f.events?.toFixed(1)} s, analyze ${f.analyze?.toFixed(1)} s)`,
    )
    const server = await buildHttpServer(filled.app)
    try {
      await server.listen({ host: '127.0.0.1', port: 0 })
      const address = server.server.address()
      if (typeof address !== 'object' || address === null) throw new Error('the server has no address')
      const { secret } = await filled.app.store.tokens.create({
        scope: 'read',
        project: null,
        createdBy: 'bench',
        name: 'api-bench',
        now: new Date().toISOString(),
      })
      const served: Served = { url: `http://127.0.0.1:${address.port}`, token: secret, server }
      await benchRoutes(filled, served, scale.events)
      await benchSse(filled, served)
    } finally {
      await server.close()
    }
    await benchTickEvents(filled)
  } finally {
    await filled?.close()
    if (filled) rmSync(filled.dir, { recursive: true, force: true })
  }
}

async function benchRoutes(filled: FilledStore, served: Served, events: number): Promise<void> {
  const run = filled.runIds[Math.floor(filled.runIds.length / 2)] as string
  const deep = Math.floor(events * 0.9)
  // the cursor of the run's second page of tasks, as a client that paged on would send it
  const firstPage = (await (
    await fetch(`${served.url}/v1/runs/${run}/tasks?limit=20`, { headers: { authorization: `Bearer ${served.token}` } })
  ).json()) as { next: string | null }
  if (!firstPage.next) throw new Error(`run ${run} has no second page of tasks`)
  const secondPage = firstPage.next
  const routes: [string, string][] = [
    ['GET /v1/runs', '/v1/runs'],
    ['GET /v1/runs?project=p3&state=running', '/v1/runs?project=p3&state=running'],
    ['GET /v1/runs/:id (100 tasks)', `/v1/runs/${run}`],
    [
      'GET /v1/runs/:id/tasks?limit=20 (page 2)',
      `/v1/runs/${run}/tasks?limit=20&after=${encodeURIComponent(secondPage)}`,
    ],
    ['GET /v1/runs/:id/attempts?limit=20', `/v1/runs/${run}/attempts?limit=20`],
    ['GET /v1/projects', '/v1/projects'],
    ['GET /v1/projects/:p', '/v1/projects/p3'],
    ['GET /v1/budgets', '/v1/budgets'],
    [`GET /v1/events?afterId=${deep}&limit=100`, `/v1/events?afterId=${deep}&limit=100`],
    ['GET /v1/events?type=task.state&project=p3', '/v1/events?type=task.state&project=p3&limit=100'],
    ['GET /v1/events?type=attempt&project=p3 (category)', '/v1/events?type=attempt&project=p3&limit=100'],
    [`GET /v1/events?runId=…&afterId=${deep}`, `/v1/events?runId=${run}&afterId=${deep}&limit=100`],
  ]
  console.log(
    `${REQUESTS} sequential requests a route over one keep-alive connection (${WARMUP} untimed first); ` +
      `load average ${loadavg()[0]?.toFixed(2)} on ${availableParallelism()} CPUs`,
  )
  for (const [name, path] of routes) {
    const first = await get(served, path)
    for (let i = 1; i < WARMUP; i++) await get(served, path)
    const times: number[] = []
    for (let i = 0; i < REQUESTS; i++) {
      const start = performance.now()
      await get(served, path)
      times.push(performance.now() - start)
    }
    const t = timing(times)
    console.log(
      `  ${name.padEnd(52)} median ${fmt(t.median)} ms  p95 ${fmt(t.p95)} ms  p99 ${fmt(t.p99)} ms  ${verdict(t)}  (${(first.bytes / 1024).toFixed(0)} KiB)`,
    )
  }
  await benchAfterTicks(filled, served)
  console.log(`  load average after: ${loadavg()[0]?.toFixed(2)}`)
  await explainEvents(filled)
}

/**
 * The listing and project views when every running run changed since the last request, as after a
 * round that moved all of them: one task row of each is rewritten (untimed, by the bench's own
 * connection, as the daemon would), so the server reads every running run's rows again instead of
 * the snapshots it kept. The worst case between ticks; the figures above are the steady state.
 */
async function benchAfterTicks(filled: FilledStore, served: Served): Promise<void> {
  const touch = () =>
    filled.db
      .updateTable('tasks')
      .set((eb) => ({ updated_at: eb.ref('updated_at') }))
      .where('run_id', 'in', [...filled.runningRunIds])
      .where('seq', '=', 1)
      .execute()
  for (const [name, path] of [
    ['GET /v1/runs, every running run changed', '/v1/runs'],
    ['GET /v1/projects, every running run changed', '/v1/projects'],
  ] as const) {
    const times: number[] = []
    for (let i = 0; i < REQUESTS / 2; i++) {
      await touch()
      const start = performance.now()
      await get(served, path)
      times.push(performance.now() - start)
    }
    const t = timing(times)
    console.log(
      `  ${name.padEnd(52)} median ${fmt(t.median)} ms  p95 ${fmt(t.p95)} ms  p99 ${fmt(t.p99)} ms  ${verdict(t)}  (${filled.runningRunIds.length} runs re-read each time)`,
    )
  }
}

/**
 * How the database answers the filtered events page at this size: a category (two types) of one
 * project is `type in (…) and project in (…) order by id limit 100`. SQLite's plan says a temp
 * B-tree, yet it reads the index's per-type ranges in id order and stops at the limit: the time
 * printed is what a page costs in-process, rows parsed.
 */
async function explainEvents(filled: FilledStore): Promise<void> {
  const types = ['attempt.state', 'attempt.resumed'] as const
  if (filled.dialect === 'sqlite') {
    const query = sql`select * from events where type in (${sql.join([...types])}) and project in ('p3') order by id limit 100`
    const plan = await sql<{ detail: string }>`explain query plan ${query}`.execute(filled.db)
    console.log(`  plan of type=attempt&project=p3: ${plan.rows.map((r) => r.detail).join('; ')}`)
  }
  const times: number[] = []
  for (let i = 0; i < 30; i++) {
    const start = performance.now()
    await filled.app.store.events.list({ types, projects: ['p3'], limit: 100 })
    times.push(performance.now() - start)
  }
  console.log(`  the same page in-process (store.events.list): median ${fmt(timing(times).median)} ms`)
}

export async function get(served: Served, path: string): Promise<{ bytes: number }> {
  const response = await fetch(`${served.url}${path}`, { headers: { authorization: `Bearer ${served.token}` } })
  const body = await response.arrayBuffer()
  if (response.status !== 200)
    throw new Error(`GET ${path} answered ${response.status}: ${Buffer.from(body).toString('utf8').slice(0, 300)}`)
  return { bytes: body.byteLength }
}

export interface Timing {
  readonly median: number
  readonly p95: number
  readonly p99: number
}

export function timing(values: number[]): Timing {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
  return { median: at(0.5), p95: at(0.95), p99: at(0.99) }
}

export function fmt(ms: number): string {
  return ms.toFixed(1).padStart(6)
}

function verdict(t: Timing): string {
  const outcome = t.p99 < TARGET_MS ? 'ok' : t.median < TARGET_MS ? 'median ok, p99 OVER' : 'MISSED'
  return `p99 ${(t.p99 / TARGET_MS).toFixed(2)}× of ${TARGET_MS} ms → ${outcome}`
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchApi()
  process.exit(0)
}
