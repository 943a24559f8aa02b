/**
 * Slurm's compressed host lists (`nid0[0099,0156-0157]`, `omni[19,21]`, `d09n04s[01-02],k10n26s01`),
 * expanded into node names. https://slurm.schedmd.com/scontrol.html#OPT_hostnames
 */
import { ParseError } from '../../src/core/errors.js'

const SOURCE = 'slurm hostlist'
// words Slurm prints in a node-list column when no node is allocated
const NO_NODES = new Set(['', 'NONE ASSIGNED', '(NULL)', 'N/A', 'NONE'])
/** Refuse to expand a list into more names than any cluster has: a garbage range must not eat memory. */
export const MAX_HOSTLIST_NODES = 100_000

/**
 * Expand a Slurm host list into node names, keeping zero padding (`n[08-10]` → `n08`, `n09`, `n10`).
 * Several bracket groups in one name multiply out (`r[1-2]n[1-2]` → 4 names).
 * @returns [] for `None assigned`, `(null)`, `N/A` and empty.
 * @throws ParseError for unbalanced brackets, reversed ranges or more than MAX_HOSTLIST_NODES names.
 */
export function expandSlurmHostlist(text: string): string[] {
  const trimmed = text.trim()
  if (NO_NODES.has(trimmed.toUpperCase())) return []
  const nodes: string[] = []
  for (const item of splitTopLevel(trimmed)) {
    for (const name of expandItem(item, text)) {
      nodes.push(name)
      if (nodes.length > MAX_HOSTLIST_NODES) throw new ParseError(SOURCE, 'host list too large', text)
    }
  }
  return nodes
}

// commas inside brackets separate ranges, commas outside separate hosts
function splitTopLevel(text: string): string[] {
  const items: string[] = []
  let depth = 0
  let start = 0
  for (let index = 0; index < text.length; index++) {
    const char = text[index]
    if (char === '[') depth++
    else if (char === ']') depth--
    if (depth < 0 || depth > 1) throw new ParseError(SOURCE, 'unbalanced brackets', text)
    if (char === ',' && depth === 0) {
      items.push(text.slice(start, index))
      start = index + 1
    }
  }
  if (depth !== 0) throw new ParseError(SOURCE, 'unbalanced brackets', text)
  items.push(text.slice(start))
  if (items.some((item) => item === '' || /\s/.test(item)))
    throw new ParseError(SOURCE, 'empty or spaced host name', text)
  return items
}

function expandItem(item: string, whole: string): string[] {
  const open = item.indexOf('[')
  if (open === -1) return [item]
  const close = item.indexOf(']', open)
  const prefix = item.slice(0, open)
  const suffixes = expandItem(item.slice(close + 1), whole)
  const names: string[] = []
  for (const index of expandRanges(item.slice(open + 1, close), whole)) {
    for (const suffix of suffixes) {
      names.push(`${prefix}${index}${suffix}`)
      if (names.length > MAX_HOSTLIST_NODES) throw new ParseError(SOURCE, 'host list too large', whole)
    }
  }
  return names
}

function expandRanges(ranges: string, whole: string): string[] {
  const indexes: string[] = []
  for (const range of ranges.split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(range)
    if (match === null) throw new ParseError(SOURCE, `bad range "${range}"`, whole)
    const [, from = '', to = from] = match
    const first = Number(from)
    const last = Number(to)
    if (last < first || last - first > MAX_HOSTLIST_NODES) throw new ParseError(SOURCE, `bad range "${range}"`, whole)
    for (let value = first; value <= last; value++) indexes.push(String(value).padStart(from.length, '0'))
  }
  return indexes
}
