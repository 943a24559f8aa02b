/**
 * The engine's events on the simulated cluster, recorded by the real engine and store: a two-hour
 * training with a one-hour limit that rpo warns before each limit, a node failing under it, a
 * failing task retried, and a poll that fails once. The event log must tell the same story as the
 * rows: replaying each attempt's, task's and the run's state events ends where the store says they
 * are; every warning, resume and node failure is there, on the virtual clock; a tick error is
 * recorded; and a tick error that cannot be recorded is said, not thrown.
 */
import { describe, expect, it } from 'vitest'
import { SimAdapter } from '../../adapters/sim/sim-adapter.js'
import { workloadFromEnv } from '../../adapters/sim/sim-workload.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import type { TickErrorPayload } from '../../src/engine/engine-events.js'
import { EventLog } from '../../src/events/event-log.js'
import type { RpoEvent } from '../../src/events/event-schemas.js'
import { TickErrorRecorder, UNRECORDED_CODE } from '../../src/events/record-tick-errors.js'
import type { JobObservation, NativeJobId, PollOptions } from '../../src/scheduler/scheduler-adapter.js'
import type { EventStore } from '../../src/store/event-store.js'
import { simEngine } from '../support/sim-engine.js'

const START = Date.parse('2026-11-02T08:00:00Z')
const MINUTE = 60_000

const PIPELINE = `
name: long
project: vision
tasks:
  train:
    command: train.sh
    resources: { gpus: { count: 1, type: a100 }, time: 1h }
    checkpoint: { every: 10m, leadTime: 5m }
    env: { RPO_SIM_DURATION: 2h, RPO_SIM_REQUEUE: "0" }
  flaky:
    command: flaky.sh
    retries: { max: 2, backoff: 1m }
    env: { RPO_SIM_DURATION: 5m, RPO_SIM_FAIL_AT: 2m, RPO_SIM_FAIL_ATTEMPTS: "1" }
`

/** A poll that fails once, at the tick it is told to. */
class PollFailsOnce extends SimAdapter {
  failNext = false
  override async poll(jobIds: readonly NativeJobId[], _options?: PollOptions): Promise<readonly JobObservation[]> {
    if (this.failNext) {
      this.failNext = false
      throw Object.assign(new Error('connection reset (test)'), { code: 'ssh-disconnected' })
    }
    return super.poll(jobIds)
  }
}

