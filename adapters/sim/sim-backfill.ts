/**
 * EASY backfill's reservation (Slurm's sched/backfill with one reservation, Lifka's EASY): when the
 * highest-priority waiting job does not fit, find the earliest time the running jobs' time limits
 * free enough nodes for it, and book its nodes then. A later job may start now only if it ends
 * (by its time limit) before that time, or if it also fits beside the booked job on what is left
 * then, on the nodes it starts on — either way it cannot delay the reserved job. Placement is the
 * same first fit as starting.
 */
import type { SimJob } from './sim-job.js'
import type { SimNodeState } from './sim-job-runner.js'
import { type NodeAllocation, nodesForPartition, placeRequest } from './sim-placement.js'

interface ShadowNode {
  readonly spec: SimNodeState['spec']
  readonly up: boolean
  usedCpus: number
  usedMemoryMb: number
  readonly usedGpus: Map<string, number>
}

/** The booking for the first job that does not fit, and the nodes as they will be once it starts. */
export class BackfillReservation {
  readonly #atMs: number
  /** The nodes as they will be once the booked job starts, by name. */
  readonly #byName: ReadonlyMap<string, ShadowNode>

  private constructor(atMs: number, byName: ReadonlyMap<string, ShadowNode>) {
    this.#atMs = atMs
    this.#byName = byName
  }

  /** When the reserved job will start at the latest. */
  get atMs(): number {
    return this.#atMs
  }

  /**
   * Book `head` at the earliest end of running jobs (by time limit) after which it fits; null when
   * it fits at no such time (a node is down, or a job runs without a limit): then nothing is booked.
   */
  static book(
    nodes: readonly SimNodeState[],
    running: Iterable<SimJob>,
    head: SimJob,
    limitMsOf: (job: SimJob) => number | null,
  ): BackfillReservation | null {
    const shadow: ShadowNode[] = nodes.map((n) => ({
      spec: n.spec,
      up: n.up,
      usedCpus: n.usedCpus,
      usedMemoryMb: n.usedMemoryMb,
      usedGpus: new Map(n.usedGpus),
    }))
    const byName = new Map(shadow.map((n) => [n.spec.name, n]))
    const ends: { atMs: number; job: SimJob }[] = []
    for (const job of running) {
      const limit = limitMsOf(job)
      if (limit === null || job.startedAtMs === null) continue
      ends.push({ atMs: job.startedAtMs + limit, job })
    }
    ends.sort((a, b) => a.atMs - b.atMs || a.job.submitSeq - b.job.submitSeq)
    const candidates = nodesForPartition(shadow, head.partition)
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i] as { atMs: number; job: SimJob }
      release(byName, end.job.allocation)
      // free everything ending at the same instant before trying
      if ((ends[i + 1]?.atMs ?? Number.NaN) === end.atMs) continue
      const allocation = placeRequest(candidates, head.submission.resources)
      if (allocation) {
        take(byName, allocation)
        return new BackfillReservation(end.atMs, byName)
      }
    }
    return null
  }

  /**
   * May `job` start now, on `allocation` (where first fit puts it now), without delaying the booked
   * job? It must end by the booking, or its shares must fit on those same nodes as they will be
   * then, beside the booked job (and are then counted there, so two such jobs cannot together take
   * the booked job's nodes). Room for it on some other node then is no answer: it would start here.
   */
  admits(limitMs: number | null, nowMs: number, allocation: readonly NodeAllocation[]): boolean {
    if (limitMs !== null && nowMs + limitMs <= this.#atMs) return true
    if (!allocation.every((share) => fitsOn(this.#byName.get(share.node), share))) return false
    take(this.#byName, allocation)
    return true
  }
}

/** Does one node's share of a job fit on this node of the shadow? */
function fitsOn(node: ShadowNode | undefined, share: NodeAllocation): boolean {
  if (!node?.up) return false
  if (node.spec.cpus - node.usedCpus < share.cpus || node.spec.memoryMb - node.usedMemoryMb < share.memoryMb)
    return false
  if (share.gpuType === null) return true
  const count = node.spec.gpus?.find((g) => g.type === share.gpuType)?.count ?? 0
  return count - (node.usedGpus.get(share.gpuType) ?? 0) >= share.gpus
}

function release(nodes: ReadonlyMap<string, ShadowNode>, allocation: readonly NodeAllocation[]): void {
  for (const share of allocation) {
    const node = nodes.get(share.node)
    if (!node) continue
    node.usedCpus -= share.cpus
    node.usedMemoryMb -= share.memoryMb
    if (share.gpuType !== null) node.usedGpus.set(share.gpuType, (node.usedGpus.get(share.gpuType) ?? 0) - share.gpus)
  }
}

function take(nodes: ReadonlyMap<string, ShadowNode>, allocation: readonly NodeAllocation[]): void {
  for (const share of allocation) {
    const node = nodes.get(share.node)
    if (!node) continue
    node.usedCpus += share.cpus
    node.usedMemoryMb += share.memoryMb
    if (share.gpuType !== null) node.usedGpus.set(share.gpuType, (node.usedGpus.get(share.gpuType) ?? 0) + share.gpus)
  }
}
