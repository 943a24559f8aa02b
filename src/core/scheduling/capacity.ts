/**
 * Counting resources against a capacity (the local machine's CPUs, memory and GPUs by type), and
 * the static check that a task can ever fit anywhere. Pure.
 */
import type { GpuCatalog } from '../gpu/gpu-catalog.js'
import { explainGpuUnsatisfiable } from '../gpu/gpu-placement.js'
import { gpuMemoryNeed, usesGpus } from '../gpu/model-memory.js'
import type { Framework, ResolvedModel } from '../pipeline/workload-fields.js'
import type { Inventory } from '../resources/inventory.js'
import type { ResourceRequest } from '../resources/resource-request.js'
import type { Capacity } from './run-snapshot.js'

export function remainingCapacity(total: Capacity, used: readonly ResourceRequest[]): Capacity {
  return used.reduce(reserve, total)
}

export function fitsCapacity(free: Capacity, request: ResourceRequest): boolean {
  if (request.cpus * request.nodes > free.cpus || request.memoryMb * request.nodes > free.memoryMb) return false
  return request.gpus === null || pickGpuType(free, request) !== null
}

export function reserve(free: Capacity, request: ResourceRequest): Capacity {
  const gpus = { ...free.gpus }
  if (request.gpus) {
    const type = pickGpuType(free, request)
    if (type !== null) gpus[type] = (gpus[type] ?? 0) - request.gpus.count * request.nodes
  }
  return {
    cpus: free.cpus - request.cpus * request.nodes,
    memoryMb: free.memoryMb - request.memoryMb * request.nodes,
    gpus,
  }
}

/** The acceptable GPU type with the most free devices, or null. Deterministic on ties (by name). */
export function pickGpuType(free: Capacity, request: ResourceRequest): string | null {
  if (!request.gpus) return null
  const need = request.gpus.count * request.nodes
  const candidates = Object.entries(free.gpus)
    .filter(
      ([type, count]) => count >= need && (request.gpus?.types.length === 0 || request.gpus?.types.includes(type)),
    )
    .sort(([ta, a], [tb, b]) => b - a || ta.localeCompare(tb))
  return candidates[0]?.[0] ?? null
}

/** What a task says beyond raw resources that decides which GPUs can hold it. */
export interface GpuWorkload {
  readonly catalog: GpuCatalog
  readonly framework: Framework | null
  readonly model: ResolvedModel | null
}

/**
 * Why no node of the inventory can ever run this request, or null when one can. With the task's
 * workload, GPU memory per device counts too (its model's estimate or `gpus.minMemory` against the
 * catalog), and a CPU-only framework's GPUs are not asked for.
 */
export function explainUnsatisfiable(
  inventory: Inventory,
  request: ResourceRequest,
  workload?: GpuWorkload,
): string | null {
  if (inventory.nodes.length === 0) return 'the target has no nodes'
  if (workload && request.gpus) {
    if (!usesGpus(workload.framework)) return explainUnsatisfiable(inventory, { ...request, gpus: null })
    // without a memory need the count-and-type check below says it best
    const why =
      gpuMemoryNeed(request, workload.model, workload.framework) === null
        ? null
        : explainGpuUnsatisfiable({ request, inventory, ...workload })
    if (why !== null) return why
  }
  const wantGpus = request.gpus
  const fitting = inventory.nodes.filter((node) => {
    if (node.cpus < request.cpus || node.memoryMb < request.memoryMb) return false
    if (!wantGpus) return true
    return node.gpus.some(
      (g) => g.count >= wantGpus.count && (wantGpus.types.length === 0 || wantGpus.types.includes(g.type)),
    )
  })
  if (fitting.length >= request.nodes) return null
  const maxCpus = Math.max(...inventory.nodes.map((n) => n.cpus))
  const maxMem = Math.max(...inventory.nodes.map((n) => n.memoryMb))
  if (request.cpus > maxCpus) return `asks for ${request.cpus} CPUs, but the largest node has ${maxCpus}`
  if (request.memoryMb > maxMem)
    return `asks for ${request.memoryMb} MB of memory, but the largest node has ${maxMem} MB`
  if (wantGpus) {
    const offered = inventory.nodes.flatMap((n) => n.gpus.map((g) => `${g.count}×${g.type}`))
    const types = wantGpus.types.length > 0 ? ` of type ${wantGpus.types.join(' or ')}` : ''
    return `asks for ${wantGpus.count} GPU(s)${types} per node, but the target offers ${offered.length > 0 ? offered.join(', ') : 'no GPUs'}`
  }
  return `asks for ${request.nodes} nodes, but only ${fitting.length} can hold its per-node share`
}
