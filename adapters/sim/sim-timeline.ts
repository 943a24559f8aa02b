/**
 * The cluster's occupancy over virtual time as a step function: one sample whenever scheduling
 * settled, holding until the next. Metrics integrate over it instead of replaying the event log.
 */
import type { ResourceRequest } from '../../src/scheduler/scheduler-adapter.js'

export interface SimSample {
  readonly atMs: number
  /** GPUs on nodes that are up, by type. */
  readonly gpusUp: Readonly<Record<string, number>>
  /** GPUs allocated to running jobs, by type. */
  readonly gpusBusy: Readonly<Record<string, number>>
  /** GPUs wanted by eligible pending jobs (not held, dependencies met), counted under every type each accepts. */
  readonly pendingGpuDemand: Readonly<Record<string, number>>
  /** Eligible pending jobs (not held, dependencies met). */
  readonly pendingJobs: number
  readonly runningJobs: number
}

export class SimTimeline {
  readonly #samples: SimSample[] = []

  /** A later sample at the same instant replaces the earlier: only how things stood when time moved on counts. */
  record(sample: SimSample): void {
    const last = this.#samples[this.#samples.length - 1]
    if (last && last.atMs === sample.atMs) this.#samples[this.#samples.length - 1] = sample
    else this.#samples.push(sample)
  }

  get samples(): readonly SimSample[] {
    return this.#samples
  }
}

/** Jobs left waiting, grouped by identical request (a long queue has few distinct shapes). */
export interface WaitingShape {
  readonly resources: ResourceRequest
  readonly jobs: number
}

/** How the cluster stands: GPUs up and busy by type, and the GPU demand of jobs left waiting. */
export function sampleCluster(
  atMs: number,
  nodes: readonly {
    readonly spec: { readonly gpus?: readonly { readonly type: string; readonly count: number }[] }
    readonly up: boolean
    readonly usedGpus: ReadonlyMap<string, number>
  }[],
  waiting: Iterable<WaitingShape>,
  runningJobs: number,
): SimSample {
  const gpusUp: Record<string, number> = {}
  const gpusBusy: Record<string, number> = {}
  const allTypes = new Set<string>()
  for (const node of nodes) {
    for (const g of node.spec.gpus ?? []) allTypes.add(g.type)
    if (!node.up) continue
    for (const g of node.spec.gpus ?? []) gpusUp[g.type] = (gpusUp[g.type] ?? 0) + g.count
    for (const [type, used] of node.usedGpus) gpusBusy[type] = (gpusBusy[type] ?? 0) + used
  }
  const pendingGpuDemand: Record<string, number> = {}
  let pendingJobs = 0
  for (const { resources, jobs } of waiting) {
    pendingJobs += jobs
    const gpus = resources.gpus
    if (gpus === null || gpus.count === 0) continue
    for (const type of gpus.types.length > 0 ? gpus.types : allTypes) {
      pendingGpuDemand[type] = (pendingGpuDemand[type] ?? 0) + gpus.count * resources.nodes * jobs
    }
  }
  return { atMs, gpusUp, gpusBusy, pendingGpuDemand, pendingJobs, runningJobs }
}
