/**
 * History queries against real databases (SQLite and PostgreSQL): past attempts by window and by
 * project, pipeline, stage, user and cluster, with durations and queue waits; the samples the
 * estimates read; failure, retry and resume counts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { estimateTaskDuration, indexDurationSamples } from '../../src/core/estimate/duration-model.js'
import { estimateQueueWait, indexQueueWaits, queueKeyOf } from '../../src/core/estimate/queue-wait-model.js'
import { summarizeStageHistory } from '../../src/core/estimate/stage-history.js'
import type { ResolvedTask } from '../../src/core/pipeline/resolved-pipeline.js'
import type { AttemptSnapshot } from '../../src/core/scheduling/run-snapshot.js'
import type { RunStore } from '../../src/store/run-store.js'
import { attemptOf, newRunOf, pipelineOf, T0 } from '../support/fixtures.js'
import { openRunStore, STORE_DIALECTS } from '../support/store-dialects.js'

const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString()
const DAY = 86_400

const VISION = pipelineOf(`
name: vision
project: cv
cluster: hpc
tasks:
  prep: { command: prep.sh }
  train:
    command: "train {{params.lr}}"
    matrix: { lr: [0.1, 0.01] }
    after: [prep]
    resources: { gpus: { count: 1, type: a100 }, partition: gpu }
  post: { command: post.sh, after: [train], cluster: other }
`)
const AUDIO = pipelineOf(`
name: audio
project: speech
tasks:
  a: { command: a.sh }
`)

type Ended = [
  taskId: string,
  attempt: number,
  state: AttemptSnapshot['state'],
  submitted: number,
  started: number | null,
  ended: number | null,
]

async function recordRun(
  store: RunStore,
  id: string,
  loaded: typeof VISION,
  user: string,
  offset: number,
  attempts: readonly Ended[],
  tasks: Readonly<Record<string, { attempts: number; resumes: number }>> = {},
): Promise<void> {
  await store.createRun(
    newRunOf(loaded, id, at(offset), { cluster: 'hpc', specHash: `${loaded.specHash}-${id}`, user }),
  )
  const newAttempts = attempts.map(([taskId, attempt, state, submitted, started, ended]) =>
    attemptOf(taskId, attempt, {
      submissionKey: `rpo.${id}.${taskId}.${attempt}`,
      state,
      submittedAt: at(offset + submitted),
      startedAt: started === null ? null : at(offset + started),
      endedAt: ended === null ? null : at(offset + ended),
    }),
  )
  const endOf = (taskId: string) => {
    const ends = attempts.filter((a) => a[0] === taskId && a[5] !== null).map((a) => a[5] as number)
    return ends.length === 0 ? null : at(offset + Math.max(...ends))
  }
  const taskUpdates = new Map(
    loaded.instances.map((instance) => [
      instance.id,
      {
        state: 'succeeded' as const,
        attempts: tasks[instance.id]?.attempts ?? 1,
        resumes: tasks[instance.id]?.resumes ?? 0,
        endedAt: endOf(instance.id),
      },
    ]),
  )
  const written = await store.applyPlan(id, 'running', {
    taskUpdates,
    attemptUpdates: new Map(),
    newTasks: [],
    newAttempts,
    events: [],
    runState: 'running',
    now: at(offset + 5000),
  })
  expect(written).toBe(true)
}

describe.each(STORE_DIALECTS.map((make) => ({ make, name: make().name })))('history queries on $name', ({ make }) => {
  const harness = make()
  let store: RunStore

  beforeAll(async () => {
    store = await openRunStore(await harness.setUp())
    await recordRun(
      store,
      'v1',
      VISION,
      'alice',
      0,
      [
        ['prep', 1, 'succeeded', 0, 60, 660],
        ['train.0', 1, 'failed', 700, 760, 800],
        ['train.0', 2, 'succeeded', 800, 900, 4500],
        ['train.1', 1, 'succeeded', 700, 1000, 4600],
        ['post', 1, 'succeeded', 4600, 4610, 4700],
      ],
      { 'train.0': { attempts: 3, resumes: 1 } },
    )
    await recordRun(store, 'v2', VISION, 'bob', 7 * DAY, [
      ['prep', 1, 'succeeded', 0, 30, 530],
      // submitted behind prep (a native dependency): it could start only once prep ended at 530
      ['train.0', 1, 'timeout', 400, 700, 4300],
      ['train.1', 1, 'running', 600, 620, null],
    ])
    await recordRun(store, 'a1', AUDIO, 'bob', 8 * DAY, [['a', 1, 'succeeded', 0, 5, 65]])
  })

  afterAll(async () => {
    if (store) await store.close()
    await harness.tearDown()
  })

  it('lists attempts newest first with their durations, queue waits, stage, user and cluster', async () => {
    const rows = await store.history.attempts({ pipeline: 'vision', stage: 'train' })
    expect(rows.map((r) => [r.runId, r.taskId, r.attempt, r.state])).toEqual([
      ['v2', 'train.0', 1, 'timeout'],
      ['v1', 'train.1', 1, 'succeeded'],
      ['v1', 'train.0', 2, 'succeeded'],
      ['v1', 'train.0', 1, 'failed'],
    ])
    expect(rows[1]).toMatchObject({
      pipeline: 'vision',
      project: 'cv',
      user: 'alice',
      cluster: 'hpc',
      stage: 'train',
      durationSeconds: 3600,
      queueWaitSeconds: 300,
      submittedAt: at(700),
    })
  })

  it('filters by window, project, user and the cluster the task ran on', async () => {
    const week2 = await store.history.attempts({ since: at(7 * DAY), until: at(8 * DAY) })
    expect(week2.map((r) => `${r.runId}/${r.taskId}`).sort()).toEqual(['v2/prep', 'v2/train.0'])
    expect((await store.history.attempts({ project: 'speech' })).map((r) => r.runId)).toEqual(['a1'])
    expect(new Set((await store.history.attempts({ user: 'alice' })).map((r) => r.runId))).toEqual(new Set(['v1']))
    const other = await store.history.attempts({ cluster: 'other' })
    expect(other.map((r) => [r.runId, r.taskId, r.cluster])).toEqual([['v1', 'post', 'other']])
    expect((await store.history.attempts({ cluster: 'hpc', limit: 2 })).map((r) => r.taskId)).toEqual(['a', 'train.0'])
    await expect(store.history.attempts({ since: 'last tuesday' })).rejects.toMatchObject({ code: 'usage' })
  })

  it('gives the duration model the successful attempts, and the estimate follows them', async () => {
    const samples = await store.history.durationSamples({ pipeline: ['vision'] })
    expect(samples.map((s) => [s.stage, s.seconds]).sort()).toEqual([
      ['post', 90],
      ['prep', 500],
      ['prep', 600],
      ['train', 3600],
      ['train', 3600],
    ])
    const train = VISION.pipeline.tasks.find((t) => t.name === 'train') as ResolvedTask
    expect(estimateTaskDuration(indexDurationSamples(samples), 'vision', train)).toMatchObject({
      seconds: 3600,
      samples: 2,
      source: 'history',
    })
  })

  it('gives the queue-wait model every start, keyed by cluster, partition and GPU type', async () => {
    const samples = await store.history.queueWaitSamples({ pipeline: 'vision' })
    const train = VISION.pipeline.tasks.find((t) => t.name === 'train') as ResolvedTask
    const trainWaits = samples.filter((s) => s.gpuType === 'a100').map((s) => s.seconds)
    // the running attempt started too: its wait counts; v2's train.0 waited 170 s once prep ended, not 300
    expect(trainWaits.sort((a, b) => a - b)).toEqual([20, 60, 100, 170, 300])
    expect(estimateQueueWait(indexQueueWaits(samples), queueKeyOf(train, 'hpc'))).toMatchObject({
      seconds: 100,
      samples: 5,
      basis: 'exact',
    })
    expect(samples.find((s) => s.cluster === 'other')).toMatchObject({ partition: null, seconds: 10 })
  })

  it('counts failures, retries and resumes per stage (the attempts as rpo history sums them)', async () => {
    const outcomes = summarizeStageHistory(await store.history.attempts({ pipeline: 'vision' }))
    expect(outcomes.find((o) => o.stage === 'train')).toMatchObject({
      pipeline: 'vision',
      stage: 'train',
      tasks: 3,
      attempts: 4,
      succeeded: 2,
      failed: 2,
      cancelled: 0,
      // train.0 of v1: 3 attempts, one of them a resume → 1 retry
      retries: 1,
      resumes: 1,
    })
    expect(outcomes.find((o) => o.stage === 'prep')).toMatchObject({ tasks: 2, attempts: 2, succeeded: 2, failed: 0 })
  })
  it("carries each attempt's accounting usage and its task's asked resources; usage read after the end is stored", async () => {
    const [train] = await store.history.attempts({ runId: 'v1', stage: 'train', states: ['failed'] })
    expect(train).toMatchObject({
      runId: 'v1',
      taskId: 'train.0',
      submissionKey: 'rpo.v1.train.0.1',
      usage: null,
      asked: { cpus: 1, memoryMb: 1024, timeLimitSeconds: 3600, gpus: 1, nodes: 1 },
      taskAttempts: 3,
      taskResumes: 1,
    })
    const usage = { elapsedSeconds: 40, cpuSeconds: 5, maxRssMb: 300, allocTres: { cpu: 8, 'gres/gpu': 1 } }
    // v2's train.1 is still running: a figure for it is the tick's to write, not this
    await store.recordEndedUsage(
      new Map([
        ['rpo.v1.train.0.1', usage],
        ['rpo.v2.train.1.1', usage],
      ]),
    )
    const [after] = await store.history.attempts({ runId: 'v1', stage: 'train', states: ['failed'] })
    expect(after?.usage).toEqual(usage)
    const running = await store.listAttempts('v2', 'train.1')
    expect(running[0]?.usage).toBeNull()
    // the wait counted from when it could start: v2's train.0 was queued behind prep (ended at 530)
    const [queued] = await store.history.attempts({ runId: 'v2', stage: 'train' })
    expect(queued).toMatchObject({ taskId: 'train.0', queueWaitSeconds: 300, eligibleWaitSeconds: 170 })
  })
})