describe('the event log of a run on the simulator', () => {
  it('tells the story the store’s rows tell: transitions, warnings, resumes, node failures, tick errors', async () => {
    let adapter: PollFailsOnce | null = null
    const { clock, cluster, store, engine, close } = await simEngine({
      start: START,
      signalsBeforeLimit: false,
      nodes: [
        { name: 'g1', cpus: 8, memoryMb: 64_000, gpus: [{ type: 'a100', count: 1 }] },
        { name: 'g2', cpus: 8, memoryMb: 64_000, gpus: [{ type: 'a100', count: 1 }] },
      ],
      workload: (job) => ({ ...workloadFromEnv(job), signalLeadSeconds: null }),
      adapter: (simCluster) => {
        adapter = new PollFailsOnce({ cluster: simCluster, signalsBeforeLimit: false })
        return adapter
      },
    })
    const log = new EventLog(store.events)
    const recorder = new TickErrorRecorder(log, () => clock.now())
    recorder.watch(engine.events, 'sim')
    try {
      const runId = (await engine.startRun(loadPipelineText('/sim/long.yaml', PIPELINE))).run.id
      let state = 'running'
      let failedNode = false
      for (let minute = 0; state === 'running' && minute < 12 * 60; minute++) {
        if (minute === 20) (adapter as unknown as PollFailsOnce).failNext = true
        state = (await engine.tick(runId)).state
        if (minute === 30 && !failedNode) {
          const running = (await store.listAttempts(runId, 'train')).at(-1)
          failedNode = true
          cluster.failNode(running?.nodes[0] ?? 'g1')
        }
        cluster.advanceBy(MINUTE)
      }
      await recorder.settle()
      expect(state).toBe('succeeded')

      const events = await log.list({ limit: 10_000 })
      const ofRun = events.filter((e) => e.runId === runId)
      expect(ofRun.every((e) => e.project === 'vision')).toBe(true)
      // on the engine's (virtual) clock, never later than the simulation reached
      expect(events.every((e) => Date.parse(e.at) >= START && Date.parse(e.at) <= clock.now())).toBe(true)

      // replaying the state events ends where the rows are
      const attempts = [...(await store.listAttempts(runId, 'train')), ...(await store.listAttempts(runId, 'flaky'))]
      const replayedAttempts = new Map<string, string | null>()
      for (const e of ofRun)
        if (e.type === 'attempt.state') {
          expect(replayedAttempts.get(e.payload.submissionKey) ?? null).toBe(e.payload.from)
          replayedAttempts.set(e.payload.submissionKey, e.payload.to)
        }
      expect(Object.fromEntries(replayedAttempts)).toEqual(
        Object.fromEntries(attempts.map((a) => [a.submissionKey, a.state])),
      )
      const { snapshot } = await store.loadSnapshot(runId)
      const replayedTasks = new Map<string, string>()
      for (const e of ofRun)
        if (e.type === 'task.state' && e.taskId) {
          expect(replayedTasks.get(e.taskId) ?? 'pending').toBe(e.payload.from)
          replayedTasks.set(e.taskId, e.payload.to)
        }
      expect(Object.fromEntries(replayedTasks)).toEqual(Object.fromEntries(snapshot.tasks.map((t) => [t.id, t.state])))
      expect(ofRun.filter((e) => e.type.startsWith('run.')).map((e) => e.type)).toEqual(['run.started', 'run.finished'])

      // the node failure, each warning before the limit and each resume
      const trainAttempts = attempts.filter((a) => a.taskId === 'train')
      const nodeFailed = ofRun.filter((e) => e.type === 'node.failed')
      expect(nodeFailed).toHaveLength(1)
      expect(trainAttempts.filter((a) => a.state === 'node_fail')).toHaveLength(1)
      const journal = await store.listEvents(runId)
      const count = (type: RpoEvent['type']) => ofRun.filter((e) => e.type === type).length
      expect(count('checkpoint.warned')).toBe(journal.filter((e) => e.type === 'task:checkpoint-requested').length)
      expect(count('checkpoint.warned')).toBeGreaterThanOrEqual(1)
      expect(count('attempt.resumed')).toBe(journal.filter((e) => e.type === 'task:resuming').length)
      expect(count('attempt.resumed')).toBe(trainAttempts.length - 1)
      // the flaky task failed once and was retried
      expect(
        ofRun
          .filter((e) => e.type === 'task.state' && e.taskId === 'flaky')
          .map((e) => (e.type === 'task.state' ? e.payload.to : null)),
      ).toContain('retry_wait')

      // the failed poll, as a tick error of the cluster
      const tickErrors = events.filter((e) => e.type === 'tick.error')
      expect(tickErrors.map((e) => e.payload)).toContainEqual({
        cluster: 'sim',
        step: 'observe',
        code: 'internal',
        message: 'could not poll the scheduler: connection reset (test)',
      })
      // ids increase with time
      const ids = events.map((e) => e.id)
      expect(ids).toEqual([...ids].sort((a, b) => a - b))
    } finally {
      await close()
    }
  })

  it('says a tick error it cannot record as a tick error, and never throws into the tick', async () => {
    const { engine, close } = await simEngine({ start: START, nodes: [{ name: 'c1', cpus: 1, memoryMb: 1000 }] })
    try {
      const broken = {
        append: async () => {
          throw new Error('disk I/O error (test)')
        },
      } as unknown as EventStore
      const recorder = new TickErrorRecorder(new EventLog(broken))
      recorder.watch(engine.events, 'sim')
      const said: TickErrorPayload[] = []
      engine.events.on('tick:error', (e) => said.push(e))
      engine.events.tickError('act', new Error('cancel refused'), { runId: 'r1' })
      await recorder.settle()
      await new Promise((resolve) => setTimeout(resolve, 0))
      expect(said).toEqual([
        { step: 'act', cause: { code: 'internal', message: 'cancel refused' }, runId: 'r1' },
        {
          step: 'act',
          cause: {
            code: UNRECORDED_CODE,
            message: 'recording the tick error "cancel refused" in the event log: disk I/O error (test)',
          },
          runId: 'r1',
        },
      ])
    } finally {
      await close()
    }
  })
})
