/**
 * `pbsnodes` → the cluster inventory, one `InventoryNode` per node (PBS Pro: per vnode):
 * - `pbsnodes -av -F json` (PBS Pro ≥ 19, OpenPBS): `{ …, nodes: { "<name>": { state, resources_available: { ncpus, mem, ngpus, … }, queue, … } } }`
 * - `pbsnodes -x` (Torque): `<Data><Node><name>…</name><state>…</state><np>…</np><status>…,physmem=…kb,…</status><gpus>…</gpus></Node>…</Data>`
 * - `pbsnodes -a` / `-av` text (all flavors and the Slurm Torque wrappers): a name line, then indented `key = value` lines.
 * https://help.altair.com/2024.1.0/PBS%20Professional/PBSReferenceGuide2024.1.pdf (pbsnodes)
 * https://docs.adaptivecomputing.com/torque/6-1-2/adminGuide/Content/topics/torque/commands/pbsnodes.htm
 */
import { ParseError } from '../../src/core/errors.js'
import type { InventoryNode } from '../../src/scheduler/scheduler-adapter.js'
import { isJsonObject, type PbsJsonValue, parsePbsJson } from './pbs-json.js'
import { parsePbsSizeMb } from './pbs-units.js'
import { readTorqueXml } from './qstat-xml-parser.js'

export interface PbsnodesParseOptions {
  /** The custom resource that carries a node's GPU type (`resources_available.gputype = A100`). @default 'gputype' */
  readonly gpuTypeResource?: string
}

// PBS vnode names may carry an index (`cpu1n025[0]`); nothing may contain blanks or commas
const NODE_NAME = /^[A-Za-z0-9._-]+(?:\[\d+\])?$/

/**
 * Parse `pbsnodes -av -F json`. A document without `nodes` is an empty inventory.
 * @throws ParseError for malformed JSON (naming the node and attribute), a non-object node or a
 *   malformed count or size.
 */
export function parsePbsnodesJson(stdout: string, options: PbsnodesParseOptions = {}): InventoryNode[] {
  const source = 'pbsnodes -F json'
  if (stdout.trim() === '') return []
  const document = parsePbsJson(stdout, source)
  if (!isJsonObject(document)) throw new ParseError(source, 'the document is not a JSON object', stdout)
  const nodes = Object.hasOwn(document, 'nodes') ? document.nodes : undefined
  if (nodes === undefined) return []
  if (!isJsonObject(nodes)) throw new ParseError(source, '"nodes" is not an object', JSON.stringify(nodes))
  return Object.entries(nodes).map(([name, node]) => {
    if (!isJsonObject(node)) throw new ParseError(source, `node ${name} is not an object`, JSON.stringify(node))
    const fields = new Map<string, string>()
    flattenJson(node, '', fields)
    return buildInventoryNode(source, name, Object.fromEntries(fields), options)
  })
}

/**
 * Parse Torque `pbsnodes -x`.
 * @throws ParseError for malformed XML, a node without `<name>`, or a malformed count or size.
 */
export function parsePbsnodesXml(stdout: string, options: PbsnodesParseOptions = {}): InventoryNode[] {
  const source = 'pbsnodes -x'
  return readTorqueXml(stdout, source, 'Node').map(({ index, fields }) => {
    const name = fields.name?.trim()
    if (name === undefined || name === '')
      throw new ParseError(source, `<Node> ${index + 1} has no <name>`, JSON.stringify(fields))
    return buildInventoryNode(source, name, fields, options)
  })
}

const ATTRIBUTE_LINE = /^[ \t]+([A-Za-z_][A-Za-z0-9_.-]*) =(?: (.*))?$/

/**
 * Parse `pbsnodes -a` / `pbsnodes -av` / `pbsnodes <node>` text. Blank lines between nodes are optional.
 * @throws ParseError naming the line for anything that is neither a node name nor `key = value` under
 *   one (e.g. the tables of `pbsnodes -l` or `-avSj`), and for a malformed count or size.
 */
export function parsePbsnodesText(stdout: string, options: PbsnodesParseOptions = {}): InventoryNode[] {
  const source = 'pbsnodes -a'
  const nodes: { name: string; fields: Map<string, string> }[] = []
  const lines = stdout.split('\n')
  for (let index = 0; index < lines.length; index++) {
    const line = (lines[index] ?? '').replace(/\r$/, '')
    if (line.trim() === '') continue
    const attribute = ATTRIBUTE_LINE.exec(line)
    const current = nodes.at(-1)
    if (attribute !== null && current !== undefined) {
      current.fields.set(attribute[1] ?? '', attribute[2] ?? '')
    } else if (/^\S/.test(line) && NODE_NAME.test(line.trim())) {
      nodes.push({ name: line.trim(), fields: new Map() })
    } else {
      throw new ParseError(source, `line ${index + 1}: neither a node name nor "key = value" under one`, line)
    }
  }
  return nodes.map(({ name, fields }) => buildInventoryNode(source, name, Object.fromEntries(fields), options))
}

