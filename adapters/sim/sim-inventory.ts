/**
 * The simulated cluster's nodes as `sinfo` would list them: what each has, its partitions, and its
 * state in sinfo's words (idle, mixed, allocated, down).
 */
import type { Inventory } from '../../src/scheduler/scheduler-adapter.js'
import type { SimNodeState } from './sim-job-runner.js'

export function inventoryOf(nodes: readonly SimNodeState[]): Inventory {
  return {
    nodes: nodes.map((node) => ({
      name: node.spec.name,
      cpus: node.spec.cpus,
      memoryMb: node.spec.memoryMb,
      gpus: (node.spec.gpus ?? []).map((g) => ({ type: g.type, count: g.count })),
      partitions: [...(node.spec.partitions ?? [])],
      state: !node.up ? 'down' : node.usedCpus === 0 ? 'idle' : node.usedCpus < node.spec.cpus ? 'mixed' : 'allocated',
    })),
  }
}
