import { describe, expect, it } from 'vitest'
import { estimateModelMemory, gpuMemoryNeed, hostDefaultsForGpus } from '../../../src/core/gpu/model-memory.js'
import { modelOf } from './model-fixtures.js'

const MB = 1024 * 1024

describe('model memory per GPU', () => {
  it('mixed-precision AdamW is 16 bytes per parameter (ZeRO §3.1: 2 + 2 + 12)', () => {
    const e = estimateModelMemory(modelOf(1e9, { activationsMb: 0 }), 'pytorch')
    expect(e.weightsMb).toBeCloseTo((2 * 1e9) / MB)
    expect(e.gradientsMb).toBeCloseTo((2 * 1e9) / MB)
    expect(e.optimizerMb).toBeCloseTo((12 * 1e9) / MB)
    expect(e.totalMb).toBe(Math.ceil((16 * 1e9) / MB + 1024))
  })

  it('fp32 Adam is also 16 bytes, split 4 + 4 + 8', () => {
    const e = estimateModelMemory(modelOf(1e9, { precision: 'fp32', optimizer: 'adam', activationsMb: 0 }), null)
    expect([e.weightsMb, e.gradientsMb, e.optimizerMb].map((v) => Math.round((v * MB) / 1e9))).toEqual([4, 4, 8])
  })

  it('SGD with momentum in mixed precision is 12 bytes; plain SGD 8', () => {
    const sgdm = estimateModelMemory(modelOf(1e9, { optimizer: 'sgd-momentum', activationsMb: 0 }), null)
    const sgd = estimateModelMemory(modelOf(1e9, { optimizer: 'sgd', activationsMb: 0 }), null)
    expect(Math.round(((sgdm.weightsMb + sgdm.gradientsMb + sgdm.optimizerMb) * MB) / 1e9)).toBe(12)
    expect(Math.round(((sgd.weightsMb + sgd.gradientsMb + sgd.optimizerMb) * MB) / 1e9)).toBe(8)
  })

  it('inference holds the weights only, at their precision', () => {
    const e = estimateModelMemory(modelOf(7e9, { precision: 'int4', optimizer: 'none', activationsMb: 0 }), null)
    expect(e.gradientsMb + e.optimizerMb).toBe(0)
    expect(e.weightsMb).toBeCloseTo(3.5e9 / MB)
  })

  it('adds a 20 % activation margin (at least 1 GB) when activations are not given', () => {
    const e = estimateModelMemory(modelOf(7e9), 'pytorch-ddp')
    const states = (16 * 7e9) / MB
    expect(e.activationsMb).toBeCloseTo(states * 0.2)
    expect(e.totalMb).toBe(Math.ceil(states * 1.2 + 1024))
    expect(e.summary).toMatch(/^7B params, mixed precision, adamw: 16 B\/param \+ activation margin → 126 GB per GPU$/)
    expect(estimateModelMemory(modelOf(1e6), null).activationsMb).toBe(1024)
  })

  it('DeepSpeed (ZeRO-2) shards gradients and optimizer states over all GPUs of the job', () => {
    const one = estimateModelMemory(modelOf(7e9, { activationsMb: 0 }), 'deepspeed', 1)
    const eight = estimateModelMemory(modelOf(7e9, { activationsMb: 0 }), 'deepspeed', 8)
    expect(eight.weightsMb).toBeCloseTo(one.weightsMb)
    expect(eight.optimizerMb).toBeCloseTo(one.optimizerMb / 8)
    expect(eight.summary).toContain('sharded over 8 GPUs')
    // DDP replicates
    expect(estimateModelMemory(modelOf(7e9), 'pytorch-ddp', 8).shards).toBe(1)
  })

  it('gpus.minMemory replaces the estimate; without model or minMemory there is no need', () => {
    const gpus = { count: 2, types: [] }
    expect(gpuMemoryNeed({ gpus: { ...gpus, minMemoryGb: 24 }, nodes: 1 }, modelOf(7e9), null)).toEqual({
      memoryMb: 24 * 1024,
      source: 'gpus.minMemory',
    })
    expect(gpuMemoryNeed({ gpus, nodes: 1 }, null, null)).toBeNull()
    expect(gpuMemoryNeed({ gpus: null, nodes: 1 }, modelOf(7e9), null)).toBeNull()
  })

  it('gives GPU frameworks 2 CPUs and 8 GB per GPU when the task names neither', () => {
    const r = { cpus: 1, memoryMb: 1024, gpus: { count: 4, types: [] } }
    expect(hostDefaultsForGpus(r, 'pytorch-ddp', { cpus: false, memory: false })).toMatchObject({
      cpus: 8,
      memoryMb: 32768,
    })
    expect(hostDefaultsForGpus(r, 'pytorch-ddp', { cpus: true, memory: false })).toMatchObject({
      cpus: 1,
      memoryMb: 32768,
    })
    expect(hostDefaultsForGpus(r, null, { cpus: false, memory: false })).toBe(r)
    expect(hostDefaultsForGpus(r, 'mpi', { cpus: false, memory: false })).toBe(r)
  })
})
