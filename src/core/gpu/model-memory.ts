/**
 * GPU memory per device from what a task says about its model (parameters, precision, optimizer,
 * activations) and its framework, and the CPU/host-memory defaults per GPU by framework. Pure.
 * The formula, with its sources, is docs/gpus.md's; keep the two in step.
 *
 * Model states per parameter (Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training
 * Trillion Parameter Models", SC 2020, §3.1): mixed-precision training keeps fp16/bf16 weights (2 B)
 * and gradients (2 B) plus fp32 optimizer states K — for Adam a master copy, momentum and variance,
 * K = 12 — so 16 B per parameter. fp32 training with Adam is also 16 B, split 4 + 4 + 8.
 */
import type { Framework, Optimizer, Precision, ResolvedModel } from '../pipeline/workload-fields.js'
import type { ResourceRequest } from '../resources/resource-request.js'

/** Bytes per parameter of the weights as stored on the GPU. */
const WEIGHT_BYTES: Readonly<Record<Precision, number>> = {
  fp32: 4,
  tf32: 4,
  fp16: 2,
  bf16: 2,
  mixed: 2,
  fp8: 1,
  int8: 1,
  int4: 0.5,
}

/** fp32 state words (4 B each) an optimizer keeps per parameter, besides a mixed-precision master copy. */
const OPTIMIZER_WORDS: Readonly<Record<Optimizer, number>> = {
  adam: 2, // momentum + variance
  adamw: 2,
  'sgd-momentum': 1,
  sgd: 0,
  lion: 1, // momentum only (Chen et al., "Symbolic Discovery of Optimization Algorithms", 2023)
  adafactor: 0, // factored second moments: O(rows + cols), negligible per parameter (Shazeer & Stern, 2018)
  none: 0,
}

/** Below this, an unknown activation footprint is still given this much (MB). */
const MIN_ACTIVATION_MARGIN_MB = 1024
/** Activations when not given: this share of the model states. */
const ACTIVATION_MARGIN = 0.2
/** The CUDA context, cuDNN/cuBLAS workspaces and the caching allocator's slack (MB). */
const RUNTIME_OVERHEAD_MB = 1024

export interface MemoryEstimate {
  /** MB per device, everything included. */
  readonly totalMb: number
  readonly weightsMb: number
  readonly gradientsMb: number
  readonly optimizerMb: number
  readonly activationsMb: number
  readonly overheadMb: number
  /** Over how many devices gradients and optimizer states are sharded (1: replicated). */
  readonly shards: number
  /** One line: `7B params, mixed precision, adamw: 16 B/param → 113 GB per GPU`. */
  readonly summary: string
}

const MB = 1024 * 1024

/**
 * Memory per device for training (or inference, optimizer `none`) of `model`. DeepSpeed is assumed
 * to run ZeRO stage 2: gradients and optimizer states sharded over all `devices` of the job,
 * weights replicated. Every other framework replicates the model states on each device (DDP,
 * Horovod, TensorFlow's MultiWorkerMirrored, JAX pmap, Ray Train's DDP).
 */
export function estimateModelMemory(model: ResolvedModel, framework: Framework | null, devices = 1): MemoryEstimate {
  const params = model.parameters
  const training = model.optimizer !== 'none'
  const weightBytes = WEIGHT_BYTES[model.precision]
  // fp32/tf32 keep weights and gradients in fp32 and need no master copy; every lower precision
  // trains against an fp32 master copy (AMP, Transformer Engine's fp8, ZeRO's mixed precision)
  const fullPrecision = model.precision === 'fp32' || model.precision === 'tf32'
  const gradientBytes = training ? (fullPrecision ? 4 : Math.max(2, weightBytes)) : 0
  const optimizerBytes = training ? 4 * OPTIMIZER_WORDS[model.optimizer] + (fullPrecision ? 0 : 4) : 0
  const shards = framework === 'deepspeed' && training ? Math.max(1, devices) : 1
  const weightsMb = (params * weightBytes) / MB
  const gradientsMb = (params * gradientBytes) / shards / MB
  const optimizerMb = (params * optimizerBytes) / shards / MB
  const states = weightsMb + gradientsMb + optimizerMb
  const activationsMb = model.activationsMb ?? Math.max(MIN_ACTIVATION_MARGIN_MB, states * ACTIVATION_MARGIN)
  const totalMb = Math.ceil(states + activationsMb + RUNTIME_OVERHEAD_MB)
  const perParam = weightBytes + gradientBytes + optimizerBytes
  const summary =
    `${formatParameters(params)} params, ${model.precision === 'mixed' ? 'mixed' : model.precision} precision, ` +
    `${training ? model.optimizer : 'inference'}: ${perParam} B/param` +
    (shards > 1 ? ` (gradients and optimizer sharded over ${shards} GPUs, ZeRO-2)` : '') +
    ` + ${model.activationsMb === null ? 'activation margin' : 'activations'} → ${Math.round(totalMb / 1024)} GB per GPU`
  return {
    totalMb,
    weightsMb,
    gradientsMb,
    optimizerMb,
    activationsMb,
    overheadMb: RUNTIME_OVERHEAD_MB,
    shards,
    summary,
  }
}

