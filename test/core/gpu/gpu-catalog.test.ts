import { describe, expect, it } from 'vitest'
import { buildGpuCatalog, DEFAULT_GPU_MODELS, lookupGpu, normalizeGpuType } from '../../../src/core/gpu/gpu-catalog.js'

describe('GPU catalog', () => {
  it('ships the common data-centre and workstation GPUs with their memory', () => {
    const memoryGb = Object.fromEntries(DEFAULT_GPU_MODELS.map((m) => [m.name, m.memoryMb / 1024]))
    expect(memoryGb).toEqual({
      v100: 16,
      'v100-32gb': 32,
      a100: 40,
      'a100-80gb': 80,
      h100: 80,
      h200: 141,
      l40s: 48,
      a10: 24,
      t4: 16,
      rtx4090: 24,
      rtxa6000: 48,
    })
  })

  it('knows each model’s architecture and whether its GPUs talk over NVLink (SXM) or PCIe', () => {
    const of = (name: string) => DEFAULT_GPU_MODELS.find((m) => m.name === name)
    const described = Object.fromEntries(DEFAULT_GPU_MODELS.map((m) => [m.name, `${m.architecture}/${m.interconnect}`]))
    expect(described).toEqual({
      v100: 'volta/nvlink',
      'v100-32gb': 'volta/nvlink',
      a100: 'ampere/nvlink',
      'a100-80gb': 'ampere/nvlink',
      h100: 'hopper/nvlink',
      h200: 'hopper/nvlink',
      l40s: 'ada/pcie',
      a10: 'ampere/pcie',
      t4: 'turing/pcie',
      rtx4090: 'ada/pcie',
      rtxa6000: 'ampere/pcie',
    })
    // the 80 GB A100 is the 40 GB one's architecture with more memory, and costs more
    expect(of('a100-80gb')?.architecture).toBe(of('a100')?.architecture)
    expect(of('a100-80gb')?.cost).toBeGreaterThan(of('a100')?.cost as number)
  })

  it('ranks speed by the datasheets: h100 > l40s > a100 > rtx4090 > v100 > t4', () => {
    const c = buildGpuCatalog()
    const speed = (t: string) => lookupGpu(c, t)?.speed ?? 0
    expect(speed('a100')).toBe(1)
    expect(speed('h100')).toBeGreaterThan(speed('l40s'))
    expect(speed('l40s')).toBeGreaterThan(speed('a100'))
    expect(speed('a100')).toBeGreaterThan(speed('rtx4090'))
    expect(speed('rtx4090')).toBeGreaterThan(speed('v100'))
    expect(speed('v100')).toBeGreaterThan(speed('t4'))
  })

  it.each([
    ['a100', 'a100'],
    ['A100', 'a100'],
    ['a100_80g', 'a100-80gb'],
    ['a100-80gb', 'a100-80gb'],
    ['NVIDIA-A100-SXM4-80GB', 'a100-80gb'],
    ['nvidia_a100-pcie-40gb', 'a100'],
    ['a100-40g', 'a100'],
    ['tesla_v100', 'v100'],
    ['v100_32g', 'v100-32gb'],
    ['h100-80gb', 'h100'],
    ['rtx_4090', 'rtx4090'],
    ['rtx_a6000', 'rtxa6000'],
    ['a10g', 'a10'],
    ['mi250x', 'mi250x'],
  ])('reads the scheduler spelling %s as %s', (raw, canonical) => {
    expect(normalizeGpuType(raw)).toBe(canonical)
  })

  it('applies per-cluster overrides in any spelling, and learns new types that give a memory', () => {
    const c = buildGpuCatalog({
      A100_80G: { speed: 1.3 },
      v100: { memoryMb: 32 * 1024 },
      mi250x: { memoryMb: 128 * 1024 },
    })
    expect(lookupGpu(c, 'a100-80gb')).toMatchObject({ memoryMb: 80 * 1024, speed: 1.3 })
    expect(lookupGpu(c, 'v100')?.memoryMb).toBe(32 * 1024)
    expect(lookupGpu(c, 'mi250x')).toMatchObject({ memoryMb: 128 * 1024, speed: 1, cost: 1 })
    // a type without memory stays unknown
    expect(lookupGpu(buildGpuCatalog({ gaudi2: { speed: 2 } }), 'gaudi2')).toBeNull()
    expect(lookupGpu(c, '')).toBeNull()
  })
})
