import { describe, expect, it } from 'vitest'
import { buildGpuCatalog } from '../../../src/core/gpu/gpu-catalog.js'
import type { Inventory } from '../../../src/core/resources/inventory.js'
import { explainUnsatisfiable } from '../../../src/core/scheduling/capacity.js'
import { modelOf } from './model-fixtures.js'

const inventory: Inventory = {
  nodes: [
    { name: 'gpu1', cpus: 8, memoryMb: 64000, gpus: [{ type: 'a100', count: 4 }], partitions: [], state: 'idle' },
    { name: 'gpu3', cpus: 8, memoryMb: 32000, gpus: [{ type: 'v100', count: 2 }], partitions: [], state: 'idle' },
    { name: 'cpu1', cpus: 16, memoryMb: 128000, gpus: [], partitions: [], state: 'idle' },
  ],
}
const catalog = buildGpuCatalog()
const request = (gpus: { count: number; types: string[]; minMemoryGb?: number } | null) => ({
  cpus: 2,
  memoryMb: 4000,
  timeLimitSeconds: 60,
  nodes: 1,
  gpus,
})

describe('validation with the task workload', () => {
  it('refuses a model no GPU holds, naming the largest GPU', () => {
    expect(
      explainUnsatisfiable(inventory, request({ count: 1, types: [] }), {
        catalog,
        framework: 'pytorch',
        model: modelOf(3e9),
      }),
    ).toMatch(/^needs \d+ GB per GPU \(3B params.*\), but the largest GPU of the cluster is a100 with 40 GB$/)
    // a cluster that says its a100s are the 80 GB model holds it
    const big = buildGpuCatalog({ a100: { memoryMb: 80 * 1024 } })
    expect(
      explainUnsatisfiable(inventory, request({ count: 1, types: [] }), {
        catalog: big,
        framework: 'pytorch',
        model: modelOf(3e9),
      }),
    ).toBeNull()
  })

  it('minMemory above every GPU is refused the same way', () => {
    expect(
      explainUnsatisfiable(inventory, request({ count: 1, types: [], minMemoryGb: 48 }), {
        catalog,
        framework: null,
        model: null,
      }),
    ).toBe('needs 48 GB per GPU (gpus.minMemory), but the largest GPU of the cluster is a100 with 40 GB')
  })

  it('without a memory need the count and type message stays', () => {
    expect(
      explainUnsatisfiable(inventory, request({ count: 4, types: ['h100'] }), {
        catalog,
        framework: null,
        model: null,
      }),
    ).toBe('asks for 4 GPU(s) of type h100 per node, but the target offers 4×a100, 2×v100')
  })

  it("a CPU framework's GPUs do not count: sklearn asking for 8 GPUs is feasible", () => {
    expect(
      explainUnsatisfiable(inventory, request({ count: 8, types: [] }), { catalog, framework: 'sklearn', model: null }),
    ).toBeNull()
    expect(explainUnsatisfiable(inventory, request({ count: 8, types: [] }))).toMatch(/asks for 8 GPU/)
  })
})
