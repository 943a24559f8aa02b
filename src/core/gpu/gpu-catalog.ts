/**
 * The GPU catalog: what rpo knows about a GPU type (memory, architecture, interconnect, relative
 * speed and cost), shipped defaults for common data-centre and workstation GPUs, the naming rule
 * that maps a scheduler's spelling (`a100_80g`, `NVIDIA-A100-SXM4-80GB`) onto a catalog entry, and
 * per-cluster overrides from the config file. Pure.
 *
 * Naming: canonical names are lower case, the model without vendor prefix (`a100`, `rtx4090`,
 * `rtxa6000`), with `-<N>gb` only for a memory variant other than the model's first one
 * (`a100` = 40 GB, `a100-80gb`; `v100` = 16 GB, `v100-32gb`). `normalizeGpuType` reads a scheduler's
 * spelling the same way: lower-cased, `_` and spaces as `-`, `nvidia-`/`tesla-`/`geforce-` dropped,
 * form factors (`-sxm4`, `-pcie`, `-nvl`) dropped, `80g` read as `80gb`, and a suffix naming the
 * model's first memory size dropped (`a100-40gb` → `a100`). The scheduler's own spelling is what rpo
 * asks the scheduler for; the catalog is only consulted through it.
 */

export type GpuInterconnect = 'nvlink' | 'pcie'

export interface GpuModel {
  /** Canonical catalog name (see the naming rule above). */
  readonly name: string
  /** Device memory in MB (MiB, as rpo's memory sizes: `40G` = 40 × 1024 MB). */
  readonly memoryMb: number
  readonly architecture: string
  readonly interconnect: GpuInterconnect
  /**
   * Dense fp16/bf16 tensor throughput relative to an A100 (312 TFLOPS = 1.0): peak figures from the
   * vendor's datasheets, so a ranking, not a prediction of any one job's speed. Override per cluster
   * with measured figures.
   */
  readonly speed: number
  /** Relative cost of one GPU-hour (A100 40 GB = 1.0); a project's `gpuWeights` take precedence. */
  readonly cost: number
}

// Sources of `speed` (dense, i.e. without structured sparsity, fp16/bf16 tensor TFLOPS):
//  V100 SXM2 125 — NVIDIA Tesla V100 datasheet (2020); A100 312 — NVIDIA A100 datasheet (2021);
//  H100 SXM5 989 and H200 989 — NVIDIA H100 / H200 datasheets (2023/2024, 1979 "with sparsity" halved);
//  L40S 362 — NVIDIA L40S datasheet (2023, 733 with sparsity); A10 125 — NVIDIA A10 datasheet (2021,
//  250 with sparsity); T4 65 — NVIDIA T4 datasheet (2019); RTX 4090 165 — NVIDIA Ada Lovelace
//  architecture whitepaper v1.1 (2023), FP16 tensor with FP32 accumulate; RTX A6000 155 — NVIDIA RTX
//  A6000 datasheet (2021, 309.7 with sparsity).
// `cost` is a rough ratio of on-demand cloud prices per GPU-hour in 2024 (not a quote): it only
// orders types when nothing better is configured.
const A100_TFLOPS = 312
const model = (
  name: string,
  memoryGb: number,
  architecture: string,
  interconnect: GpuInterconnect,
  tflops: number,
  cost: number,
): GpuModel => ({
  name,
  memoryMb: memoryGb * 1024,
  architecture,
  interconnect,
  speed: Math.round((tflops / A100_TFLOPS) * 100) / 100,
  cost,
})

export const DEFAULT_GPU_MODELS: readonly GpuModel[] = [
  model('v100', 16, 'volta', 'nvlink', 125, 0.6),
  model('v100-32gb', 32, 'volta', 'nvlink', 125, 0.7),
  model('a100', 40, 'ampere', 'nvlink', 312, 1),
  model('a100-80gb', 80, 'ampere', 'nvlink', 312, 1.25),
  model('h100', 80, 'hopper', 'nvlink', 989, 2),
  model('h200', 141, 'hopper', 'nvlink', 989, 2.5),
  model('l40s', 48, 'ada', 'pcie', 362, 0.8),
  model('a10', 24, 'ampere', 'pcie', 125, 0.4),
  model('t4', 16, 'turing', 'pcie', 65, 0.2),
  model('rtx4090', 24, 'ada', 'pcie', 165, 0.3),
  model('rtxa6000', 48, 'ampere', 'pcie', 155, 0.5),
]

