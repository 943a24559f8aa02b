/**
 * Real parts: Debian's Prometheus scrapes /metrics from a fastify server on 127.0.0.1 that asks for
 * a bearer token (as `rpo serve` does), and the values read back through Prometheus's own query API
 * are what the store holds — also after the store changed, since every scrape reads it afresh.
 * Fails, never skips, when /usr/bin/prometheus is missing (test/setup.sh installs it).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../src/create-app.js'
import { createMetrics, type RpoMetrics } from '../../src/metrics/create-metrics.js'
import { NOW, openFixtureApp, tickError, writeFixture } from './metrics-fixture.js'

const PROMETHEUS = '/usr/bin/prometheus'
const TOKEN = 'rpo-test-token-5f1c'

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** The metrics route as `rpo serve` offers it: 401 without the bearer token. */
async function serveMetrics(metrics: RpoMetrics): Promise<{ server: FastifyInstance; port: number }> {
  const server = Fastify()
  server.get('/metrics', async (request, reply) => {
    if (request.headers.authorization !== `Bearer ${TOKEN}`) return reply.code(401).send({ error: 'unauthorized' })
    return reply.type(metrics.contentType).send(await metrics.render())
  })
  await server.listen({ host: '127.0.0.1', port: 0 })
  const address = server.server.address()
  if (address === null || typeof address === 'string') throw new Error('fastify has no port')
  return { server, port: address.port }
}

interface QueryAnswer {
  readonly status: string
  readonly data: { readonly result: readonly { metric: Record<string, string>; value: [number, string] }[] }
}

describe("Debian's Prometheus scraping rpo's /metrics", () => {
  let dir: string
  let app: App
  let server: FastifyInstance
  let prometheus: ChildProcess | null = null
  let prometheusLog = ''
  let api: string

  beforeAll(async () => {
    expect(existsSync(PROMETHEUS), `${PROMETHEUS} is missing: install Debian's prometheus (test/setup.sh)`).toBe(true)
    dir = mkdtempSync(path.join(tmpdir(), 'rpo-prometheus-'))
    app = await openFixtureApp(dir, path.join(dir, 'rpo.sqlite'))
    await writeFixture(app)
    const served = await serveMetrics(createMetrics(app))
    server = served.server
    const webPort = await freePort()
    api = `http://127.0.0.1:${webPort}`
    writeFileSync(
      path.join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: rpo',
        '    metrics_path: /metrics',
        '    authorization:',
        `      credentials: ${TOKEN}`,
        '    static_configs:',
        `      - targets: ['127.0.0.1:${served.port}']`,
        '',
      ].join('\n'),
    )
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${webPort}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    prometheus.stdout?.on('data', (chunk) => {
      prometheusLog += String(chunk)
    })
    prometheus.stderr?.on('data', (chunk) => {
      prometheusLog += String(chunk)
    })
  })

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus?.once('exit', resolve))
      prometheus.kill('SIGTERM')
      await exited
    }
    await server?.close()
    await app?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  /** Ask Prometheus until `accept` likes the answer (it scrapes every second), at most 30 s. */
  async function queryUntil(
    promql: string,
    accept: (result: QueryAnswer['data']['result']) => boolean,
  ): Promise<QueryAnswer['data']['result']> {
    const deadline = Date.now() + 30_000
    let last: QueryAnswer['data']['result'] = []
    while (Date.now() < deadline) {
      if (prometheus?.exitCode !== null)
        throw new Error(`prometheus exited (${prometheus?.exitCode}):\n${prometheusLog}`)
      const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`).catch(() => null)
      if (response?.ok) {
        const answer = (await response.json()) as QueryAnswer
        last = answer.data.result
        if (answer.status === 'success' && accept(last)) return last
      }
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    throw new Error(`Prometheus never answered ${promql} as expected; last: ${JSON.stringify(last)}\n${prometheusLog}`)
  }

  it('scrapes with the bearer token and reads back what the store holds', async () => {
    const unauthorized = await fetch(`http://127.0.0.1:${(server.server.address() as { port: number }).port}/metrics`)
    expect(unauthorized.status).toBe(401)

    const up = await queryUntil('up{job="rpo"}', (r) => r.length === 1 && r[0]?.value[1] === '1')
    expect(up[0]?.metric.instance).toMatch(/^127\.0\.0\.1:\d+$/)

    // the budget report's figure for vision's GPU-hours budget
    const { statuses } = await app.budgets.statuses(NOW)
    const used = statuses.find((s) => s.ruleId === 'vision.budgets[0]')?.used
    expect(used).toBe(13)
    const budget = await queryUntil('rpo_budget_used_gpu_hours{budget="vision.budgets[0]"}', (r) => r.length === 1)
    expect(Number(budget[0]?.value[1])).toBe(used)
    expect(budget[0]?.metric).toMatchObject({ project: 'vision', cap: 'hard', job: 'rpo' })

    // tick errors as the event log holds them
    const observeErrors = async () =>
      (await app.store.events.list({ types: ['tick.error'] })).filter(
        (e) => e.type === 'tick.error' && e.payload.cluster === 'hpc' && e.payload.step === 'observe',
      ).length
    const before = await observeErrors()
    expect(before).toBe(2)
    const errors = await queryUntil('rpo_tick_errors_total{cluster="hpc",step="observe"}', (r) => r.length === 1)
    expect(Number(errors[0]?.value[1])).toBe(before)

    // the store changes (another process recorded a poll error): the next scrapes say so
    await app.store.events.append([tickError('hpc', 'observe', NOW)])
    const after = await observeErrors()
    expect(after).toBe(3)
    await queryUntil(
      'rpo_tick_errors_total{cluster="hpc",step="observe"}',
      (r) => r.length === 1 && Number(r[0]?.value[1]) === after,
    )
    const rate = await queryUntil('increase(rpo_tick_errors_total{cluster="hpc",step="observe"}[1m])', (r) =>
      r.some((s) => Number(s.value[1]) > 0),
    )
    expect(Number(rate[0]?.value[1])).toBeGreaterThan(0)

    // the tasks in hand, counted from the run's own snapshot
    const { snapshot } = await app.store.loadSnapshot('v1')
    const pending = snapshot.tasks.filter((t) => t.state === 'pending').length
    const tasks = await queryUntil('rpo_tasks{project="vision",state="pending"}', (r) => r.length === 1)
    expect(Number(tasks[0]?.value[1])).toBe(pending)
  }, 90_000)
})
