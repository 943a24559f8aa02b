/**
 * Webhooks against a real receiving HTTP server on 127.0.0.1 and a real SQLite store: signed
 * deliveries the receiver verifies, filters by type and project, retries with backoff, giving up
 * (recorded as webhook.failed, and the hook moves on), a cursor that survives a restart, and the
 * config's webhooks validated with located errors.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { WebhookSchema } from '../../src/config/config-schema.js'
import { loadConfig } from '../../src/config/load-config.js'
import { EventLog } from '../../src/events/event-log.js'
import type { NewRpoEvent, RpoEvent } from '../../src/events/event-schemas.js'
import { WebhookDispatcher } from '../../src/notify/webhook-dispatcher.js'
import { webhookTargetsOf } from '../../src/notify/webhook-target.js'
import { openDatabase } from '../../src/store/open-store.js'
import { RunStore } from '../../src/store/run-store.js'
import { type Answer, type Receiver, startReceiver } from './webhook-receiver.js'

const SECRET = 'a-shared-secret-of-some-length'

let dir: string
let store: RunStore
let log: EventLog
const cleanups: (() => Promise<void>)[] = []

async function openStore(): Promise<RunStore> {
  return new RunStore(await openDatabase({ kind: 'sqlite', path: path.join(dir, 'rpo.sqlite'), busyTimeoutMs: 2000 }))
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'rpo-webhooks-'))
  store = await openStore()
  log = new EventLog(store.events, { pollIntervalMs: 50 })
})

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

async function receiver(answer: (index: number) => Answer = () => 200): Promise<Receiver> {
  const r = await startReceiver((_, index) => answer(index))
  cleanups.push(() => r.close())
  return r
}

function hook(url: string, fields: Record<string, unknown> = {}) {
  return webhookTargetsOf([WebhookSchema.parse({ name: 'team', url, secret: SECRET, ...fields })])[0] as ReturnType<
    typeof webhookTargetsOf
  >[number]
}

/** A dispatcher on the test's store, started, its cursor placed (a new hook starts at the newest event). */
async function started(target: ReturnType<typeof hook>, on: RunStore = store): Promise<WebhookDispatcher> {
  const dispatcher = new WebhookDispatcher({
    hooks: [target],
    log: new EventLog(on.events, { pollIntervalMs: 50 }),
    store: on.notifications,
    pollIntervalMs: 50,
  })
  dispatcher.start()
  cleanups.push(() => dispatcher.stop())
  await until(async () => (await on.notifications.cursor(target.name)) !== null)
  return dispatcher
}

async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 20))
  }
}

let jobs = 0
function nodeFailed(project: string | null = 'vision'): NewRpoEvent {
  jobs++
  return {
    at: new Date().toISOString(),
    type: 'node.failed',
    project,
    runId: null,
    taskId: null,
    payload: { nodes: [`node${jobs}`], jobId: String(jobs), attempt: 1, submissionKey: `key-${jobs}` },
  }
}

function taskState(to: 'failed' | 'succeeded', project = 'vision'): NewRpoEvent {
  return {
    at: new Date().toISOString(),
    type: 'task.state',
    project,
    runId: 'run-1',
    taskId: 'train',
    payload: { from: 'active', to, reason: to === 'failed' ? 'exit 1 after 3 attempts' : null },
  }
}

const bodies = (r: Receiver) => r.requests.map((q) => JSON.parse(q.body) as RpoEvent)