/** What a cluster's config may say about a GPU type (all optional; memory in MB). */
export interface GpuModelOverride {
  readonly memoryMb?: number
  readonly architecture?: string
  readonly interconnect?: GpuInterconnect
  readonly speed?: number
  readonly cost?: number
}

/** A catalog: the shipped models plus one cluster's overrides, keyed by normalized name. */
export interface GpuCatalog {
  readonly models: ReadonlyMap<string, GpuModel>
}

const FIRST_MEMORY_GB: Readonly<Record<string, number>> = Object.fromEntries(
  DEFAULT_GPU_MODELS.filter((m) => !/-\d+gb$/.test(m.name)).map((m) => [m.name, m.memoryMb / 1024]),
)

const MODEL_ALIASES: Readonly<Record<string, string>> = {
  'rtx-4090': 'rtx4090',
  '4090': 'rtx4090',
  'rtx-a6000': 'rtxa6000',
  a6000: 'rtxa6000',
  'l40-s': 'l40s',
  // AWS's A10G: the A10's 24 GB
  a10g: 'a10',
}

/** A scheduler's GPU type name → the catalog's spelling of it (see the module header). */
export function normalizeGpuType(raw: string): string {
  let name = raw
    .trim()
    .toLowerCase()
    .replace(/[_\s]+/g, '-')
  name = name.replace(/^(nvidia-|tesla-|geforce-)+/, '')
  name = name.replace(/-(sxm\d?|pcie|nvl|hbm\d?e?)(?=-|$)/g, '')
  name = name.replace(/-(\d+)gb?$/, '-$1gb')
  for (const [alias, canonical] of Object.entries(MODEL_ALIASES)) {
    if (name === alias || name.startsWith(`${alias}-`)) name = canonical + name.slice(alias.length)
  }
  const variant = /^(.*)-(\d+)gb$/.exec(name)
  if (variant && FIRST_MEMORY_GB[variant[1] as string] === Number(variant[2])) name = variant[1] as string
  return name
}

/** The shipped models, with one cluster's overrides (keys in any spelling) applied over them. */
export function buildGpuCatalog(overrides: Readonly<Record<string, GpuModelOverride>> = {}): GpuCatalog {
  const models = new Map(DEFAULT_GPU_MODELS.map((m) => [m.name, m]))
  for (const [rawName, override] of Object.entries(overrides)) {
    const name = normalizeGpuType(rawName)
    const base = models.get(name)
    if (base === undefined && override.memoryMb === undefined) {
      // without memory an unknown type cannot be reasoned about; it stays unknown
      continue
    }
    models.set(name, {
      name,
      memoryMb: override.memoryMb ?? (base as GpuModel).memoryMb,
      architecture: override.architecture ?? base?.architecture ?? 'unknown',
      interconnect: override.interconnect ?? base?.interconnect ?? 'pcie',
      speed: override.speed ?? base?.speed ?? 1,
      cost: override.cost ?? base?.cost ?? 1,
    })
  }
  return { models }
}

/** What the catalog knows of a scheduler's GPU type, or null (an unknown or untyped GPU). */
export function lookupGpu(catalog: GpuCatalog, schedulerType: string): GpuModel | null {
  if (schedulerType === '') return null
  return catalog.models.get(normalizeGpuType(schedulerType)) ?? null
}

/** Memory in whole GB for messages: `40 GB`. */
export function formatGb(memoryMb: number): string {
  const gb = memoryMb / 1024
  return `${gb >= 10 ? Math.round(gb) : Math.round(gb * 10) / 10} GB`
}
