/**
 * GPU placement: from a cluster's inventory and GPU catalog, which GPU types can hold a task (memory
 * per GPU ≥ what its model needs, on nodes that can hold its per-node share) and which of them to
 * ask the scheduler for — free now first, then (for deadline-critical work) the fastest, then the
 * least over-provisioned memory, then the cheapest under the project's GPU weights — with the
 * reason in words. Also why no type can ever hold it. Pure and deterministic: same inputs, same
 * choice.
 */
import type { Framework, ResolvedModel } from '../pipeline/workload-fields.js'
import type { Inventory, InventoryNode } from '../resources/inventory.js'
import type { ResourceRequest } from '../resources/resource-request.js'
import { formatGb, type GpuCatalog, type GpuModel, lookupGpu, normalizeGpuType } from './gpu-catalog.js'
import { type GpuMemoryNeed, gpuMemoryNeed, usesGpus } from './model-memory.js'

export interface GpuPlacementInput {
  /** Per node: cpus, memoryMb, gpus (count per node, acceptable types, minMemoryGb); and nodes. */
  readonly request: Pick<ResourceRequest, 'cpus' | 'memoryMb' | 'gpus' | 'nodes'>
  readonly framework: Framework | null
  readonly model: ResolvedModel | null
  readonly inventory: Inventory
  readonly catalog: GpuCatalog
  /** The project's billing weight per GPU type (config `projects.<p>.gpuWeights`); over the catalog's cost. */
  readonly costWeights?: Readonly<Record<string, number>>
  /** 0..1: how little slack the work has before its deadline (see deadlineUrgency); ≥ 0.5 prefers speed. */
  readonly urgency?: number
  /** The target can be asked for any of several types (Slurm `--constraint=a|b`); PBS cannot. */
  readonly alternatives: boolean
}

export type GpuPlacement =
  /** Nothing to decide: no GPUs, or no memory need and at most one acceptable type. */
  | { readonly kind: 'as-asked'; readonly reason: string | null }
  | { readonly kind: 'placed'; readonly types: readonly string[]; readonly reason: string }
  /** A CPU-only framework asked for GPUs: it runs without them. */
  | { readonly kind: 'dropped'; readonly reason: string }
  | { readonly kind: 'infeasible'; readonly reason: string }

/** Urgency at or above which faster GPUs are preferred over best fit and cost. */
const DEADLINE_CRITICAL_URGENCY = 0.5

interface Candidate {
  readonly type: string
  readonly model: GpuModel | null
  /** Nodes that can hold the per-node share on this type. */
  readonly nodes: readonly InventoryNode[]
  /** Of those, nodes with enough of this type free now; null when usage was not read. */
  readonly freeNodes: number | null
  readonly cost: number
  /** Why it cannot hold the task; null when it can. */
  readonly lacks: string | null
}

/** Where to put a task's GPUs on this inventory, and why. */
export function placeGpus(input: GpuPlacementInput): GpuPlacement {
  const gpus = input.request.gpus
  if (gpus === null || gpus.count === 0) return { kind: 'as-asked', reason: null }
  if (!usesGpus(input.framework)) {
    return {
      kind: 'dropped',
      reason: `${input.framework} runs on CPUs: the ${gpus.count} GPU(s) asked for per node are not requested`,
    }
  }
  const need = gpuMemoryNeed(input.request, input.model, input.framework)
  if (need === null && gpus.types.length <= 1) return { kind: 'as-asked', reason: null }
  const all = candidates(input, need)
  const feasible = all.filter((c) => c.lacks === null)
  if (feasible.length === 0) {
    const why = whyNone(input, need, all)
    // untyped GPUs cannot be checked against a need: leave the choice to the scheduler
    return why === null ? { kind: 'as-asked', reason: untypedNote(need) } : { kind: 'infeasible', reason: why }
  }
  const critical = (input.urgency ?? 0) >= DEADLINE_CRITICAL_URGENCY
  const ranked = [...feasible].sort((a, b) => compareCandidates(a, b, input.request.nodes, critical))
  const best = ranked[0] as Candidate
  const knowFree = ranked.some((c) => c.freeNodes !== null)
  const bestFree = freeEnough(best, input.request.nodes)
  const offerAll =
    input.alternatives &&
    !critical &&
    ranked.length > 1 &&
    !(knowFree && bestFree) &&
    ranked.every((c) => c.nodes.every((n) => n.features?.includes(c.type)))
  const types = offerAll ? ranked.map((c) => c.type) : [best.type]
  return { kind: 'placed', types, reason: describe(ranked, types, need, critical, knowFree, input.request.nodes) }
}

/**
 * Why no GPU type of the inventory can ever hold the task, or null when one can (or when the
 * GPUs are untyped and cannot be checked). For validation: names the largest GPU and what it lacks.
 */
