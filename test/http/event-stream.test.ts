/**
 * GET /v1/events/stream with a real fetch client over 127.0.0.1: events arrive as they are stored,
 * a client that reconnects with Last-Event-ID gets every event stored while it was away and none
 * twice, filters and project restrictions hold on the stream, and the server's close ends open
 * streams cleanly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RpoEvent } from '../../src/events/event-schemas.js'
import { runCli } from '../support/cli-harness.js'
import {
  openEventStream,
  removeWorkspace,
  type ServedApi,
  serve,
  tickError,
  workspaceWithRuns,
} from './http-harness.js'

let dir = ''
let api: ServedApi

beforeAll(async () => {
  ;({ dir } = await workspaceWithRuns())
  api = await serve(dir)
})

afterAll(async () => {
  await api?.close()
  removeWorkspace(dir)
})

const openConnections = (served: ServedApi) =>
  new Promise<number>((resolve, reject) =>
    served.server.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  )

async function until(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('the condition did not hold in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}

const messages = (events: readonly RpoEvent[]) =>
  events.map((e) => (e.type === 'tick.error' ? e.payload.message : `${e.type}`))

describe('rpo serve: the event stream', () => {
  it('resumes with Last-Event-ID: events stored while disconnected come on reconnect, none twice', async () => {
    // count the followers the server runs: each listens for this process's commits while it lives
    const events = api.app.store.events
    const listen = events.onCommitted.bind(events)
    let followers = 0
    events.onCommitted = (listener) => {
      followers++
      const stop = listen(listener)
      return () => {
        followers--
        return stop()
      }
    }
    const start = await api.app.events.lastId()
    const first = await openEventStream(api, `?afterId=${start}&type=tick`)
    expect(first.status).toBe(200)
    await api.app.events.record([tickError('one'), tickError('two'), tickError('three')])
    const seen = await first.take(3)
    expect(messages(seen)).toEqual(['one', 'two', 'three'])
    expect(followers).toBe(1)
    // the client goes away having handled two of them; the server lets go of its stream
    first.close()
    await first.ended()
    await until(async () => (await openConnections(api)) === 0 && followers === 0)
    await api.app.events.record([tickError('four'), tickError('five')])

    const again = await openEventStream(api, '?type=tick', { 'last-event-id': String(seen[1]?.id) })
    const resumed = await again.take(3)
    expect(messages(resumed)).toEqual(['three', 'four', 'five'])
    await api.app.events.record([tickError('six')])
    expect(messages(await again.take(4))).toEqual(['three', 'four', 'five', 'six'])
    again.close()

    const stored = await api.app.events.list({ afterId: start, types: ['tick.error'] })
    const delivered = [...seen.slice(0, 2), ...(await again.take(4))]
    expect(delivered.map((e) => e.id)).toEqual(stored.map((e) => e.id))
    expect(delivered).toEqual(stored)
  })

  it('delivers what another process stores (a real run), filtered, and only the token’s project', async () => {
    const from = await api.app.events.lastId()
    const all = await openEventStream(api, `?afterId=${from}&type=run`)
    const vision = await openEventStream(api, `?afterId=${from}`, {}, api.tokens.visionRead)
    // without an id to resume from, a stream starts at the newest event: only what comes after
    const fresh = await openEventStream(api, '?type=run')
    const run = await runCli(dir, ['run', 'nlp.yaml', '--quiet', '--json'])
    expect(run.code).toBe(1)
    await api.app.events.record([tickError('vision trouble', 'vision')])
    const runEvents = await all.take(2)
    expect(runEvents.map((e) => [e.type, e.project])).toEqual([
      ['run.started', 'nlp'],
      ['run.finished', 'nlp'],
    ])
    expect(await fresh.take(2)).toEqual(runEvents)
    const visionEvents = await vision.take(1)
    expect(visionEvents.map((e) => [e.type, e.project])).toEqual([['tick.error', 'vision']])
    for (const stream of [all, vision, fresh]) stream.close()
  })

  it('ends open streams when the server closes', async () => {
    const other = await serve(dir)
    const stream = await openEventStream(other, '')
    expect(stream.status).toBe(200)
    const began = Date.now()
    await other.close()
    await stream.ended()
    expect(Date.now() - began).toBeLessThan(5000)
  })
})
