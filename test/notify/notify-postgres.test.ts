/**
 * Once only, on PostgreSQL, across processes:
 * - two stores (two connection pools, as two daemons have) applying the same notification changes
 *   at the same instant: each change is stored, with its event, by exactly one of them;
 * - two real `rpo daemon` processes with the same webhook: every event reaches the receiver exactly
 *   once, and when the delivering daemon is killed the other takes the hook over where it stopped.
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NewRpoEvent, RpoEvent } from '../../src/events/event-schemas.js'
import type { RunStore } from '../../src/store/run-store.js'
import { makeWorkDir, spawnCli } from '../support/cli-harness.js'
import { openRunStore, postgresHarness } from '../support/store-dialects.js'
import { type Receiver, startReceiver } from './webhook-receiver.js'

const harness = postgresHarness()
let url = ''
let stores: RunStore[] = []
beforeAll(async () => {
  const target = await harness.setUp()
  if (target.kind !== 'postgres') throw new Error('expected a PostgreSQL target')
  url = target.url
  stores = [await openRunStore(target), await openRunStore(target)]
})
afterAll(async () => {
  for (const store of stores) await store.close()
  await harness.tearDown()
})

let jobs = 0
function nodeFailed(): NewRpoEvent {
  jobs++
  return {
    at: new Date().toISOString(),
    type: 'node.failed',
    project: 'vision',
    runId: null,
    taskId: null,
    payload: { nodes: ['n1'], jobId: String(jobs), attempt: 1, submissionKey: `k${jobs}` },
  }
}

async function until(condition: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('notifications once only on PostgreSQL', () => {
  it('a change decided by two processes at once is stored once', async () => {
    const [one, two] = stores as [RunStore, RunStore]
    const at = new Date().toISOString()
    const change = (i: number, from: string | null, to: string) => ({
      subject: `deadline:run:race-${i}`,
      from,
      to,
      event: {
        at,
        type: 'deadline.at-risk',
        project: 'vision',
        runId: `race-${i}`,
        taskId: null,
        payload: {
          state: to === 'at-risk' ? 'at-risk' : 'recovered',
          projectedEnd: at,
          deadline: at,
          slackSeconds: to === 'at-risk' ? -60 : 900,
          bottleneck: null,
        },
      } satisfies NewRpoEvent,
    })
    for (const [from, to] of [
      [null, 'at-risk'],
      ['at-risk', 'on-track'],
    ] as const) {
      const changes = Array.from({ length: 25 }, (_, i) => change(i, from, to))
      const [a, b] = await Promise.all([one.notifications.apply(changes, at), two.notifications.apply(changes, at)])
      expect(a.length + b.length).toBe(25)
      const subjects = [...a, ...b].map((c) => c.subject).sort()
      expect(new Set(subjects).size).toBe(25)
    }
    const events = await one.events.list({ types: ['deadline.at-risk'] })
    expect(events).toHaveLength(50)
    const states = await two.notifications.states(Array.from({ length: 25 }, (_, i) => `deadline:run:race-${i}`))
    expect(new Set(states.values())).toEqual(new Set(['on-track']))
  })

  it('two daemons deliver each event once; a killed one is taken over where it stopped', async () => {
    const receiver: Receiver = await startReceiver(() => 200)
    const dir = makeWorkDir('rpo-webhook-daemons-')
    writeFileSync(
      path.join(dir, 'rpo.config.yaml'),
      `store: { url: "${url}" }
defaultCluster: box
clusters:
  box: { kind: local, cpus: 2, memory: 2G }
sync: { schedule: "* * * * * *" }
webhooks:
  - { name: team, url: "${receiver.url}", secretEnv: HOOK_SECRET, types: [node.failed] }
`,
    )
    const env = { HOOK_SECRET: 'a-secret-for-this-test-only' }
    const daemons = [spawnCli(dir, ['daemon'], env), spawnCli(dir, ['daemon'], env)]
    const [store] = stores as [RunStore]
    try {
      await Promise.all(daemons.map((d) => d.waitFor('rpo daemon: syncing')))
      await until(async () => (await store.notifications.cursor('team')) !== null)
      await store.events.append(Array.from({ length: 10 }, nodeFailed))
      await until(() => receiver.requests.length >= 10)
      const cursor = await store.events.lastId()
      await until(async () => (await store.notifications.cursor('team')) === cursor)
      const holder = (await store.leases.holder('webhook:team', new Date().toISOString())) ?? ''
      const delivering = daemons.find((d) => holder.includes(`:${d.child.pid}:`))
      if (!delivering) throw new Error(`no daemon holds the hook's lease (${holder})`)
      delivering.child.kill('SIGKILL')
      await delivering.exited()

      await store.events.append(Array.from({ length: 10 }, nodeFailed))
      // the survivor finds the lease's holder dead and takes the hook over (≤ 5 s of waiting)
      await until(() => receiver.requests.length >= 20)
      await new Promise((r) => setTimeout(r, 1500))
      const ids = receiver.requests.map((q) => (JSON.parse(q.body) as RpoEvent).id)
      expect(ids).toHaveLength(20)
      expect(new Set(ids).size).toBe(20)
      expect(ids).toEqual([...ids].sort((a, b) => a - b))
    } finally {
      for (const d of daemons) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGTERM')
      await Promise.all(daemons.map((d) => d.exited()))
      await receiver.close()
    }
  }, 120_000)
})
