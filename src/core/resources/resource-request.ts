/**
 * What one job asks of a target: CPUs, memory, time, GPUs (count, acceptable types, memory) and
 * nodes, in rpo's units (MB, seconds). Resolved from a pipeline, checked against an inventory,
 * charged by budgets and rendered by each adapter into its scheduler's syntax. Pure types.
 */

export interface GpuRequest {
  readonly count: number
  /** Acceptable GPU types; empty means any. */
  readonly types: readonly string[]
  readonly minMemoryGb?: number
}

export interface ResourceRequest {
  readonly cpus: number
  readonly memoryMb: number
  readonly timeLimitSeconds: number
  readonly gpus: GpuRequest | null
  readonly nodes: number
}