export function explainGpuUnsatisfiable(input: Omit<GpuPlacementInput, 'alternatives' | 'urgency'>): string | null {
  const gpus = input.request.gpus
  if (gpus === null || gpus.count === 0 || !usesGpus(input.framework)) return null
  const need = gpuMemoryNeed(input.request, input.model, input.framework)
  const all = candidates(input, need)
  if (all.some((c) => c.lacks === null)) return null
  return whyNone(input, need, all)
}

/**
 * The inventory once a placed job holds its GPUs: when it was given exactly one type, its per-node
 * count is taken from the free GPUs of that type on the first nodes with enough free (the nodes
 * first fit would give it). Unchanged when usage was not read or the scheduler chooses among types.
 */
export function withGpusTaken(inventory: Inventory, request: Pick<ResourceRequest, 'gpus' | 'nodes'>): Inventory {
  const gpus = request.gpus
  if (gpus === null || gpus.types.length !== 1) return inventory
  const [type] = gpus.types as [string]
  let left = Math.max(1, request.nodes)
  const nodes = inventory.nodes.map((node) => {
    const free = node.gpusFree?.find((g) => g.type === type)
    if (left === 0 || free === undefined || free.count < gpus.count) return node
    left--
    const gpusFree = node.gpusFree?.map((g) => (g.type === type ? { type, count: g.count - gpus.count } : g))
    return { ...node, ...(gpusFree ? { gpusFree } : {}) }
  })
  return { nodes }
}

/**
 * Urgency of work with `neededSeconds` still to run before `deadline` (ISO) at `now` (ms): 0 without
 * a deadline, 1 when there is no slack left, else needed ÷ time left — priority-score.ts's urgency
 * with the task's own time limit standing in for the remaining critical path.
 */
export function deadlineUrgency(deadline: string | null, now: number, neededSeconds: number): number {
  if (deadline === null) return 0
  const left = (Date.parse(deadline) - now) / 1000
  if (!Number.isFinite(left)) return 0
  return left <= 0 || neededSeconds >= left ? 1 : neededSeconds / left
}

function candidates(
  input: Omit<GpuPlacementInput, 'alternatives' | 'urgency'>,
  need: GpuMemoryNeed | null,
): Candidate[] {
  const { request, inventory, catalog } = input
  const perNode = (request.gpus as NonNullable<ResourceRequest['gpus']>).count
  const asked = request.gpus?.types ?? []
  const types = [...new Set(inventory.nodes.flatMap((n) => n.gpus.map((g) => g.type)))]
    .filter((type) => type !== '' && matchesAsked(type, asked))
    .sort()
  return types.map((type) => {
    const model = lookupGpu(catalog, type)
    const withType = inventory.nodes.filter((n) => (n.gpus.find((g) => g.type === type)?.count ?? 0) >= perNode)
    const nodes = withType.filter((n) => n.cpus >= request.cpus && n.memoryMb >= request.memoryMb)
    const readFree = nodes.some((n) => n.gpusFree !== undefined)
    const freeNodes = readFree
      ? nodes.filter((n) => (n.gpusFree?.find((g) => g.type === type)?.count ?? 0) >= perNode).length
      : null
    const cost = weightOf(input.costWeights, type) ?? model?.cost ?? 1
    let lacks: string | null = null
    if (need !== null && model === null) lacks = 'its memory is unknown'
    else if (need !== null && model !== null && model.memoryMb < need.memoryMb)
      lacks = `${formatGb(model.memoryMb)} per GPU`
    else if (withType.length === 0) lacks = `no node has ${perNode} of them`
    else if (nodes.length < request.nodes) lacks = shareLack(withType, request, type)
    return { type, model, nodes, freeNodes, cost, lacks }
  })
}

function shareLack(withType: readonly InventoryNode[], request: GpuPlacementInput['request'], type: string): string {
  const maxCpus = Math.max(...withType.map((n) => n.cpus))
  const maxMem = Math.max(...withType.map((n) => n.memoryMb))
  if (request.cpus > maxCpus) return `its nodes have at most ${maxCpus} CPUs (asked ${request.cpus})`
  if (request.memoryMb > maxMem) return `its nodes have at most ${maxMem} MB (asked ${request.memoryMb} MB)`
  const holding = withType.filter((n) => n.cpus >= request.cpus && n.memoryMb >= request.memoryMb).length
  return `only ${holding} node(s) with ${type} can hold the per-node share (asked ${request.nodes})`
}