/** `7B`, `350M`, `1.3B`. */
function formatParameters(count: number): string {
  for (const [unit, size] of [
    ['T', 1e12],
    ['B', 1e9],
    ['M', 1e6],
    ['K', 1e3],
  ] as const) {
    if (count >= size) return `${Math.round((count / size) * 10) / 10}${unit}`
  }
  return String(count)
}

/** What a task needs of each GPU: memory in MB and where that figure comes from; null: any GPU. */
export interface GpuMemoryNeed {
  readonly memoryMb: number
  readonly source: string
}

/**
 * The memory each GPU must have: `gpus.minMemory` when given (the user's figure replaces the
 * estimate — it may know of activation checkpointing, LoRA or offloading that the formula does
 * not), else the model's estimate, else null.
 */
export function gpuMemoryNeed(
  request: Pick<ResourceRequest, 'gpus' | 'nodes'>,
  model: ResolvedModel | null,
  framework: Framework | null,
): GpuMemoryNeed | null {
  const gpus = request.gpus
  if (gpus === null) return null
  if (gpus.minMemoryGb !== undefined) {
    return { memoryMb: Math.round(gpus.minMemoryGb * 1024), source: 'gpus.minMemory' }
  }
  if (model === null) return null
  const estimate = estimateModelMemory(model, framework, gpus.count * request.nodes)
  return { memoryMb: estimate.totalMb, source: estimate.summary }
}

/** Frameworks that run on CPUs only: GPUs asked for are dropped with a warning. */
const CPU_FRAMEWORKS: readonly Framework[] = ['sklearn', 'xgboost']

export function usesGpus(framework: Framework | null): boolean {
  return framework === null || !CPU_FRAMEWORKS.includes(framework)
}

/**
 * Host resources per GPU when a GPU task of a framework names no `cpus`/`memory`: 2 CPUs (data
 * loader workers) and 8 GB (pinned staging buffers, the dataset's working set) per GPU. Small on
 * purpose so that the default fits 4-GPU nodes with 8 cores; data-loading-heavy work names its own.
 * MPI has one rank per CPU and no default; sklearn/xgboost run without GPUs.
 */
const HOST_DEFAULTS_PER_GPU: Readonly<Partial<Record<Framework, { cpus: number; memoryMb: number }>>> = {
  pytorch: { cpus: 2, memoryMb: 8192 },
  'pytorch-ddp': { cpus: 2, memoryMb: 8192 },
  deepspeed: { cpus: 2, memoryMb: 8192 },
  tensorflow: { cpus: 2, memoryMb: 8192 },
  horovod: { cpus: 2, memoryMb: 8192 },
  jax: { cpus: 2, memoryMb: 8192 },
  ray: { cpus: 2, memoryMb: 8192 },
}

/** The framework's per-GPU host defaults for the fields the task left out (`given` says which). */
export function hostDefaultsForGpus<R extends Pick<ResourceRequest, 'cpus' | 'memoryMb' | 'gpus'>>(
  resources: R,
  framework: Framework | null,
  given: { readonly cpus: boolean; readonly memory: boolean },
): R {
  const perGpu = framework === null ? undefined : HOST_DEFAULTS_PER_GPU[framework]
  const gpus = resources.gpus?.count ?? 0
  if (perGpu === undefined || gpus === 0) return resources
  return {
    ...resources,
    ...(given.cpus ? {} : { cpus: perGpu.cpus * gpus }),
    ...(given.memory ? {} : { memoryMb: perGpu.memoryMb * gpus }),
  }
}
