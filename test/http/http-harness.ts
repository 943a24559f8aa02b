/**
 * A real rpo store with real runs (the local executor, through `rpo run`), an App on it, and the
 * HTTP API listening on 127.0.0.1 at a free port, for the test/http suites; plus a client for
 * Server-Sent Events read off a real fetch stream.
 */
import { rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { expect } from 'vitest'
import { type App, createApp } from '../../src/create-app.js'
import type { RpoEvent } from '../../src/events/event-schemas.js'
import { buildHttpServer, type HttpServerOptions } from '../../src/http/build-server.js'
import type { TokenScope } from '../../src/store/token-store.js'
import { makeWorkDir, runCli, writePipeline } from '../support/cli-harness.js'

export const TEST_CONFIG = `
defaultCluster: box
admins: [alice]
clusters:
  box: { kind: local, cpus: 2, memory: 4G, killGrace: 200ms, pollInterval: 50ms }
projects:
  vision:
    deadline: 2099-01-01T00:00:00Z
    budgets:
      - { resource: cpu-hours, amount: 5, cap: hard }
  nlp:
    budgets:
      - { resource: cpu-hours, amount: 10, cap: hard }
`

/** A workspace with two finished runs: vision (a → b, both succeed) and nlp (one task that fails). */
export async function workspaceWithRuns(storeLine = ''): Promise<{ dir: string; runs: Record<string, string> }> {
  const dir = makeWorkDir('rpo-http-')
  writeFileSync(path.join(dir, 'rpo.config.yaml'), `${storeLine}${TEST_CONFIG}`)
  writePipeline(
    dir,
    'vision.yaml',
    'name: train\nproject: vision\ntasks:\n  a: { command: "true", expected: 1s }\n  b: { command: "true", after: [a] }\n',
  )
  writePipeline(dir, 'nlp.yaml', 'name: parse\nproject: nlp\ntasks:\n  only: { command: "exit 3" }\n')
  const vision = await runCli(dir, ['run', 'vision.yaml', '--quiet', '--json'])
  expect(vision.code, vision.stderr).toBe(0)
  const nlp = await runCli(dir, ['run', 'nlp.yaml', '--quiet', '--json'])
  expect(nlp.code, nlp.stderr).toBe(1)
  return { dir, runs: { vision: JSON.parse(vision.stdout).runId, nlp: JSON.parse(nlp.stdout).runId } }
}

export interface ServedApi {
  readonly app: App
  readonly server: FastifyInstance
  readonly url: string
  readonly tokens: Record<string, string>
  /** Every log line the server wrote. */
  log(): string
  close(): Promise<void>
}

const TOKENS: Record<string, { scope: TokenScope; project: string | null; createdBy: string }> = {
  read: { scope: 'read', project: null, createdBy: 'alice' },
  admin: { scope: 'admin', project: null, createdBy: 'alice' },
  visionRead: { scope: 'read', project: 'vision', createdBy: 'alice' },
  visionAdmin: { scope: 'admin', project: 'vision', createdBy: 'alice' },
  /** An admin token of someone the config does not make a budget admin. */
  mallory: { scope: 'admin', project: null, createdBy: 'mallory' },
  revoked: { scope: 'admin', project: null, createdBy: 'alice' },
}

export async function serve(dir: string, options: Omit<HttpServerOptions, 'log'> = {}): Promise<ServedApi> {
  const app = await createApp({ configPath: path.join(dir, 'rpo.config.yaml'), eventPollIntervalMs: 50 })
  const tokens: Record<string, string> = {}
  for (const [name, t] of Object.entries(TOKENS)) {
    const { token, secret } = await app.store.tokens.create({ ...t, name, now: new Date().toISOString() })
    tokens[name] = secret
    if (name === 'revoked') await app.store.tokens.revoke(token.id, new Date().toISOString())
  }
  let log = ''
  const stream = new Writable({
    write(chunk, _encoding, done) {
      log += String(chunk)
      done()
    },
  })
  const server = await buildHttpServer(app, { ...options, log: { stream, level: 'trace' } })
  await server.listen({ host: '127.0.0.1', port: 0 })
  const address = server.server.address()
  if (typeof address !== 'object' || address === null) throw new Error('no address')
  return {
    app,
    server,
    url: `http://127.0.0.1:${address.port}`,
    tokens,
    log: () => log,
    async close() {
      await server.close()
      await app.close()
    },
  }
}

export function removeWorkspace(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}

export async function getJson(
  api: ServedApi,
  pathAndQuery: string,
  token: string | null = api.tokens.read as string,
  // biome-ignore lint/suspicious/noExplicitAny: a JSON answer, checked by each test's schemas and matchers
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${api.url}${pathAndQuery}`, {
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  })
  return { status: response.status, body: await response.json() }
}

export async function postJson(
  api: ServedApi,
  pathAndQuery: string,
  body: unknown,
  token: string,
  // biome-ignore lint/suspicious/noExplicitAny: a JSON answer, checked by each test's schemas and matchers
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${api.url}${pathAndQuery}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: response.status, body: await response.json() }
}

/** An open event stream: its events as they arrive, read off the real response body. */
export interface EventStream {
  readonly status: number
  /** Resolves with the first `count` events received (waiting for them). */
  take(count: number, timeoutMs?: number): Promise<RpoEvent[]>
  /** Resolves when the server ended the stream. */
  ended(): Promise<void>
  close(): void
}

export async function openEventStream(
  api: ServedApi,
  query: string,
  headers: Record<string, string> = {},
  token: string = api.tokens.read as string,
): Promise<EventStream> {
  const abort = new AbortController()
  const response = await fetch(`${api.url}/v1/events/stream${query}`, {
    headers: { authorization: `Bearer ${token}`, ...headers },
    signal: abort.signal,
  })
  const events: RpoEvent[] = []
  let waiters: (() => void)[] = []
  let done = false
  const reading = (async () => {
    if (!response.body) return
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true })
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((l) => !l.startsWith(':') && l.includes(':'))
              .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trimStart()]),
          )
          if (fields.data === undefined) continue
          const event = JSON.parse(fields.data) as RpoEvent
          expect(fields.id).toBe(String(event.id))
          expect(fields.event).toBe(event.type)
          events.push(event)
        }
        for (const w of waiters) w()
      }
    } catch (error) {
      if (!abort.signal.aborted) throw error
    } finally {
      done = true
      for (const w of waiters) w()
    }
  })()
  return {
    status: response.status,
    take(count, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`waited for ${count} events, got ${events.length}: ${JSON.stringify(events)}`)),
          timeoutMs,
        )
        const check = () => {
          if (events.length >= count) {
            clearTimeout(timer)
            waiters = waiters.filter((w) => w !== check)
            resolve(events.slice(0, count))
          } else if (done) {
            clearTimeout(timer)
            reject(new Error(`the stream ended after ${events.length} of ${count} events`))
          }
        }
        waiters.push(check)
        check()
      })
    },
    ended: () => reading,
    close: () => abort.abort(),
  }
}

/** A tick error as another part of rpo would record it: an event of no run write. */
export function tickError(message: string, project: string | null = null) {
  return {
    at: new Date().toISOString(),
    type: 'tick.error' as const,
    project,
    runId: null,
    taskId: null,
    payload: { cluster: 'box', step: 'observe', code: 'test', message },
  }
}