describe('webhook delivery', () => {
  it('POSTs each event as JSON signed with HMAC-SHA256 of the body, which the receiver verifies', async () => {
    const r = await receiver()
    await started(hook(r.url))
    await log.record([nodeFailed()])
    await r.waitFor(1)
    const [request] = r.requests
    if (!request) throw new Error('no request')
    const expected = `sha256=${createHmac('sha256', SECRET).update(request.body).digest('hex')}`
    const given = String(request.headers['x-rpo-signature'])
    expect(given).toBe(expected)
    expect(timingSafeEqual(Buffer.from(given), Buffer.from(expected))).toBe(true)
    // a different secret does not verify
    expect(given).not.toBe(`sha256=${createHmac('sha256', 'other').update(request.body).digest('hex')}`)
    const event = JSON.parse(request.body) as RpoEvent
    expect(event).toMatchObject({ type: 'node.failed', project: 'vision', payload: { jobId: String(jobs) } })
    expect(request.headers).toMatchObject({
      'content-type': 'application/json',
      'x-rpo-event-id': String(event.id),
      'x-rpo-event-type': 'node.failed',
      'x-rpo-delivery-attempt': '1',
    })
    expect(Date.parse(String(request.headers['x-rpo-timestamp']))).toBeGreaterThan(0)
  })

  it('sends only the types and projects a hook asks for; task.failed selects tasks that failed', async () => {
    const r = await receiver()
    await started(hook(r.url, { types: ['node.failed', 'task.failed'], projects: ['vision'] }))
    await log.record([
      nodeFailed('vision'),
      nodeFailed('audio'),
      nodeFailed(null),
      taskState('succeeded'),
      taskState('failed'),
      taskState('failed', 'audio'),
      {
        at: new Date().toISOString(),
        type: 'tick.error',
        project: 'vision',
        runId: null,
        taskId: null,
        payload: { cluster: 'c', step: 'observe', code: 'x', message: 'm' },
      },
      nodeFailed('vision'),
    ])
    await r.waitFor(3)
    // nothing else comes: the last of them was delivered after everything it skipped
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(bodies(r).map((e) => [e.type, e.project, e.type === 'task.state' ? e.payload.to : null])).toEqual([
      ['node.failed', 'vision', null],
      ['task.state', 'vision', 'failed'],
      ['node.failed', 'vision', null],
    ])
  })

  it('the defaults take the notifications worth waking someone for', async () => {
    const r = await receiver()
    await started(hook(r.url))
    await log.record([taskState('succeeded'), taskState('failed'), nodeFailed()])
    await r.waitFor(2)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(bodies(r).map((e) => e.type)).toEqual(['task.state', 'node.failed'])
  })

  it('retries a 500 with exponential backoff, then delivers', async () => {
    const r = await receiver((index) => (index < 2 ? 500 : 204))
    await started(hook(r.url, { retries: { max: 3, backoff: '150ms' } }))
    await log.record([nodeFailed()])
    await r.waitFor(3)
    const at = r.requests.map((q) => q.at)
    const gaps = [(at[1] as number) - (at[0] as number), (at[2] as number) - (at[1] as number)]
    expect(gaps[0]).toBeGreaterThanOrEqual(140)
    expect(gaps[1]).toBeGreaterThanOrEqual(290)
    expect(r.requests.map((q) => q.headers['x-rpo-delivery-attempt'])).toEqual(['1', '2', '3'])
    expect(new Set(bodies(r).map((e) => e.id)).size).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(r.requests).toHaveLength(3)
    expect(await log.list({ types: ['webhook.failed'] })).toEqual([])
  })

  it('gives up after its retries, records webhook.failed, and moves on to the next event', async () => {
    const r = await receiver((index) => (index < 3 ? 503 : 200))
    await started(hook(r.url, { retries: { max: 2, backoff: '20ms' } }))
    await log.record([nodeFailed('vision')])
    const first = (await log.list({ types: ['node.failed'] })).at(-1) as RpoEvent
    await log.record([nodeFailed('vision')])
    await r.waitFor(4)
    await until(async () => (await log.list({ types: ['webhook.failed'] })).length === 1)
    const [failed] = await log.list({ types: ['webhook.failed'] })
    expect(failed).toMatchObject({
      type: 'webhook.failed',
      project: 'vision',
      payload: {
        hook: 'team',
        eventId: first.id,
        eventType: 'node.failed',
        attempts: 3,
        status: 503,
        error: 'HTTP 503',
      },
    })
    // the next event went through, and the hook's own failure is not sent to it
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(bodies(r).map((e) => e.id)).toEqual([first.id, first.id, first.id, first.id + 1])
  })

  it('gives up at once when the receiver refuses the event (a 4xx)', async () => {
    const r = await receiver((index) => (index === 0 ? 400 : 200))
    await started(hook(r.url, { retries: { max: 5, backoff: '20ms' } }))
    await log.record([nodeFailed(), nodeFailed()])
    await r.waitFor(2)
    await until(async () => (await log.list({ types: ['webhook.failed'] })).length === 1)
    expect((await log.list({ types: ['webhook.failed'] }))[0]?.payload).toMatchObject({ attempts: 1, status: 400 })
  })

  it('a receiver that never answers times out and is retried; the hook is not stuck on it', async () => {
    const r = await receiver((index) => (index < 2 ? 'hang' : 200))
    await started(hook(r.url, { timeout: '200ms', retries: { max: 1, backoff: '10ms' } }))
    await log.record([nodeFailed(), nodeFailed()])
    await r.waitFor(3)
    await until(async () => (await log.list({ types: ['webhook.failed'] })).length === 1)
    expect((await log.list({ types: ['webhook.failed'] }))[0]?.payload).toMatchObject({
      attempts: 2,
      status: null,
      error: 'no answer within 200 ms',
    })
  })

  it('keeps its place across a restart of the dispatcher and the store: nothing repeated, nothing lost', async () => {
    const r = await receiver()
    const target = hook(r.url)
    const first = await started(target)
    await log.record([nodeFailed(), nodeFailed(), nodeFailed()])
    await r.waitFor(3)
    // its cursor is written after each delivery; stop once the third is recorded
    const third = (await log.lastId()) as number
    await until(async () => (await store.notifications.cursor('team')) === third)
    await first.stop()
    await log.record([nodeFailed(), nodeFailed()])
    await store.close()

    store = await openStore()
    log = new EventLog(store.events, { pollIntervalMs: 50 })
    await started(target, store)
    await log.record([nodeFailed()])
    await r.waitFor(6)
    await new Promise((resolve) => setTimeout(resolve, 300))
    const ids = bodies(r).map((e) => e.id)
    expect(ids).toHaveLength(6)
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    expect(new Set(ids).size).toBe(6)
    expect(ids.at(-1)).toBe(await log.lastId())
  })
})

