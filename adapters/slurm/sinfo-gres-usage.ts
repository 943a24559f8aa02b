/**
 * The GPUs free now on each node: `sinfo --noheader --Node -O NodeList,Gres,GresUsed,StateLong`
 * (configured GRES minus GRES in use, on nodes that can take work) → per-node free GPUs by type, and
 * the inventory nodes with them. `%G` in `--format` has no "used" counterpart, hence the `-O` form.
 * https://slurm.schedmd.com/sinfo.html#OPT_GresUsed
 */
import type { InventoryNode } from '../../src/scheduler/scheduler-adapter.js'
import { splitDelimitedRows, withCellContext } from './delimited-output.js'
import { parseGresGpus, SINFO_DELIMITER } from './sinfo-parser.js'

const SOURCE = 'sinfo -O GresUsed'

/** `-O` fields with a size of 0 (no truncation) and the unit separator after each value. */
export function buildSinfoGresUsageArgv(delimiter: string = SINFO_DELIMITER): readonly string[] {
  const fields = ['NodeList', 'Gres', 'GresUsed', 'StateLong'].map((f) => `${f}:0${delimiter}`).join(',')
  return ['sinfo', '--noheader', '--Node', '-O', fields]
}

type GpuCounts = readonly { readonly type: string; readonly count: number }[]

// a node in any other state (down, drained, draining, reserved, maint, allocated…) takes no new job now
const TAKES_WORK = new Set(['idle', 'mixed'])

/**
 * Free GPUs per node name, from columns node, gres, gresUsed, state. A node listed once per
 * partition is read once. An untyped GPU in use on a node with one configured type counts against it.
 * @param options.delimiter a RegExp such as /\s+/ for fixed-width output
 * @throws ParseError naming the line for a wrong column count or a malformed GRES entry.
 */
export function parseSinfoFreeGpus(
  stdout: string,
  options: { readonly delimiter?: string | RegExp } = {},
): Map<string, GpuCounts> {
  const free = new Map<string, GpuCounts>()
  for (const row of splitDelimitedRows(stdout, SOURCE, options.delimiter ?? SINFO_DELIMITER, 4)) {
    const [name, gres, used, state] = row.cells.map((c) => c.trim()) as [string, string, string, string]
    if (free.has(name)) continue
    const configured = withCellContext(SOURCE, row, 'gres', () => parseGresGpus(gres))
    const inUse = withCellContext(SOURCE, row, 'gresUsed', () => parseGresGpus(used))
    // `mixed-`, `drained*`, `draining@`: the flags after the state word do not change it
    const takesWork = TAKES_WORK.has(state.toLowerCase().replace(/[^a-z].*$/, ''))
    free.set(
      name,
      configured.map(({ type, count }) => {
        const busy = inUse
          .filter((u) => u.type === type || (u.type === '' && configured.length === 1))
          .reduce((sum, u) => sum + u.count, 0)
        return { type, count: takesWork ? Math.max(0, count - busy) : 0 }
      }),
    )
  }
  return free
}

/** The inventory nodes with what is free now; a node the usage listing lacks gets none free. */
export function withFreeGpus(nodes: readonly InventoryNode[], free: ReadonlyMap<string, GpuCounts>): InventoryNode[] {
  return nodes.map((node) => ({
    ...node,
    gpusFree: free.get(node.name) ?? node.gpus.map((g) => ({ type: g.type, count: 0 })),
  }))
}
