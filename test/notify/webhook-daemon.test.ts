/**
 * `rpo daemon` (startDaemon, in this process, on the local executor and a SQLite store) delivers
 * the config's webhooks beside its rounds: a receiver that hangs on the first delivery holds up no
 * round — the run goes on to its end, round after round — and stopping the daemon cuts the hanging
 * delivery short instead of waiting out its timeout.
 */
import { rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadPipelineFile } from '../../src/config/load-pipeline.js'
import { type App, createApp } from '../../src/create-app.js'
import { startDaemon } from '../../src/sync/sync-runs.js'
import { makeWorkDir, writePipeline } from '../support/cli-harness.js'
import { type Receiver, startReceiver } from './webhook-receiver.js'

let dir = ''
let app: App | null = null
let receiver: Receiver | null = null
afterEach(async () => {
  await app?.close()
  await receiver?.close()
  rmSync(dir, { recursive: true, force: true })
})

async function until(condition: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe('webhooks in rpo daemon', () => {
  it('a receiver that hangs holds up no round, and stopping cuts its delivery short', async () => {
    receiver = await startReceiver(() => 'hang')
    dir = makeWorkDir('rpo-webhook-daemon-')
    writeFileSync(
      path.join(dir, 'rpo.config.yaml'),
      `store: { url: "sqlite:rpo.sqlite" }
defaultCluster: box
clusters:
  box: { kind: local, cpus: 4, memory: 4G, killGrace: 200ms, pollInterval: 50ms }
sync: { schedule: "* * * * * *" }
webhooks:
  - { name: slow, url: "${receiver.url}", secretEnv: HOOK_SECRET, types: [run.started, task.state], timeout: 1m, retries: { max: 0 } }
`,
    )
    writePipeline(
      dir,
      'p.yaml',
      'name: chain\ntasks:\n  a: { command: "true" }\n  b: { command: "true", after: [a] }\n  c: { command: "true", after: [b] }\n',
    )
    const opened = await createApp({ configPath: path.join(dir, 'rpo.config.yaml'), cwd: dir, env: {} })
    app = opened
    const rounds: number[] = []
    const abort = new AbortController()
    process.env.HOOK_SECRET = 'a-secret-for-this-test-only'
    let daemon: Promise<void>
    try {
      daemon = startDaemon(opened, {
        log: (line) => {
          if (line.startsWith('cluster box:')) rounds.push(Date.now())
        },
        signal: abort.signal,
      })
    } finally {
      delete process.env.HOOK_SECRET
    }
    await until(async () => (await opened.store.notifications.cursor('slow')) !== null)

    const engine = await opened.engineFor('box')
    const { run } = await engine.startRun(loadPipelineFile(path.join(dir, 'p.yaml')), { resume: false })
    await receiver.waitFor(1)
    const hangingSince = Date.now()
    await until(async () => (await opened.store.getRun(run.id)).state !== 'running')
    const runTook = Date.now() - hangingSince
    expect((await opened.store.getRun(run.id)).state).toBe('succeeded')
    // the first delivery still hangs: nothing else was sent, and the rounds went on meanwhile
    expect(receiver.requests).toHaveLength(1)
    expect(JSON.parse(receiver.requests[0]?.body ?? '{}')).toMatchObject({ type: 'run.started', runId: run.id })
    const during = rounds.filter((at) => at >= hangingSince)
    expect(during.length).toBeGreaterThanOrEqual(3)
    const gaps = during.slice(1).map((at, i) => at - (during[i] as number))
    console.log(
      `run finished ${runTook} ms into the hang; ${during.length} rounds, longest gap ${Math.max(...gaps)} ms`,
    )
    expect(Math.max(...gaps)).toBeLessThan(3000)

    const stopping = Date.now()
    abort.abort()
    await daemon
    expect(Date.now() - stopping).toBeLessThan(5000)
    // cut short, not given up: no failure recorded, and its cursor still before the event
    expect(await opened.events.list({ types: ['webhook.failed'] })).toEqual([])
    const started = (await opened.events.list({ types: ['run.started'] }))[0]
    expect(await opened.store.notifications.cursor('slow')).toBeLessThan(started?.id ?? 0)
  }, 60_000)
})
