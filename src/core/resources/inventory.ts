/**
 * What a target offers, node by node: CPUs, memory, GPUs by type, partitions and the node's state as
 * the scheduler says it. Adapters read it from sinfo/pbsnodes (or the config); the core checks tasks
 * against it ("no node can ever run this"). Pure types.
 */

export interface InventoryNode {
  readonly name: string
  readonly cpus: number
  readonly memoryMb: number
  readonly gpus: readonly { readonly type: string; readonly count: number }[]
  readonly partitions: readonly string[]
  readonly state: string
}

export interface Inventory {
  readonly nodes: readonly InventoryNode[]
}
