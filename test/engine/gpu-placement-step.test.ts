// The submit step's GPU placement with a real (SQLite) run store: the jobs' GPU requests as sent,
// the free-now inventory read once per round and only when a job has a choice, and the decisions
// journaled for `rpo explain`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildGpuCatalog } from '../../src/core/gpu/gpu-catalog.js'
import type { Inventory } from '../../src/core/resources/inventory.js'
import { type GpuPlacementDeps, type JobToPlace, placeRoundGpus } from '../../src/engine/gpu-placement-step.js'
import { asSubmissionKey, type JobSubmission } from '../../src/scheduler/scheduler-adapter.js'
import type { RunRecord, RunStore } from '../../src/store/run-store.js'
import { newRunOf, pipelineOf, T0 } from '../support/fixtures.js'
import { openRunStore, sqliteHarness } from '../support/store-dialects.js'

const harness = sqliteHarness()
let store: RunStore
let run: RunRecord

const loaded = pipelineOf(`
name: gpus
tasks:
  train: { command: t, framework: pytorch, model: { parameters: 300M }, resources: { gpus: 1 } }
  forest: { command: f, framework: sklearn, resources: { gpus: 2, cpus: 4 } }
  plain: { command: p, resources: { gpus: 1 } }
`)

beforeAll(async () => {
  store = await openRunStore(await harness.setUp())
  await store.createRun(newRunOf(loaded, 'run-gpu', new Date(T0).toISOString(), { cluster: 'testbed', user: 'ada' }))
  run = (await store.getRun('run-gpu')) as RunRecord
})
afterAll(async () => {
  await store?.close()
  await harness.tearDown()
})

const inventory: Inventory = {
  nodes: [
    {
      name: 'gpu1',
      cpus: 8,
      memoryMb: 64000,
      gpus: [{ type: 'a100', count: 4 }],
      gpusFree: [{ type: 'a100', count: 4 }],
      features: ['a100'],
      partitions: [],
      state: 'idle',
    },
    {
      name: 'gpu3',
      cpus: 8,
      memoryMb: 32000,
      gpus: [{ type: 'v100', count: 2 }],
      gpusFree: [{ type: 'v100', count: 0 }],
      features: ['v100'],
      partitions: [],
      state: 'mixed',
    },
  ],
}

function jobsOf(names: readonly string[]): JobToPlace[] {
  return names.map((name) => {
    const definition = loaded.pipeline.tasks.find((t) => t.name === name)
    if (!definition) throw new Error(name)
    const job: JobSubmission = {
      submissionKey: asSubmissionKey(`rpo.run-gpu.${name}.1`),
      runId: run.id,
      taskId: name,
      attempt: 1,
      command: definition.command,
      workDir: '/w',
      jobDir: `/w/${name}`,
      env: {},
      resources: definition.resources,
      dependsOn: [],
      project: null,
    }
    return { run, definition, job }
  })
}

function deps(typed: boolean, reads: { count: number }, on: Inventory = inventory): GpuPlacementDeps {
  return {
    catalog: buildGpuCatalog(),
    alternatives: true,
    typed,
    inventory: async () => {
      reads.count++
      return on
    },
    costWeights: () => undefined,
    deadline: () => null,
  }
}

describe('placing a round of GPU jobs', () => {
  it('sets the chosen type, drops sklearn GPUs, leaves plain requests; one inventory read; journaled', async () => {
    const reads = { count: 0 }
    const jobs = await placeRoundGpus(deps(true, reads), store, jobsOf(['train', 'forest', 'plain']), T0)
    expect(reads.count).toBe(1)
    // the v100s are busy: the a100 is free now
    expect(jobs[0]?.resources.gpus).toMatchObject({ count: 1, types: ['a100'] })
    expect(jobs[1]?.resources.gpus).toBeNull()
    expect(jobs[1]?.resources.cpus).toBe(4)
    expect(jobs[2]?.resources.gpus).toEqual({ count: 1, types: [] })
    const placed = (await store.listEvents(run.id)).filter((e) => e.type === 'task:placed')
    expect(placed.map((e) => [e.taskId, e.message.split(' — ')[0]])).toEqual([
      ['train', 'GPUs: a100'],
      ['forest', 'no GPUs: sklearn runs on CPUs: the 2 GPU(s) asked for per node are not requested'],
    ])
  })

  it('counts the GPUs it gave earlier jobs of the round: one free a100 and one free l40s hold two trainings', async () => {
    // the local executor's one node: both types fit the model, one of each free
    const oneEach: Inventory = {
      nodes: [
        {
          name: 'localhost',
          cpus: 8,
          memoryMb: 64000,
          gpus: [
            { type: 'a100', count: 1 },
            { type: 'l40s', count: 1 },
          ],
          gpusFree: [
            { type: 'a100', count: 1 },
            { type: 'l40s', count: 1 },
          ],
          partitions: [],
          state: 'idle',
        },
      ],
    }
    const [first, second] = await placeRoundGpus(
      deps(true, { count: 0 }, oneEach),
      store,
      jobsOf(['train', 'train']),
      T0,
    )
    const types = [first?.resources.gpus?.types, second?.resources.gpus?.types]
    expect(types.map((t) => t?.length)).toEqual([1, 1])
    expect(new Set(types.flat())).toEqual(new Set(['a100', 'l40s']))
  })

  it('reads no inventory when nothing has a choice', async () => {
    const reads = { count: 0 }
    const jobs = await placeRoundGpus(deps(true, reads), store, jobsOf(['plain']), T0)
    expect(reads.count).toBe(0)
    expect(jobs[0]?.resources.gpus).toEqual({ count: 1, types: [] })
  })

  it('on a target that cannot be asked for a type (PBS without a type resource), journals the choice only', async () => {
    const jobs = await placeRoundGpus(deps(false, { count: 0 }), store, jobsOf(['train']), T0)
    expect(jobs[0]?.resources.gpus).toEqual({ count: 1, types: [] })
    const last = (await store.listEvents(run.id)).filter((e) => e.type === 'task:placed').at(-1)
    expect(last?.message).toMatch(/^GPUs as asked \(this cluster cannot be asked for a GPU type; a100 would fit best\)/)
  })
})
