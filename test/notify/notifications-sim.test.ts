/**
 * Notifications from the tick, on the simulated cluster through the real engine, store and budget
 * service: a run whose projection passes its deadline is said at risk once, and recovered once when
 * its slow-looking first stage turns out quick; its bottleneck change is said once; a budget's 80 %
 * and 100 % are said once each. A restarted checker (a new process) repeats none of them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { SimAdapter } from '../../adapters/sim/sim-adapter.js'
import { SimClock } from '../../adapters/sim/sim-clock.js'
import { SimCluster, type SimClusterOptions } from '../../adapters/sim/sim-cluster.js'
import { BudgetService } from '../../src/budget/budget-service.js'
import { WebhookSchema } from '../../src/config/config-schema.js'
import { loadConfig, type ResolvedConfig } from '../../src/config/load-config.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { Engine } from '../../src/engine/engine.js'
import { type NotificationCheck, notificationChecker } from '../../src/engine/notify-step.js'
import { EventLog } from '../../src/events/event-log.js'
import type { RpoEvent } from '../../src/events/event-schemas.js'
import { WebhookDispatcher } from '../../src/notify/webhook-dispatcher.js'
import { webhookTargetsOf } from '../../src/notify/webhook-target.js'
import { openDatabase } from '../../src/store/open-store.js'
import { RunStore } from '../../src/store/run-store.js'
import { startReceiver } from './webhook-receiver.js'

const START = Date.parse('2026-11-02T08:00:00Z')
const MINUTE = 60_000
const HOUR = 60 * MINUTE

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** The sim engine with a replaceable notification checker: replacing it is what a restart does. */
async function simWithNotifications(options: { nodes: SimClusterOptions['nodes']; config?: ResolvedConfig }) {
  const clock = new SimClock(START)
  const cluster = new SimCluster({ nodes: options.nodes, clock })
  const store = new RunStore(await openDatabase({ kind: 'sqlite', path: ':memory:', busyTimeoutMs: 1000 }))
  const budget = options.config ? new BudgetService(options.config, store) : null
  const newChecker = () =>
    notificationChecker({
      store,
      projectDeadlines: {},
      intervalMs: 0,
      ...(budget ? { budgetStatuses: async (now: number) => (await budget.statuses(now)).statuses } : {}),
    })
  let checker: NotificationCheck = newChecker()
  const adapter = new SimAdapter({ cluster })
  const engine = new Engine({
    store,
    adapter,
    commands: adapter,
    changes: adapter,
    clusterName: 'sim',
    jobsRoot: '/sim/jobs',
    runsRoot: '/sim/runs',
    readFile: async () => null,
    capacity: null,
    clock: () => clock.now(),
    ...(budget ? { budget } : {}),
    notify: (name, runs, now) => checker(name, runs, now),
  })
  const errors: string[] = []
  engine.events.on('tick:error', (e) => errors.push(`${e.step} ${e.cause.code}: ${e.cause.message}`))
  cleanups.push(async () => {
    await engine.close()
    await store.close()
  })
  return {
    clock,
    store,
    engine,
    errors,
    restart(replacement: NotificationCheck = newChecker()) {
      checker = replacement
    },
    notices: (types: RpoEvent['type'][]) => store.events.list({ types }),
  }
}

