/**
 * A task's own `cluster:` in the cluster tick: each cluster's tick submits only its own tasks; an
 * edge within a cluster is a native dependency, an edge between clusters is waited on by rpo (the
 * dependent goes once its upstream has ended as the edge asks); the limits of a cluster count only
 * the work in flight on it. planTick, the one-run planner, keeps every task on its one target.
 */
import { describe, expect, it } from 'vitest'
import { clustersWithWork } from '../../../src/core/scheduling/plan-cluster.js'
import { planTick } from '../../../src/core/scheduling/plan-tick.js'
import { defaultOptions, pipelineOf, snapshotOf, submittedIds, T0 } from '../../support/fixtures.js'
import { ClusterWorld, runOf, submitted } from './cluster-fixtures.js'

// prep on the run's cluster (cpu), train on gpu, report back on cpu
const TWO_CLUSTERS = `
name: demo
tasks:
  prep: { command: prep }
  train: { command: train, after: [prep], cluster: gpu }
  report: { command: report, after: [train] }
`
const native = { nativeDependencies: true }

describe('per-task cluster', () => {
  it("submits on each cluster only that cluster's tasks, and leaves the others untouched", () => {
    const world = new ClusterWorld([runOf('r', TWO_CLUSTERS, 'cpu')])
    const cpu = world.tick('cpu', [], native)
    expect(submitted(cpu)).toEqual(['r/prep'])
    // train (gpu) is not this tick's; report waits on train, which is on another cluster
    expect([...(cpu.get('r')?.taskUpdates.keys() ?? [])]).toEqual(['prep'])
    const gpu = world.tick('gpu', [], native)
    expect(submitted(gpu)).toEqual([])
    expect(gpu.get('r')?.taskUpdates.size).toBe(0)
    expect(world.taskState('r', 'train')).toBe('pending')
  })

  it('waits for a cross-cluster upstream to succeed instead of wiring a native dependency', () => {
    const world = new ClusterWorld([runOf('r', TWO_CLUSTERS, 'cpu')])
    world.tick('cpu', [], native)
    // prep queued and running on cpu: the gpu tick does not queue train behind it
    expect(submitted(world.tick('gpu', [], native))).toEqual([])
    world.tick('cpu', [world.observe('r', 'prep', 'running')], native)
    expect(submitted(world.tick('gpu', [], native))).toEqual([])
    // the cpu tick reads prep's success; the gpu tick then submits train with no dependency
    world.tick('cpu', [world.observe('r', 'prep', 'succeeded')], native)
    const gpu = world.tick('gpu', [], native)
    expect(gpu.get('r')?.submissions).toMatchObject([{ taskId: 'train', dependsOn: [] }])
    // and report, back on cpu, waits for train the same way
    expect(submitted(world.tick('cpu', [], native))).toEqual([])
    world.tick('gpu', [world.observe('r', 'train', 'succeeded')], native)
    expect(world.tick('cpu', [], native).get('r')?.submissions).toMatchObject([{ taskId: 'report', dependsOn: [] }])
    expect(world.run('r').snapshot.state).toBe('running')
    world.tick('cpu', [world.observe('r', 'report', 'succeeded')], native)
    expect(world.run('r').snapshot.state).toBe('succeeded')
  })

  it('an upstream on the same cluster is still a native dependency', () => {
    const yaml = `
name: demo
tasks:
  prep: { command: prep }
  fit: { command: fit, cluster: gpu }
  score: { command: score, after: [fit], cluster: gpu }
`
    const world = new ClusterWorld([runOf('r', yaml, 'cpu')])
    const gpu = world.tick('gpu', [], native)
    expect(gpu.get('r')?.submissions).toMatchObject([
      { taskId: 'fit', dependsOn: [] },
      { taskId: 'score', dependsOn: [{ taskId: 'fit', submissionKey: 'rpo.r.fit.1', condition: 'succeeded' }] },
    ])
  })

  it('a dependent on upstreams of both clusters goes natively once the other cluster has delivered', () => {
    const yaml = `
name: demo
tasks:
  data: { command: data }
  warm: { command: warm, cluster: gpu }
  fit: { command: fit, after: [data, warm], cluster: gpu }
`
    const world = new ClusterWorld([runOf('r', yaml, 'cpu')])
    world.tick('cpu', [], native)
    // warm goes now; fit may not: data, on cpu, has not ended
    expect(submitted(world.tick('gpu', [], native))).toEqual(['r/warm'])
    world.tick('cpu', [world.observe('r', 'data', 'succeeded')], native)
    // data done: fit is queued behind warm, which is still in flight on gpu
    expect(world.tick('gpu', [], native).get('r')?.submissions).toMatchObject([
      { taskId: 'fit', dependsOn: [{ taskId: 'warm', submissionKey: 'rpo.r.warm.1' }] },
    ])
  })

  it("a cluster's maxActive and capacity count only the work in flight on that cluster", () => {
    const yaml = `
name: demo
tasks:
  a: { command: a }
  b: { command: b, cluster: gpu }
`
    const world = new ClusterWorld([runOf('r', yaml, 'cpu')])
    expect(submitted(world.tick('cpu', [], { maxActive: 1, capacity: { cpus: 1, memoryMb: 4096, gpus: {} } }))).toEqual(
      ['r/a'],
    )
    expect(submitted(world.tick('gpu', [], { maxActive: 1, capacity: { cpus: 1, memoryMb: 4096, gpus: {} } }))).toEqual(
      ['r/b'],
    )
  })

  it("each run's tasks without their own cluster go to that run's cluster", () => {
    const world = new ClusterWorld([runOf('cpuRun', TWO_CLUSTERS, 'cpu'), runOf('gpuRun', TWO_CLUSTERS, 'gpu')])
    // on gpu: the whole of gpuRun (one cluster, native dependencies) and none of cpuRun's yet
    // (its train waits for prep, on cpu)
    const gpu = world.tick('gpu', [], native)
    expect(submitted(gpu)).toEqual(['gpuRun/prep', 'gpuRun/train', 'gpuRun/report'])
    expect(gpu.get('gpuRun')?.submissions.map((s) => s.dependsOn.map((d) => d.taskId))).toEqual([
      [],
      ['prep'],
      ['train'],
    ])
    expect(submitted(world.tick('cpu', [], native))).toEqual(['cpuRun/prep'])
  })

  it('planTick puts every task of its one run on its one target, per-task cluster or not', () => {
    const plan = planTick(snapshotOf(pipelineOf(TWO_CLUSTERS)), [], defaultOptions(T0, native))
    expect(plan.submissions).toMatchObject([
      { taskId: 'prep', dependsOn: [] },
      { taskId: 'train', dependsOn: [{ taskId: 'prep' }] },
      { taskId: 'report', dependsOn: [{ taskId: 'train' }] },
    ])
    expect(submittedIds(plan)).toEqual(['prep', 'train', 'report'])
  })

  it("names the clusters whose ticks must include the run until each cluster's tasks are done", () => {
    const world = new ClusterWorld([runOf('r', TWO_CLUSTERS, 'cpu')])
    const clusters = () => clustersWithWork(world.run('r').snapshot, 'cpu')
    expect(clusters()).toEqual(['cpu', 'gpu'])
    world.tick('cpu', [], native)
    world.tick('cpu', [world.observe('r', 'prep', 'failed')], native)
    // prep failed: the cpu tick cannot decide train (gpu), so report (cpu) still waits on it
    expect(world.taskState('r', 'train')).toBe('pending')
    expect(clusters()).toEqual(['cpu', 'gpu'])
    world.tick('gpu', [], native)
    expect(world.taskState('r', 'train')).toBe('upstream_failed')
    expect(clusters()).toEqual(['cpu'])
    world.tick('cpu', [], native)
    expect(clusters()).toEqual([])
    expect(world.run('r').snapshot.state).toBe('failed')
  })
})
