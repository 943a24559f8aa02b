import { describe, expect, it } from 'vitest'
import {
  couldEverPlace,
  nodesForPartition,
  type PlacementNode,
  placeRequest,
  type SimNodeSpec,
} from '../../../adapters/sim/sim-placement.js'
import type { ResourceRequest } from '../../../src/scheduler/scheduler-adapter.js'
import { gpus, MIXED_NODES } from './sim-submissions.js'

const idle = (specs: readonly SimNodeSpec[]): PlacementNode[] =>
  specs.map((spec) => ({ spec, up: true, usedCpus: 0, usedMemoryMb: 0, usedGpus: new Map() }))

const request = (r: Partial<ResourceRequest>): ResourceRequest => ({
  cpus: 1,
  memoryMb: 1000,
  timeLimitSeconds: 60,
  gpus: null,
  nodes: 1,
  ...r,
})

describe('first-fit placement', () => {
  it('takes the first node, in declared order, with enough CPUs and memory', () => {
    const nodes = idle(MIXED_NODES)
    expect(placeRequest(nodes, request({ cpus: 8 }))?.map((a) => a.node)).toEqual(['cpu1'])
    expect(placeRequest(nodes, request({ cpus: 12 }))?.map((a) => a.node)).toEqual(['gpu1'])
    expect(placeRequest(nodes, request({ memoryMb: 64_000 }))?.map((a) => a.node)).toEqual(['gpu1'])
    expect(placeRequest(nodes, request({ cpus: 17 }))).toBeNull()
  })

  it('skips nodes whose free share is too small, and nodes that are down', () => {
    const nodes = idle(MIXED_NODES).map((n, i) => (i === 0 ? { ...n, usedCpus: 6 } : i === 1 ? { ...n, up: false } : n))
    expect(placeRequest(nodes, request({ cpus: 2 }))?.map((a) => a.node)).toEqual(['cpu1'])
    expect(placeRequest(nodes, request({ cpus: 3 }))?.map((a) => a.node)).toEqual(['gpu1'])
  })

  it('honours GPU count and type: any of the acceptable types, none given means any', () => {
    const nodes = idle(MIXED_NODES)
    expect(placeRequest(nodes, request({ gpus: gpus(2) }))).toEqual([
      { node: 'gpu1', cpus: 1, memoryMb: 1000, gpuType: 'a100', gpus: 2 },
    ])
    expect(placeRequest(nodes, request({ gpus: gpus(2, 'v100') }))?.[0]).toMatchObject({
      node: 'gpu2',
      gpuType: 'v100',
    })
    expect(placeRequest(nodes, request({ gpus: gpus(1, 'h100', 'v100') }))?.[0]?.gpuType).toBe('v100')
    expect(placeRequest(nodes, request({ gpus: gpus(5) }))).toBeNull()
    expect(placeRequest(nodes, request({ gpus: gpus(1, 'h100') }))).toBeNull()
    const busy = nodes.map((n) => (n.spec.name === 'gpu1' ? { ...n, usedGpus: new Map([['a100', 3]]) } : n))
    expect(placeRequest(busy, request({ gpus: gpus(2, 'a100', 'v100') }))?.[0]?.node).toBe('gpu2')
  })

  it('gives every node of a multi-node job the same GPU type', () => {
    const specs: SimNodeSpec[] = [
      { name: 'a', cpus: 4, memoryMb: 8000, gpus: [{ type: 'a100', count: 2 }] },
      { name: 'b', cpus: 4, memoryMb: 8000, gpus: [{ type: 'v100', count: 2 }] },
      { name: 'c', cpus: 4, memoryMb: 8000, gpus: [{ type: 'v100', count: 2 }] },
      { name: 'd', cpus: 4, memoryMb: 8000, gpus: [{ type: 'a100', count: 2 }] },
    ]
    const placed = placeRequest(idle(specs), request({ nodes: 2, gpus: gpus(2) }))
    expect(placed?.map((a) => `${a.node}:${a.gpuType}`)).toEqual(['a:a100', 'd:a100'])
    const noA = idle(specs).map((n) => (n.spec.name === 'd' ? { ...n, up: false } : n))
    expect(placeRequest(noA, request({ nodes: 2, gpus: gpus(2) }))?.map((a) => a.node)).toEqual(['b', 'c'])
    expect(placeRequest(idle(specs), request({ nodes: 3, gpus: gpus(1) }))).toBeNull()
    expect(placeRequest(idle(specs), request({ nodes: 4 }))?.map((a) => a.node)).toEqual(['a', 'b', 'c', 'd'])
  })

  it('narrows to a partition and knows what could never fit', () => {
    expect(nodesForPartition(idle(MIXED_NODES), 'cpu').map((n) => n.spec.name)).toEqual(['cpu1', 'cpu2'])
    expect(nodesForPartition(idle(MIXED_NODES), null)).toHaveLength(4)
    expect(couldEverPlace(MIXED_NODES, request({ cpus: 16, gpus: gpus(4, 'v100') }))).toBe(true)
    expect(couldEverPlace(MIXED_NODES, request({ nodes: 2, gpus: gpus(1, 'a100') }))).toBe(false)
    expect(couldEverPlace([], request({}))).toBe(false)
  })
})
