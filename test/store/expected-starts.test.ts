/**
 * A pending job's start as its scheduler expects it, from the poll's observation through the persist
 * step into the store and back in the run's snapshot (what `rpo status` projects from), on SQLite and
 * PostgreSQL: written when it changes, cleared when the scheduler no longer has one, left alone for
 * jobs that started.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TickPlan } from '../../src/core/scheduling/plan-tick.js'
import type { AttemptObservation } from '../../src/core/scheduling/run-snapshot.js'
import { planWrite } from '../../src/engine/persist-step.js'
import { asNativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import type { RunStore } from '../../src/store/run-store.js'
import { attemptOf, pipelineOf, T0 } from '../support/fixtures.js'
import { openRunStore, STORE_DIALECTS } from '../support/store-dialects.js'

const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString()
const LOADED = pipelineOf(`
name: queue
tasks:
  a: { command: a.sh }
  b: { command: b.sh }
`)

const EMPTY_PLAN = {
  taskUpdates: new Map(),
  attemptUpdates: new Map(),
  newTasks: [],
  submissions: [],
  cancellations: [],
  events: [],
  runState: 'running',
} as unknown as TickPlan

function observed(key: string, state: 'pending' | 'held' | 'running', expectedStartAt?: string): AttemptObservation {
  return {
    kind: 'observed',
    submissionKey: key,
    job: {
      jobId: asNativeJobId(key.replace(/\D/g, '') || '1'),
      state,
      nativeState: state.toUpperCase(),
      exitCode: null,
      startedAt: state === 'running' ? new Date(T0) : null,
      endedAt: null,
      ...(expectedStartAt === undefined ? {} : { expectedStartAt: new Date(expectedStartAt) }),
    },
  }
}

describe.each(STORE_DIALECTS.map((make) => ({ make, name: make().name })))(
  "the scheduler's expected starts on $name",
  ({ make }) => {
    const harness = make()
    let store: RunStore

    beforeAll(async () => {
      store = await openRunStore(await harness.setUp())
      await store.createRun({
        id: 'r1',
        pipeline: LOADED.pipeline,
        instances: LOADED.instances,
        cluster: 'hpc',
        specHash: LOADED.specHash,
        sourceFile: LOADED.file,
        workDir: LOADED.workDir,
        now: at(0),
        user: 'alice',
      })
      await store.applyPlan('r1', 'running', {
        ...planWrite(EMPTY_PLAN, [], at(1)),
        newAttempts: [
          attemptOf('a', 1, { submissionKey: 'k.a.1', state: 'pending', submittedAt: at(1) }),
          attemptOf('b', 1, { submissionKey: 'k.b.1', state: 'pending', submittedAt: at(1) }),
        ],
      })
    })

    afterAll(async () => {
      if (store) await store.close()
      await harness.tearDown()
    })

    const expectedStarts = async () => {
      const { snapshot } = await store.loadSnapshot('r1')
      return Object.fromEntries(snapshot.latestAttempts.map((a) => [a.taskId, a.expectedStartAt ?? null]))
    }

    it('keeps the estimate of each waiting job, replaces it when it moves, clears it when it is gone', async () => {
      expect(await expectedStarts()).toEqual({ a: null, b: null })
      const write = (observations: AttemptObservation[], now: number) =>
        store.applyPlan('r1', 'running', planWrite(EMPTY_PLAN, observations, at(now)))

      await write([observed('k.a.1', 'pending', at(600)), observed('k.b.1', 'pending')], 2)
      expect(await expectedStarts()).toEqual({ a: at(600), b: null })
      // the backfill scheduler moved it
      await write([observed('k.a.1', 'pending', at(900)), observed('k.b.1', 'held')], 3)
      expect(await expectedStarts()).toEqual({ a: at(900), b: null })
      // held now: Slurm prints N/A, so rpo no longer claims a start
      await write([observed('k.a.1', 'held')], 4)
      expect(await expectedStarts()).toEqual({ a: null, b: null })
      await write([observed('k.a.1', 'pending', at(1200))], 5)
      // started: the estimate is history, the projection reads the actual start
      await write([observed('k.a.1', 'running')], 6)
      expect(await expectedStarts()).toEqual({ a: at(1200), b: null })
    })

    it('writes nothing for a job whose estimate did not change', () => {
      const write = planWrite(EMPTY_PLAN, [observed('k.a.1', 'pending', at(1200)), observed('k.b.1', 'running')], at(7))
      // only waiting jobs carry an estimate (or its absence); the store skips an unchanged one
      expect([...(write.expectedStartUpdates ?? [])]).toEqual([['k.a.1', at(1200)]])
    })
  },
)