describe('notifications on the simulator', () => {
  it('says a run at risk of its deadline once, its recovery once, and its bottleneck change once', async () => {
    const sim = await simWithNotifications({ nodes: [{ name: 'n1', cpus: 8, memoryMb: 64_000, gpus: [] }] })
    // `a` is expected to take 10 h against a deadline 5 h away; it takes 1 h
    const pipeline = loadPipelineText(
      '/sim/late.yaml',
      `
name: late
project: vision
deadline: "${new Date(START + 5 * HOUR).toISOString()}"
tasks:
  a: { command: a.sh, expected: 10h, resources: { time: 12h }, env: { RPO_SIM_DURATION: 1h } }
  b: { command: b.sh, expected: 1h, after: [a], resources: { time: 2h }, env: { RPO_SIM_DURATION: 1h } }
`,
    )
    const runId = (await sim.engine.startRun(pipeline, { resume: false })).run.id
    let state = 'running'
    for (let minute = 0; state === 'running' && minute < 6 * 60; minute++) {
      state = (await sim.engine.tick(runId)).state
      // a restart halfway through `a`, and again halfway through `b`
      if (minute === 30 || minute === 90) sim.restart()
      sim.clock.advanceBy(MINUTE)
    }
    expect(state).toBe('succeeded')
    expect(sim.errors).toEqual([])

    const deadline = await sim.notices(['deadline.at-risk'])
    expect(deadline.map((e) => e.type === 'deadline.at-risk' && e.payload.state)).toEqual(['at-risk', 'recovered'])
    const [atRisk, recovered] = deadline as [RpoEvent, RpoEvent]
    expect(atRisk).toMatchObject({ project: 'vision', runId, payload: { bottleneck: 'a' } })
    // said at the first round, when the projection (10 h + 1 h) first passed the deadline
    expect(Date.parse(atRisk.at) - START).toBeLessThan(2 * MINUTE)
    if (atRisk.type !== 'deadline.at-risk' || recovered.type !== 'deadline.at-risk') throw new Error('types')
    expect(atRisk.payload.slackSeconds).toBeLessThan(-5 * 3600)
    // recovered once `a` ended (after 1 h): what remains is `b`, about an hour
    expect(Date.parse(recovered.at) - START).toBeGreaterThanOrEqual(HOUR)
    expect(Date.parse(recovered.at) - START).toBeLessThan(HOUR + 5 * MINUTE)
    expect(recovered.payload.slackSeconds).toBeGreaterThan(2 * 3600)

    const bottleneck = await sim.notices(['bottleneck.changed'])
    expect(bottleneck.map((e) => e.payload)).toEqual([
      { from: 'a', to: 'b', remainingCriticalPathSeconds: expect.any(Number) },
    ])
  }, 60_000)

  it('a webhook with the default types hears of a task that failed after its retries, once', async () => {
    const sim = await simWithNotifications({ nodes: [{ name: 'n1', cpus: 8, memoryMb: 64_000, gpus: [] }] })
    const receiver = await startReceiver(() => 200)
    cleanups.push(() => receiver.close())
    const [target] = webhookTargetsOf([WebhookSchema.parse({ name: 'ops', url: receiver.url })])
    if (!target) throw new Error('no target')
    const dispatcher = new WebhookDispatcher({
      hooks: [target],
      log: new EventLog(sim.store.events, { pollIntervalMs: 50 }),
      store: sim.store.notifications,
      pollIntervalMs: 50,
    })
    dispatcher.start()
    cleanups.push(() => dispatcher.stop())
    while ((await sim.store.notifications.cursor('ops')) === null) await new Promise((r) => setTimeout(r, 20))
    // every attempt exits 3; two retries, then the task fails for good
    const pipeline = loadPipelineText(
      '/sim/flaky.yaml',
      `
name: flaky
project: vision
tasks:
  t: { command: t.sh, retries: { max: 2, backoff: 1m }, env: { RPO_SIM_DURATION: 5m, RPO_SIM_EXIT: "3" } }
`,
    )
    const runId = (await sim.engine.startRun(pipeline, { resume: false })).run.id
    let state = 'running'
    for (let minute = 0; state === 'running' && minute < 60; minute++) {
      state = (await sim.engine.tick(runId)).state
      sim.clock.advanceBy(MINUTE)
    }
    expect(state).toBe('failed')
    const attempts = (await sim.store.events.list({ types: ['attempt.state'], runId })).filter(
      (e) => e.type === 'attempt.state' && e.payload.from === null,
    )
    expect(attempts).toHaveLength(3)
    await receiver.waitFor(1)
    await new Promise((r) => setTimeout(r, 300))
    expect(receiver.requests.map((q) => JSON.parse(q.body))).toEqual([
      expect.objectContaining({
        type: 'task.state',
        runId,
        taskId: 't',
        project: 'vision',
        payload: expect.objectContaining({ to: 'failed' }),
      }),
    ])
  }, 60_000)

  it('a notification check that fails is a tick error; the round goes on', async () => {
    const sim = await simWithNotifications({ nodes: [{ name: 'n1', cpus: 8, memoryMb: 64_000, gpus: [] }] })
    sim.restart(async () => {
      throw new Error('store went away')
    })
    const pipeline = loadPipelineText(
      '/sim/p.yaml',
      'name: p\ntasks:\n  a: { command: a.sh, env: { RPO_SIM_DURATION: 1m } }\n',
    )
    const runId = (await sim.engine.startRun(pipeline, { resume: false })).run.id
    const tick = await sim.engine.tick(runId)
    expect(tick.submitted).toBe(1)
    expect(sim.errors).toEqual(['notify internal: checking deadlines and budgets to notify: store went away'])
  })

  it('says a budget at 80 % and at 100 % once each', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rpo-notify-budget-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(
      path.join(dir, 'rpo.config.yaml'),
      'projects:\n  vision:\n    budgets: [{ resource: gpu-hours, amount: 10, cap: soft }]\n',
    )
    const config = loadConfig({ configPath: path.join(dir, 'rpo.config.yaml'), env: {} })
    const sim = await simWithNotifications({
      nodes: [{ name: 'g1', cpus: 32, memoryMb: 256_000, gpus: [{ type: 'a100', count: 4 }] }],
      config,
    })
    // one GPU for 12 h against 10 GPU-hours: 80 % after 8 h, 100 % after 10 h
    const pipeline = loadPipelineText(
      '/sim/train.yaml',
      `
name: train
project: vision
tasks:
  train:
    command: train.sh
    resources: { cpus: 2, memory: 8G, gpus: { count: 1, type: a100 }, time: 13h }
    env: { RPO_SIM_DURATION: 12h }
`,
    )
    const runId = (await sim.engine.startRun(pipeline, { resume: false })).run.id
    let state = 'running'
    for (let step = 0; state === 'running' && step < 14 * 12; step++) {
      state = (await sim.engine.tick(runId)).state
      if (step % 24 === 0) sim.restart()
      sim.clock.advanceBy(5 * MINUTE)
    }
    expect(state).toBe('succeeded')
    expect(sim.errors).toEqual([])
    const thresholds = (await sim.notices(['budget.threshold'])).flatMap((e) =>
      e.type === 'budget.threshold' ? [{ ...e.payload, hoursIn: (Date.parse(e.at) - START) / HOUR }] : [],
    )
    // the burn rate says at the first charge that it runs out within the month; 80 % and 100 % once each
    expect(thresholds.map((t) => t.level)).toEqual(['projected', 'warning', 'exhausted'])
    const crossings = thresholds.filter((t) => t.level !== 'projected')
    const [warning, exhausted] = crossings as [(typeof thresholds)[number], (typeof thresholds)[number]]
    expect(warning).toMatchObject({ budget: 'vision.budgets[0]', resource: 'gpu-hours', cap: 'soft', effective: 10 })
    expect(warning.percent).toBeGreaterThanOrEqual(80)
    expect(warning.percent).toBeLessThan(100)
    expect(warning.hoursIn).toBeGreaterThanOrEqual(8)
    expect(warning.hoursIn).toBeLessThan(8.5)
    expect(exhausted.percent).toBeGreaterThanOrEqual(100)
    expect(exhausted.hoursIn).toBeGreaterThanOrEqual(10)
    expect(exhausted.hoursIn).toBeLessThan(10.5)
    expect(new Set((await sim.notices(['budget.threshold'])).map((e) => [e.project, e.runId].join()))).toEqual(
      new Set(['vision,']),
    )
    console.log(thresholds.map((t) => `${t.level} ${t.percent} % at ${t.hoursIn.toFixed(2)} h`).join('; '))
  }, 60_000)
})
