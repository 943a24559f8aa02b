/**
 * Real parts end to end: Debian's Prometheus scrapes the /metrics of a real `rpo serve` process
 * (bin/rpo.js, its own store in a temp folder, a bearer token made with `rpo token create`, given to
 * Prometheus as `authorization: {credentials}`), and the values read back through Prometheus's own
 * query API are what the store holds, also after the store changed (every scrape reads it afresh).
 * A project-restricted token's scrape is refused: Prometheus's /api/v1/targets shows that target
 * down with a 403. Fails, never skips, when /usr/bin/prometheus is missing (test/setup.sh installs it).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allocationAccount, usageAccount } from '../../src/core/budget/budget-ledger.js'
import type { App } from '../../src/create-app.js'
import { runCli, type SpawnedCli, spawnCli } from '../support/cli-harness.js'
import { openFixtureApp, tickError, writeFixture } from './metrics-fixture.js'

const PROMETHEUS = '/usr/bin/prometheus'

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

async function createToken(dir: string, ...args: string[]): Promise<string> {
  const created = await runCli(dir, ['token', 'create', '--scope', 'read', '--json', ...args])
  expect(created.code, created.stderr).toBe(0)
  return JSON.parse(created.stdout).token as string
}

interface QueryAnswer {
  readonly status: string
  readonly data: { readonly result: readonly { metric: Record<string, string>; value: [number, string] }[] }
}

interface TargetsAnswer {
  readonly data: {
    readonly activeTargets: readonly {
      labels: Record<string, string>
      health: 'up' | 'down' | 'unknown'
      lastError: string
    }[]
  }
}

describe("Debian's Prometheus scraping a real `rpo serve`", () => {
  let dir: string
  let app: App
  let served: SpawnedCli | null = null
  let servedHost = ''
  let prometheus: ChildProcess | null = null
  let prometheusLog = ''
  let api: string

  beforeAll(async () => {
    expect(existsSync(PROMETHEUS), `${PROMETHEUS} is missing: install Debian's prometheus (test/setup.sh)`).toBe(true)
    dir = mkdtempSync(path.join(tmpdir(), 'rpo-prometheus-'))
    // the store where the config in `dir` finds it by default, so `rpo token` and `rpo serve` run there use it
    mkdirSync(path.join(dir, '.rpo'))
    app = await openFixtureApp(dir, path.join(dir, '.rpo', 'rpo.sqlite'))
    await writeFixture(app)
    const everyProject = await createToken(dir, '--name', 'prometheus')
    const visionOnly = await createToken(dir, '--name', 'vision-only', '--project', 'vision')

    served = spawnCli(dir, ['serve', '--port', '0'])
    await served.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/)
    servedHost = /listening on http:\/\/(127\.0\.0\.1:\d+)/.exec(served.stdout())?.[1] as string

    const webPort = await freePort()
    api = `http://127.0.0.1:${webPort}`
    const job = (name: string, token: string) => [
      `  - job_name: ${name}`,
      '    metrics_path: /metrics',
      '    authorization:',
      `      credentials: ${token}`,
      '    static_configs:',
      `      - targets: ['${servedHost}']`,
    ]
    writeFileSync(
      path.join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        ...job('rpo', everyProject),
        ...job('rpo-vision-only', visionOnly),
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
  }, 60_000)

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null && prometheus.signalCode === null) {
      const exited = new Promise((resolve) => prometheus?.once('exit', resolve))
      prometheus.kill('SIGTERM')
      await exited
    }
    if (served && served.child.exitCode === null && served.child.signalCode === null) {
      served.child.kill('SIGTERM')
      const { code, stderr } = await served.closed()
      expect(code, stderr).toBe(0)
    }
    await app?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  function alive(): void {
    if (prometheus?.exitCode !== null) throw new Error(`prometheus exited (${prometheus?.exitCode}):\n${prometheusLog}`)
    if (served?.child.exitCode !== null)
      throw new Error(`rpo serve exited (${served?.child.exitCode}):\n${served?.stdout()}\n${served?.stderr()}`)
  }

  /** Ask Prometheus until `accept` likes the answer (it scrapes every second), at most 30 s. */
  async function queryUntil(
    promql: string,
    accept: (result: QueryAnswer['data']['result']) => boolean,
  ): Promise<QueryAnswer['data']['result']> {
    const deadline = Date.now() + 30_000
    let last: QueryAnswer['data']['result'] = []
    while (Date.now() < deadline) {
      alive()
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
    expect((await fetch(`http://${servedHost}/metrics`)).status).toBe(401)

    const up = await queryUntil('up{job="rpo"}', (r) => r.length === 1 && r[0]?.value[1] === '1')
    expect(up[0]?.metric.instance).toBe(servedHost)

    // the tasks in hand (v1's; v0 ended), counted from the run's own snapshot
    const { snapshot } = await app.store.loadSnapshot('v1')
    const inHand: Record<string, number> = {}
    for (const t of snapshot.tasks) inHand[t.state] = (inHand[t.state] ?? 0) + 1
    expect(inHand).toEqual({ succeeded: 1, active: 1, pending: 1 })
    const tasks = await queryUntil('rpo_tasks{job="rpo",project="vision"}', (r) => r.length === 3)
    expect(Object.fromEntries(tasks.map((s) => [s.metric.state, Number(s.value[1])]))).toEqual(inHand)

    // rpo serve's clock is the real one: charge vision's budget this month, so the figure is not 0
    await app.store.budgets.recordCharges({
      entries: [
        {
          key: 'charge:prometheus-test',
          at: new Date().toISOString(),
          kind: 'charge',
          from: allocationAccount('vision', 'alice'),
          to: usageAccount('vision', 'alice'),
          hours: { gpu: { a100: 7.25 }, cpu: 0, memoryGb: 0, billing: 0 },
          usageKey: 'prometheus-test',
          actor: 'rpo',
          note: 'test',
        },
      ],
    })
    const { statuses } = await app.budgets.statuses(Date.now())
    const used = statuses.find((s) => s.ruleId === 'vision.budgets[0]')?.used as number
    expect(used).toBeGreaterThanOrEqual(7.25)
    const budget = await queryUntil(
      'rpo_budget_used_gpu_hours{job="rpo",budget="vision.budgets[0]"}',
      (r) => r.length === 1 && Number(r[0]?.value[1]) === used,
    )
    expect(budget[0]?.metric).toMatchObject({ project: 'vision', cap: 'hard', instance: servedHost })

    // tick errors as the event log holds them, and the next scrapes after the store changed
    const observeErrors = async () =>
      (await app.store.events.list({ types: ['tick.error'] })).filter(
        (e) => e.type === 'tick.error' && e.payload.cluster === 'hpc' && e.payload.step === 'observe',
      ).length
    const before = await observeErrors()
    expect(before).toBe(2)
    const errors = await queryUntil(
      'rpo_tick_errors_total{job="rpo",cluster="hpc",step="observe"}',
      (r) => r.length === 1,
    )
    expect(Number(errors[0]?.value[1])).toBe(before)
    await app.store.events.append([tickError('hpc', 'observe', Date.now())])
    const after = await observeErrors()
    expect(after).toBe(3)
    await queryUntil(
      'rpo_tick_errors_total{job="rpo",cluster="hpc",step="observe"}',
      (r) => r.length === 1 && Number(r[0]?.value[1]) === after,
    )
  }, 90_000)

  it("refuses a project-restricted token's scrape: the target is down with a 403", async () => {
    await queryUntil('up{job="rpo-vision-only"}', (r) => r.length === 1 && r[0]?.value[1] === '0')
    const response = await fetch(`${api}/api/v1/targets?state=active`)
    expect(response.ok).toBe(true)
    const targets = ((await response.json()) as TargetsAnswer).data.activeTargets
    const refused = targets.find((t) => t.labels.job === 'rpo-vision-only')
    expect(refused?.health).toBe('down')
    expect(refused?.lastError).toMatch(/403/)
    expect(targets.find((t) => t.labels.job === 'rpo')?.health).toBe('up')
    // nothing of rpo's came through that target
    const leaked = await fetch(`${api}/api/v1/query?query=${encodeURIComponent('rpo_tasks{job="rpo-vision-only"}')}`)
    expect(((await leaked.json()) as QueryAnswer).data.result).toEqual([])
  }, 60_000)
})
