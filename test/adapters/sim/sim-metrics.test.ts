import { describe, expect, it } from 'vitest'
import { SimCluster } from '../../../adapters/sim/sim-cluster.js'
import { gpuUtilization, jobTimes } from '../../../adapters/sim/sim-metrics.js'
import { gpus, jobIdOf, seconds, submission, work } from './sim-submissions.js'

const GPU_NODES = [
  { name: 'g1', cpus: 16, memoryMb: 64_000, gpus: [{ type: 'a100', count: 4 }] },
  { name: 'g2', cpus: 16, memoryMb: 64_000, gpus: [{ type: 'v100', count: 4 }] },
]

describe('GPU utilization', () => {
  it('is busy GPU-seconds over offered GPU-seconds, per type or in all', () => {
    const cluster = new SimCluster({ nodes: GPU_NODES })
    // a100: 2 GPUs for 100 s, then 4 GPUs for 50 s (it waited for the first); v100: idle
    cluster.submit([
      submission('half', { gpus: gpus(2, 'a100'), env: work(100) }),
      submission('full', { gpus: gpus(4, 'a100'), env: work(50) }),
    ])
    cluster.advanceTo(seconds(200))
    const a100 = gpuUtilization(cluster, { fromMs: 0, toMs: seconds(200), gpuType: 'a100' })
    expect(a100).toEqual({ busyGpuSeconds: 400, totalGpuSeconds: 800, ratio: 0.5 })
    expect(gpuUtilization(cluster, { fromMs: 0, toMs: seconds(200) }).ratio).toBe(0.25)
    expect(gpuUtilization(cluster, { fromMs: seconds(100), toMs: seconds(150), gpuType: 'a100' }).ratio).toBe(1)
    expect(gpuUtilization(cluster, { fromMs: 0, toMs: seconds(200), gpuType: 'h100' }).ratio).toBeNull()
  })

  it('can count only the time when eligible GPU work was waiting', () => {
    const cluster = new SimCluster({ nodes: GPU_NODES })
    cluster.submit([
      submission('half', { gpus: gpus(2, 'a100'), env: work(100) }),
      submission('full', { gpus: gpus(4, 'a100'), env: work(50) }),
    ])
    cluster.advanceTo(seconds(200))
    // `full` waited over [0, 100) while 2 of 4 a100s were busy
    expect(gpuUtilization(cluster, { fromMs: 0, toMs: seconds(200), gpuType: 'a100', onlyWhilePending: true })).toEqual(
      {
        busyGpuSeconds: 200,
        totalGpuSeconds: 400,
        ratio: 0.5,
      },
    )
    // held work is not eligible: nothing waited, so nothing counts
    const held = new SimCluster({ nodes: GPU_NODES })
    const [, waiting] = held.submit([
      submission('blocker', { gpus: gpus(4, 'a100'), env: work(100) }),
      submission('waiting', { gpus: gpus(4, 'a100'), env: work(100) }),
    ])
    held.hold([jobIdOf(waiting)])
    held.advanceTo(seconds(100))
    expect(
      gpuUtilization(held, { fromMs: 0, toMs: seconds(100), gpuType: 'a100', onlyWhilePending: true }).totalGpuSeconds,
    ).toBe(0)
  })

  it('does not count the GPUs of a node that is down', () => {
    const cluster = new SimCluster({ nodes: GPU_NODES })
    cluster.advanceTo(seconds(50))
    cluster.failNode('g2')
    cluster.advanceTo(seconds(100))
    expect(gpuUtilization(cluster, { fromMs: 0, toMs: seconds(100) })).toEqual({
      busyGpuSeconds: 0,
      totalGpuSeconds: 8 * 50 + 4 * 50,
      ratio: 0,
    })
    expect(() => gpuUtilization(cluster, { fromMs: 10, toMs: 5 })).toThrow(expect.objectContaining({ code: 'usage' }))
  })
})

describe('job times', () => {
  it('gives each job its wait, first start, end and time on nodes', () => {
    const cluster = new SimCluster({ nodes: [{ name: 'n', cpus: 1, memoryMb: 1000 }] })
    cluster.submit([submission('a', { env: work(30) }), submission('b', { env: work(20) })])
    cluster.runUntilIdle()
    expect(jobTimes(cluster)).toEqual([
      {
        jobId: '1',
        submissionKey: 'a',
        state: 'succeeded',
        submittedAtMs: 0,
        firstStartedAtMs: 0,
        endedAtMs: seconds(30),
        waitSeconds: 0,
        runSeconds: 30,
        restarts: 0,
      },
      {
        jobId: '2',
        submissionKey: 'b',
        state: 'succeeded',
        submittedAtMs: 0,
        firstStartedAtMs: seconds(30),
        endedAtMs: seconds(50),
        waitSeconds: 30,
        runSeconds: 20,
        restarts: 0,
      },
    ])
  })
})