function whyNone(
  input: Pick<GpuPlacementInput, 'request' | 'inventory'>,
  need: GpuMemoryNeed | null,
  all: readonly Candidate[],
): string | null {
  const gpus = input.request.gpus as NonNullable<ResourceRequest['gpus']>
  const asked = gpus.types
  const untyped = input.inventory.nodes.some((n) => n.gpus.some((g) => g.type === '' && g.count >= gpus.count))
  if (all.length === 0) {
    if (untyped && asked.length === 0) return null
    const offered = [...new Set(input.inventory.nodes.flatMap((n) => n.gpus.map((g) => g.type || 'untyped')))]
    return asked.length > 0
      ? `asks for GPU type ${asked.join(' or ')}, but the cluster has ${offered.length > 0 ? offered.join(', ') : 'no GPUs'}`
      : 'asks for GPUs, but the cluster has none'
  }
  if (need !== null) {
    const known = all.filter((c) => c.model !== null)
    const largest = [...known].sort((a, b) => (b.model?.memoryMb ?? 0) - (a.model?.memoryMb ?? 0))[0]
    const tooSmall = known.every((c) => (c.model?.memoryMb ?? 0) < need.memoryMb)
    if (tooSmall) {
      const unknown = all.filter((c) => c.model === null).map((c) => c.type)
      const hint =
        unknown.length > 0
          ? `; the memory of ${unknown.join(', ')} is unknown (set clusters.<name>.gpus.<type>.memory)`
          : ''
      const largestText = largest
        ? `the largest GPU of the cluster is ${largest.type} with ${formatGb(largest.model?.memoryMb ?? 0)}`
        : 'no GPU type of the cluster has a known memory size'
      return `needs ${formatGb(need.memoryMb)} per GPU (${need.source}), but ${largestText}${hint}`
    }
  }
  return `asks for ${gpus.count} GPU(s) per node on ${input.request.nodes} node(s)${need ? ` with ${formatGb(need.memoryMb)} each` : ''}, but ${all.map((c) => `${c.type}: ${c.lacks}`).join('; ')}`
}

function untypedNote(need: GpuMemoryNeed | null): string | null {
  return need === null ? null : `the cluster's GPUs are untyped: ${formatGb(need.memoryMb)} per GPU not checked`
}

function matchesAsked(type: string, asked: readonly string[]): boolean {
  if (asked.length === 0) return true
  const normalized = normalizeGpuType(type)
  return asked.some((a) => a === type || normalizeGpuType(a) === normalized)
}

function weightOf(weights: Readonly<Record<string, number>> | undefined, type: string): number | undefined {
  if (weights === undefined) return undefined
  if (weights[type] !== undefined) return weights[type]
  const normalized = normalizeGpuType(type)
  const key = Object.keys(weights).find((k) => normalizeGpuType(k) === normalized)
  return key === undefined ? undefined : weights[key]
}

function freeEnough(c: Candidate, nodes: number): boolean {
  return c.freeNodes !== null && c.freeNodes >= nodes
}

function compareCandidates(a: Candidate, b: Candidate, nodes: number, critical: boolean): number {
  const free = Number(freeEnough(b, nodes)) - Number(freeEnough(a, nodes))
  if (free !== 0) return free
  if (critical) {
    const speed = (b.model?.speed ?? 0) - (a.model?.speed ?? 0)
    if (speed !== 0) return speed
  }
  const memory = (a.model?.memoryMb ?? Number.POSITIVE_INFINITY) - (b.model?.memoryMb ?? Number.POSITIVE_INFINITY)
  if (memory !== 0 && Number.isFinite(memory)) return memory
  if (a.cost !== b.cost) return a.cost - b.cost
  return a.type < b.type ? -1 : a.type > b.type ? 1 : 0
}

function describe(
  ranked: readonly Candidate[],
  types: readonly string[],
  need: GpuMemoryNeed | null,
  critical: boolean,
  knowFree: boolean,
  nodes: number,
): string {
  const best = ranked[0] as Candidate
  const parts: string[] = []
  if (need !== null) parts.push(`needs ${formatGb(need.memoryMb)} per GPU (${need.source})`)
  const listed = ranked.map((c) => {
    const facts = [c.model ? formatGb(c.model.memoryMb) : 'memory unknown']
    if (c.freeNodes !== null) facts.push(`free now on ${c.freeNodes} node(s)`)
    facts.push(`cost ${c.cost}`)
    if (c.model) facts.push(`speed ${c.model.speed}`)
    return `${c.type} (${facts.join(', ')})`
  })
  parts.push(`feasible: ${listed.join(', ')}`)
  if (types.length > 1) {
    parts.push(
      `${knowFree ? 'none free now' : 'free GPUs unknown'}: any of ${types.join('|')}, whichever the scheduler starts first`,
    )
  } else {
    const why: string[] = []
    if (freeEnough(best, nodes)) why.push('free now')
    if (critical) why.push('fastest for deadline-critical work')
    if (need !== null && best.model) why.push(`best fit (${formatGb(best.model.memoryMb - need.memoryMb)} spare)`)
    else if (ranked.length > 1) why.push('smallest memory')
    why.push(`cost ${best.cost}`)
    parts.push(`chose ${best.type}: ${why.join(', ')}`)
  }
  return parts.join('; ')
}
