/**
 * A real HTTP receiver on 127.0.0.1 for webhook tests: records every request (headers, raw body,
 * when it came) and answers as the test says — a status, or never (a hanging receiver).
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedRequest {
  readonly headers: IncomingHttpHeaders
  readonly body: string
  readonly at: number
}

export type Answer = number | 'hang'

export interface Receiver {
  readonly url: string
  readonly requests: ReceivedRequest[]
  /** Resolves once `count` requests have come (or rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export async function startReceiver(answer: (request: ReceivedRequest, index: number) => Answer): Promise<Receiver> {
  const requests: ReceivedRequest[] = []
  const hanging = new Set<ServerResponse>()
  const waiters: (() => void)[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const request = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() }
      requests.push(request)
      for (const wake of waiters.splice(0)) wake()
      const reply = answer(request, requests.length - 1)
      if (reply === 'hang') {
        hanging.add(res)
        return
      }
      res.writeHead(reply, { 'content-type': 'text/plain' }).end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      while (requests.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} request(s), got ${requests.length}`)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 100)
          waiters.push(() => {
            clearTimeout(timer)
            resolve()
          })
        })
      }
    },
    async close() {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
