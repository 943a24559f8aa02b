/**
 * 100 Server-Sent Events subscribers on the one `rpo serve` process: each a real fetch stream on
 * /v1/events/stream, a burst of tick errors then written through the event log (100 transactions
 * of 10, as ticks write them), and each event's delivery latency (its write began → a subscriber
 * parsed it) measured; every subscriber must get every event once, in order. The subscribers
 * are in this process too, so the RSS printed is the server's plus theirs.
 */
import type { NewRpoEvent } from '../src/events/event-schemas.js'
import { fmt, type Served, timing } from './api-bench.js'
import type { FilledStore } from './api-fill.js'

const SUBSCRIBERS = 100
const BATCHES = 100
const PER_BATCH = 10
const TIMEOUT_MS = 60_000
const SINGLES = 20

interface Subscriber {
  readonly ids: number[]
  readonly latencies: number[]
  close(): void
}

const rssMb = () => process.memoryUsage().rss / 1024 / 1024

export async function benchSse(filled: FilledStore, served: Served): Promise<void> {
  const total = BATCHES * PER_BATCH
  const rssBefore = rssMb()
  const written = new Map<string, number>()
  let arrived = 0
  let waiting: { target: number; resolve: () => void } | null = null
  const subscribers = await Promise.all(
    Array.from({ length: SUBSCRIBERS }, () =>
      subscribe(served, written, () => {
        arrived++
        if (waiting && arrived >= waiting.target) waiting.resolve()
      }),
    ),
  )
  /** Until every subscriber has `count` more events than before (or the timeout). */
  const arrivalOf = (count: number) => {
    const target = arrived + SUBSCRIBERS * count
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, TIMEOUT_MS)
      waiting = {
        target,
        resolve: () => {
          clearTimeout(timer)
          waiting = null
          resolve()
        },
      }
    })
  }
  const write = async (first: number, count: number) => {
    const events: NewRpoEvent[] = []
    for (let k = 0; k < count; k++) {
      const message = `burst ${first + k}`
      written.set(message, performance.now())
      events.push({
        at: new Date().toISOString(),
        type: 'tick.error',
        project: null,
        runId: null,
        taskId: null,
        payload: { cluster: 'box', step: 'observe', code: 'bench', message },
      })
    }
    await filled.app.events.record(events)
  }
  const rssOpen = rssMb()
  let rssPeak = rssOpen

  // one event at a time, each delivered before the next: the latency of a quiet server
  const single: number[] = []
  for (let j = 0; j < SINGLES; j++) {
    const from = subscribers.map((s) => s.latencies.length)
    const arrival = arrivalOf(1)
    await write(-1 - j, 1)
    await arrival
    single.push(...subscribers.flatMap((s, i) => s.latencies.slice(from[i])))
  }
  for (const s of subscribers) s.latencies.length = 0
  for (const s of subscribers) s.ids.length = 0

  const allArrived = arrivalOf(total)
  const start = performance.now()
  for (let b = 0; b < BATCHES; b++) {
    await write(b * PER_BATCH, PER_BATCH)
    rssPeak = Math.max(rssPeak, rssMb())
  }
  const writeMs = performance.now() - start
  await allArrived
  const allMs = performance.now() - start
  rssPeak = Math.max(rssPeak, rssMb())
  for (const s of subscribers) s.close()
  const q = timing(single)
  console.log(
    `${SUBSCRIBERS} SSE subscribers; ${SINGLES} single events, one at a time: delivery latency median ${fmt(q.median)} ms  p99 ${fmt(q.p99)} ms`,
  )

  const latencies = subscribers.flatMap((s) => s.latencies)
  const short = subscribers.filter((s) => s.ids.length < total).length
  const duplicated = subscribers.filter((s) => new Set(s.ids).size !== s.ids.length).length
  const outOfOrder = subscribers.filter((s) => s.ids.some((id, i) => i > 0 && id <= (s.ids[i - 1] as number))).length
  const extra = subscribers.filter((s) => s.ids.length > total).length
  const t = timing(latencies)
  console.log(
    `  burst: ${total} events written in ${BATCHES} transactions of ${PER_BATCH} (${writeMs.toFixed(0)} ms to write)`,
  )
  console.log(
    `  all ${SUBSCRIBERS} had all ${total} after ${allMs.toFixed(0)} ms; delivery latency per event median ${fmt(t.median)} ms  p95 ${fmt(t.p95)} ms  p99 ${fmt(t.p99)} ms`,
  )
  console.log(
    `  lost: ${short} subscribers short, ${duplicated} with a duplicate, ${extra} with extra, ${outOfOrder} out of order → ${
      short + duplicated + extra + outOfOrder === 0 ? 'ok' : 'FAILED'
    }`,
  )
  console.log(
    `  RSS ${rssBefore.toFixed(0)} MB before, ${rssOpen.toFixed(0)} MB with ${SUBSCRIBERS} streams open, peak ${rssPeak.toFixed(0)} MB (server and subscribers in one process)`,
  )
}

async function subscribe(
  served: Served,
  written: ReadonlyMap<string, number>,
  onEvent: () => void,
): Promise<Subscriber> {
  const abort = new AbortController()
  const response = await fetch(`${served.url}/v1/events/stream`, {
    headers: { authorization: `Bearer ${served.token}` },
    signal: abort.signal,
  })
  if (response.status !== 200 || !response.body) throw new Error(`the event stream answered ${response.status}`)
  const ids: number[] = []
  const latencies: number[] = []
  const body = response.body
  void (async () => {
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true })
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = block.split('\n').find((line) => line.startsWith('data: '))
          if (!data) continue
          const event = JSON.parse(data.slice(6)) as { id: number; payload: { message?: string } }
          const sent = written.get(event.payload.message ?? '')
          ids.push(event.id)
          if (sent !== undefined) latencies.push(performance.now() - sent)
          onEvent()
        }
      }
    } catch (error) {
      if (!abort.signal.aborted) throw error
    }
  })()
  return { ids, latencies, close: () => abort.abort() }
}