function buildInventoryNode(
  source: string,
  name: string,
  fields: Readonly<Record<string, string>>,
  options: PbsnodesParseOptions,
): InventoryNode {
  if (!NODE_NAME.test(name)) throw new ParseError(source, 'not a node name', name)
  const text = (key: string): string | null => {
    const value = Object.hasOwn(fields, key) ? fields[key]?.trim() : undefined
    return value === undefined || value === '' ? null : value
  }
  const typed = <T>(key: string, value: string | null, parse: (value: string) => T): T | null => {
    if (value === null) return null
    try {
      return parse(value)
    } catch (error) {
      if (error instanceof ParseError) throw new ParseError(source, `node ${name}, ${key}: not a valid value`, value)
      throw error
    }
  }
  const status = text('status') ?? ''
  // Torque's status is k=v,k=v where values may contain commas (message=…): only pick the keys rpo reads
  const fromStatus = (key: string): string | null => new RegExp(`(?:^|,)${key}=([^,]*)`).exec(status)?.[1] ?? null
  const cpus =
    typed('resources_available.ncpus', text('resources_available.ncpus'), parseCount) ??
    typed('np', text('np'), parseCount) ??
    typed('pcpus', text('pcpus'), parseCount) ??
    0
  // physmem on Torque; the Slurm wrappers print only availmem, which is the node's configured memory there
  const memoryMb =
    typed('resources_available.mem', text('resources_available.mem'), parsePbsSizeMb) ??
    typed('status physmem', fromStatus('physmem'), parsePbsSizeMb) ??
    typed('status availmem', fromStatus('availmem'), parsePbsSizeMb) ??
    0
  const gpuCount =
    typed('resources_available.ngpus', text('resources_available.ngpus'), parseCount) ??
    typed('gpus', text('gpus'), parseCount) ??
    0
  const gpuType =
    text(`resources_available.${options.gpuTypeResource ?? 'gputype'}`) ??
    // the Slurm wrappers copy the Slurm GRES: gres=gpu:a100:4
    /^gpu:([A-Za-z0-9_.-]+):\d+$/.exec(fromStatus('gres') ?? '')?.[1] ??
    ''
  const partitions: string[] = []
  for (const queue of [text('queue'), ...(text('resources_available.Qlist')?.split(',') ?? [])]) {
    const trimmed = queue?.trim()
    if (trimmed !== undefined && trimmed !== '' && !partitions.includes(trimmed)) partitions.push(trimmed)
  }
  // Torque's node properties are what `-l nodes=1:ppn=4:<property>` selects on: the node's features
  const features = (text('properties') ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
  const state = text('state') ?? 'unknown'
  // PBS Pro counts GPUs in use as resources_assigned.ngpus; a node not `free` takes no new job now
  const assigned = typed('resources_assigned.ngpus', text('resources_assigned.ngpus'), parseCount)
  const free = state.split(',').every((s) => s.trim() === 'free') ? Math.max(0, gpuCount - (assigned ?? 0)) : 0
  return {
    name,
    cpus,
    memoryMb,
    gpus: gpuCount > 0 ? [{ type: gpuType, count: gpuCount }] : [],
    partitions,
    state,
    ...(features.length > 0 ? { features } : {}),
    ...(gpuCount > 0 && assigned !== null ? { gpusFree: [{ type: gpuType, count: free }] } : {}),
  }
}

function parseCount(text: string): number {
  if (!/^\d{1,9}$/.test(text)) throw new ParseError('pbsnodes', 'not a whole number', text)
  return Number(text)
}

function flattenJson(object: { [key: string]: PbsJsonValue }, prefix: string, out: Map<string, string>): void {
  for (const [key, value] of Object.entries(object)) {
    const name = prefix === '' ? key : `${prefix}.${key}`
    if (isJsonObject(value)) flattenJson(value, name, out)
    else if (Array.isArray(value))
      out.set(name, value.map((item) => (isJsonObject(item) || Array.isArray(item) ? '' : String(item))).join(','))
    else if (value !== null) out.set(name, typeof value === 'boolean' ? (value ? 'True' : 'False') : String(value))
  }
}
