import { describe, expect, it } from 'vitest'
import { buildGpuCatalog } from '../../../src/core/gpu/gpu-catalog.js'
import { deadlineUrgency, explainGpuUnsatisfiable, placeGpus } from '../../../src/core/gpu/gpu-placement.js'
import type { Inventory, InventoryNode } from '../../../src/core/resources/inventory.js'
import { modelOf } from './model-fixtures.js'

const node = (
  name: string,
  type: string,
  count: number,
  free?: number,
  extra: Partial<InventoryNode> = {},
): InventoryNode => ({
  name,
  cpus: 8,
  memoryMb: 64000,
  gpus: [{ type, count }],
  partitions: ['gpu'],
  state: 'idle',
  features: ['gpu', type],
  ...(free === undefined ? {} : { gpusFree: [{ type, count: free }] }),
  ...extra,
})

// the testbed's shape: two 4×a100 nodes, one 2×v100 node
const testbed = (freeA100 = 4, freeV100 = 2): Inventory => ({
  nodes: [node('gpu1', 'a100', 4, freeA100), node('gpu2', 'a100', 4, freeA100), node('gpu3', 'v100', 2, freeV100)],
})
const catalog = buildGpuCatalog()
const request = (
  count: number,
  rest: { types?: string[]; minMemoryGb?: number; nodes?: number; cpus?: number } = {},
) => ({
  cpus: rest.cpus ?? 2,
  memoryMb: 8000,
  nodes: rest.nodes ?? 1,
  gpus: {
    count,
    types: rest.types ?? [],
    ...(rest.minMemoryGb === undefined ? {} : { minMemoryGb: rest.minMemoryGb }),
  },
})
const place = (over: Partial<Parameters<typeof placeGpus>[0]>) =>
  placeGpus({
    request: request(1),
    framework: 'pytorch',
    model: null,
    inventory: testbed(),
    catalog,
    alternatives: true,
    ...over,
  })

