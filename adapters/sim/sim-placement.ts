/**
 * Where a job fits: first-fit over the nodes in their declared order, honouring per-node CPUs,
 * memory, and GPU count and type (any of the acceptable types; all nodes of one job get the same
 * type, as the Slurm adapter's `--constraint=[a|b]` asks). Pure: nodes and their usage in, an
 * allocation (or null) out.
 */
import type { ResourceRequest } from '../../src/scheduler/scheduler-adapter.js'

export interface SimNodeSpec {
  readonly name: string
  readonly cpus: number
  readonly memoryMb: number
  readonly gpus?: readonly { readonly type: string; readonly count: number }[]
  /** Partitions the node belongs to; a node without any serves only jobs that name none. */
  readonly partitions?: readonly string[]
}

/** A node as placement sees it: what it has, what is in use, whether it is up. */
export interface PlacementNode {
  readonly spec: SimNodeSpec
  readonly up: boolean
  readonly usedCpus: number
  readonly usedMemoryMb: number
  readonly usedGpus: ReadonlyMap<string, number>
}

/** One node's share of a job. */
export interface NodeAllocation {
  readonly node: string
  readonly cpus: number
  readonly memoryMb: number
  readonly gpuType: string | null
  readonly gpus: number
}

/** Which nodes may serve a job: those of its partition, or of the default partition, or all. */
export function nodesForPartition<T extends { readonly spec: SimNodeSpec }>(
  nodes: readonly T[],
  partition: string | null,
): readonly T[] {
  return partition === null ? nodes : nodes.filter((n) => n.spec.partitions?.includes(partition))
}

/** First fit for `request` on `nodes` (already narrowed to the job's partition), or null. */
export function placeRequest(nodes: readonly PlacementNode[], request: ResourceRequest): NodeAllocation[] | null {
  const wanted = Math.max(1, request.nodes)
  for (let first = 0; first < nodes.length; first++) {
    const head = nodes[first] as PlacementNode
    // the first node that fits fixes the GPU type; try each type it can offer before moving on
    for (const type of fittingTypes(head, request)) {
      const chosen = [head]
      for (let next = first + 1; next < nodes.length && chosen.length < wanted; next++) {
        const node = nodes[next] as PlacementNode
        if (fittingTypes(node, request).includes(type)) chosen.push(node)
      }
      if (chosen.length === wanted) return chosen.map((node) => allocate(node, request, type))
    }
  }
  return null
}

/** Could the request ever fit here, on idle nodes that are up or down? (Otherwise a scheduler rejects it at submission.) */
export function couldEverPlace(specs: readonly SimNodeSpec[], request: ResourceRequest): boolean {
  const idle = specs.map((spec) => ({ spec, up: true, usedCpus: 0, usedMemoryMb: 0, usedGpus: new Map() }))
  return placeRequest(idle, request) !== null
}

function gpusWanted(request: ResourceRequest): number {
  return request.gpus === null ? 0 : request.gpus.count
}

/** GPU types (null: none wanted) with which the job's per-node share fits on this node now. */
function fittingTypes(node: PlacementNode, request: ResourceRequest): (string | null)[] {
  if (!node.up) return []
  if (node.spec.cpus - node.usedCpus < request.cpus) return []
  if (node.spec.memoryMb - node.usedMemoryMb < request.memoryMb) return []
  const count = gpusWanted(request)
  if (count === 0) return [null]
  const acceptable = request.gpus?.types ?? []
  return (node.spec.gpus ?? [])
    .filter((g) => acceptable.length === 0 || acceptable.includes(g.type))
    .filter((g) => g.count - (node.usedGpus.get(g.type) ?? 0) >= count)
    .map((g) => g.type)
}

function allocate(node: PlacementNode, request: ResourceRequest, type: string | null): NodeAllocation {
  return {
    node: node.spec.name,
    cpus: request.cpus,
    memoryMb: request.memoryMb,
    gpuType: type,
    gpus: type === null ? 0 : gpusWanted(request),
  }
}
