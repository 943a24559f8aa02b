/**
 * What a target offers, node by node: CPUs, memory, GPUs by type, partitions, features and the
 * node's state as the scheduler says it, and — when read live — the GPUs free now. Adapters read it
 * from sinfo/pbsnodes (or the config); the core checks tasks against it ("no node can ever run
 * this") and places GPU work on it. Pure types.
 */

export interface InventoryNode {
  readonly name: string
  readonly cpus: number
  readonly memoryMb: number
  readonly gpus: readonly { readonly type: string; readonly count: number }[]
  readonly partitions: readonly string[]
  readonly state: string
  /** Node features (Slurm `%f`, PBS node properties); absent when not read. */
  readonly features?: readonly string[]
  /** GPUs free at the time of reading, by type; absent when the adapter did not read usage. */
  readonly gpusFree?: readonly { readonly type: string; readonly count: number }[]
}

export interface Inventory {
  readonly nodes: readonly InventoryNode[]
}