describe('GPU placement', () => {
  it('a model that fits only the a100 (40 GB) goes to a100, with the need and the choice in the reason', () => {
    // 1B params × 16 B = 14.9 GB states, +20 % +1 GB ≈ 19 GB: over the v100's 16 GB
    const p = place({ model: modelOf(1e9) })
    expect(p).toMatchObject({ kind: 'placed', types: ['a100'] })
    expect(p.kind === 'placed' && p.reason).toMatch(
      /needs 19 GB per GPU \(1B params, mixed precision, adamw: 16 B\/param/,
    )
    expect(p.kind === 'placed' && p.reason).toMatch(/chose a100: free now, best fit \(21 GB spare\)/)
  })

  it('a model that fits both goes to the best fit (v100) when it is free now', () => {
    const p = place({ model: modelOf(300e6) })
    expect(p).toMatchObject({ kind: 'placed', types: ['v100'] })
  })

  it('free now wins over best fit: the v100s are busy, the a100s free', () => {
    const p = place({ model: modelOf(300e6), inventory: testbed(4, 0) })
    expect(p).toMatchObject({ kind: 'placed', types: ['a100'] })
    expect(p.kind === 'placed' && p.reason).toContain('chose a100: free now')
  })

  it('nothing free now: any of the feasible types, best fit first, where nodes carry types as features', () => {
    const p = place({ model: modelOf(300e6), inventory: testbed(0, 0) })
    expect(p).toMatchObject({ kind: 'placed', types: ['v100', 'a100'] })
    expect(p.kind === 'placed' && p.reason).toContain('none free now: any of v100|a100')
    // PBS cannot take alternatives: one type
    expect(place({ model: modelOf(300e6), inventory: testbed(0, 0), alternatives: false })).toMatchObject({
      types: ['v100'],
    })
    // without type features on the nodes a constraint would be refused: one type
    const bare: Inventory = { nodes: testbed(0, 0).nodes.map((n) => ({ ...n, features: ['gpu'] })) }
    expect(place({ model: modelOf(300e6), inventory: bare })).toMatchObject({ types: ['v100'] })
  })

  it('deadline-critical work takes the fastest feasible type', () => {
    const inventory: Inventory = { nodes: [node('g1', 'a100', 4, 4), node('g2', 'h100', 4, 4)] }
    expect(place({ model: modelOf(300e6), inventory })).toMatchObject({ types: ['a100'] })
    const p = place({ model: modelOf(300e6), inventory, urgency: 0.8 })
    expect(p).toMatchObject({ types: ['h100'] })
    expect(p.kind === 'placed' && p.reason).toContain('fastest for deadline-critical work')
  })

  it('among equal memory, the cheaper type under the project weights', () => {
    const inventory: Inventory = { nodes: [node('g1', 'a100-80gb', 4, 4), node('g2', 'h100', 4, 4)] }
    expect(place({ model: modelOf(2e9), inventory })).toMatchObject({ types: ['a100-80gb'] })
    const weighted = place({ model: modelOf(2e9), inventory, costWeights: { H100: 0.5 } })
    expect(weighted).toMatchObject({ types: ['h100'] })
    expect(weighted.kind === 'placed' && weighted.reason).toContain('cost 0.5')
  })

  it('several types asked for without a model: ordered by free now, the one free is chosen', () => {
    expect(place({ request: request(2, { types: ['a100', 'v100'] }), inventory: testbed(1, 2) })).toMatchObject({
      types: ['v100'],
    })
    // one type asked, no memory need: nothing to decide
    expect(place({ request: request(2, { types: ['a100'] }) })).toEqual({ kind: 'as-asked', reason: null })
    expect(place({ request: request(2) })).toEqual({ kind: 'as-asked', reason: null })
  })

  it('gpus.minMemory decides instead of the estimate', () => {
    expect(place({ request: request(1, { minMemoryGb: 24 }), model: modelOf(100e6) })).toMatchObject({
      types: ['a100'],
    })
  })

  it('the per-node share counts: 3 GPUs per node only fit the a100 nodes', () => {
    expect(place({ request: request(3, { types: ['a100', 'v100'] }) })).toMatchObject({ types: ['a100'] })
  })

  it('sklearn and xgboost get no GPU, with a warning', () => {
    const p = place({ framework: 'sklearn', request: request(2) })
    expect(p).toEqual({
      kind: 'dropped',
      reason: 'sklearn runs on CPUs: the 2 GPU(s) asked for per node are not requested',
    })
    expect(place({ framework: 'xgboost', request: request(1) }).kind).toBe('dropped')
  })

  it('refuses what no GPU can hold, naming the largest GPU and what it lacks', () => {
    const p = place({ model: modelOf(7e9) })
    expect(p.kind).toBe('infeasible')
    expect(p.kind === 'infeasible' && p.reason).toBe(
      'needs 126 GB per GPU (7B params, mixed precision, adamw: 16 B/param + activation margin → 126 GB per GPU), but the largest GPU of the cluster is a100 with 40 GB',
    )
    expect(
      explainGpuUnsatisfiable({
        request: request(1),
        framework: 'pytorch',
        model: modelOf(7e9),
        inventory: testbed(),
        catalog,
      }),
    ).toContain('the largest GPU of the cluster is a100 with 40 GB')
    expect(
      explainGpuUnsatisfiable({
        request: request(1),
        framework: 'pytorch',
        model: modelOf(1e9),
        inventory: testbed(),
        catalog,
      }),
    ).toBeNull()
  })

  it('names a type the cluster lacks, and GPUs of unknown memory', () => {
    // one type and no memory need: nothing to choose, but validation still names what is missing
    expect(place({ request: request(1, { types: ['h100'] }) }).kind).toBe('as-asked')
    expect(
      explainGpuUnsatisfiable({
        request: request(1, { types: ['h100'] }),
        framework: null,
        model: null,
        inventory: testbed(),
        catalog,
      }),
    ).toBe('asks for GPU type h100, but the cluster has a100, v100')
    const odd: Inventory = { nodes: [node('g1', 'mi250x', 4, 4)] }
    expect(place({ model: modelOf(1e9), inventory: odd })).toMatchObject({
      kind: 'infeasible',
      reason: expect.stringContaining('the memory of mi250x is unknown (set clusters.<name>.gpus.<type>.memory)'),
    })
    expect(
      place({ model: modelOf(1e9), inventory: odd, catalog: buildGpuCatalog({ mi250x: { memoryMb: 65536 } }) }),
    ).toMatchObject({
      kind: 'placed',
      types: ['mi250x'],
    })
  })

  it('says what the nodes with fitting GPUs lack for the per-node share', () => {
    const p = place({ model: modelOf(1e9), request: request(1, { cpus: 12 }) })
    expect(p).toMatchObject({ kind: 'infeasible' })
    expect(p.kind === 'infeasible' && p.reason).toContain('a100: its nodes have at most 8 CPUs (asked 12)')
  })

  it('leaves untyped GPUs to the scheduler', () => {
    const untyped: Inventory = { nodes: [{ ...node('g1', '', 4, 4), features: [] }] }
    expect(place({ model: modelOf(1e9), inventory: untyped })).toMatchObject({ kind: 'as-asked' })
  })

  it('is deterministic: the same inventory gives the same choice and reason', () => {
    const a = place({ model: modelOf(300e6), inventory: testbed(0, 0) })
    const b = place({ model: modelOf(300e6), inventory: { nodes: [...testbed(0, 0).nodes].reverse() } })
    expect(b).toEqual(a)
  })

  it('urgency from a deadline: none, some slack, no slack', () => {
    const now = Date.parse('2026-12-05T00:00:00Z')
    expect(deadlineUrgency(null, now, 3600)).toBe(0)
    expect(deadlineUrgency('2026-12-05T04:00:00Z', now, 3600)).toBe(0.25)
    expect(deadlineUrgency('2026-12-05T00:30:00Z', now, 3600)).toBe(1)
  })
})