describe('webhooks in the config', () => {
  function configWith(webhooks: string): () => unknown {
    const file = path.join(dir, 'rpo.config.yaml')
    writeFileSync(file, `webhooks:\n${webhooks}`)
    return () => loadConfig({ configPath: file, cwd: dir, env: {} })
  }

  it('reads a hook with its defaults', () => {
    const config = configWith(
      '  - { name: ops, url: "https://hooks.example.org/rpo", secretEnv: RPO_HOOK_SECRET }\n',
    )() as {
      webhooks: unknown[]
    }
    expect(config.webhooks).toEqual([
      {
        name: 'ops',
        url: 'https://hooks.example.org/rpo',
        secretEnv: 'RPO_HOOK_SECRET',
        timeout: '10s',
        retries: { max: 5, backoff: '1s' },
      },
    ])
    const [target] = webhookTargetsOf(config.webhooks as never, { RPO_HOOK_SECRET: 'from-the-environment' })
    expect(target).toMatchObject({
      secret: 'from-the-environment',
      timeoutMs: 10_000,
      retries: { max: 5, backoffMs: 1000 },
    })
    expect(target?.types).toContain('deadline.at-risk')
    expect(target?.types).toContain('task.failed')
    expect(() => webhookTargetsOf(config.webhooks as never, {}, 'rpo.config.yaml')).toThrow(
      'rpo.config.yaml: webhooks[0] (ops): secretEnv names RPO_HOOK_SECRET, which is not set or empty',
    )
  })

  it('names the file, line and field of each mistake', () => {
    const load = configWith(
      [
        '  - { name: ops, url: "ftp://x.example.org/", types: [node.failed, node.exploded] }',
        '  - { name: ops, url: "http://127.0.0.1:9/", secret: "0123456789abcdef", secretEnv: S }',
        '  - { name: slow, url: "http://127.0.0.1:9/", timeout: 1h, retries: { max: 99 } }',
        '',
      ].join('\n'),
    )
    let message = ''
    try {
      load()
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(/rpo\.config\.yaml:2:\d+: webhooks\.0\.url: expected an http:\/\/ or https:\/\/ URL/)
    expect(message).toMatch(/:2:\d+: webhooks\.0\.types\.1: expected one of .*"task\.failed", got "node\.exploded"/)
    expect(message).toMatch(/:3:\d+: webhooks\.1\.secret: give secret or secretEnv, not both/)
    expect(message).toMatch(/:4:\d+: webhooks\.2\.timeout: expected at most 5m/)
    expect(message).toMatch(/:4:\d+: webhooks\.2\.retries\.max: .*<=20, got 99/)
    const twice = configWith(
      '  - { name: ops, url: "http://127.0.0.1:9/" }\n  - { name: ops, url: "http://127.0.0.1:8/" }\n',
    )
    expect(twice).toThrow(/:3:\d+: webhooks\.1\.name: a second webhook named "ops"/)
  })
})
