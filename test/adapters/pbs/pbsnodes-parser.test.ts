import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parsePbsnodesJson, parsePbsnodesText, parsePbsnodesXml } from '../../../adapters/pbs/pbsnodes-parser.js'
import { ParseError } from '../../../src/core/errors.js'
import type { InventoryNode } from '../../../src/scheduler/scheduler-adapter.js'
import { sharedFixture } from '../../support/shared-fixtures.js'

const WRAPPERS = join(import.meta.dirname, 'fixtures', 'slurm-torque-wrappers')
const read = (...parts: string[]) => readFileSync(sharedFixture(...parts), 'utf8')

const TEXT_FIXTURES: [string, string][] = [
  ...readdirSync(sharedFixture('pbspro', 'pbsnodes')).map((file): [string, string] => [
    `pbspro/pbsnodes/${file}`,
    read('pbspro', 'pbsnodes', file),
  ]),
  ...readdirSync(sharedFixture('torque', 'pbsnodes')).map((file): [string, string] => [
    `torque/pbsnodes/${file}`,
    read('torque', 'pbsnodes', file),
  ]),
  ...['pbsnodes-a.txt', 'pbsnodes-two.txt'].map((file): [string, string] => [
    `wrappers/${file}`,
    readFileSync(join(WRAPPERS, file), 'utf8'),
  ]),
]

// `pbsnodes -av -F json` in the documented shape (no real capture among the fixtures): a GPU node
// with a gputype resource and a Qlist, a CPU node bound to a queue, a node that is down
const PBSNODES_JSON = `{
    "timestamp":1700000000,
    "pbs_version":"2021.1.3.20220217134230",
    "pbs_server":"pbs-srv",
    "nodes":{
        "gpu01":{
            "Mom":"gpu01.cluster",
            "ntype":"PBS",
            "state":"job-busy",
            "pcpus":64,
            "jobs":[ "101.pbs-srv", "102.pbs-srv" ],
            "resources_available":{ "arch":"linux", "gputype":"a100", "host":"gpu01", "mem":"514260mb", "ncpus":64, "ngpus":4, "Qlist":"gpu,gpu_long", "vnode":"gpu01" },
            "resources_assigned":{ "ncpus":62, "ngpus":2 },
            "resv_enable":"True",
            "sharing":"default_shared",
            "last_state_change_time":1699990000
        },
        "cpu01":{
            "Mom":"cpu01.cluster",
            "state":"free",
            "pcpus":128,
            "resources_available":{ "host":"cpu01", "mem":"1056000000kb", "ncpus":128, "vnode":"cpu01" },
            "resources_assigned":{},
            "queue":"workq"
        },
        "cpu02":{ "state":"down,offline", "resources_available":{ "ncpus":128 }, "comment":"node down: "reboot" pending" }
    }
}`

function expectWellFormed(nodes: readonly InventoryNode[]): void {
  for (const node of nodes) {
    expect(node.name).toMatch(/^[A-Za-z0-9._-]+(\[\d+\])?$/)
    expect(Number.isInteger(node.cpus)).toBe(true)
    expect(node.memoryMb).toBeGreaterThanOrEqual(0)
    expect(node.state).not.toBe('')
  }
}

describe('parsePbsnodesText on every real capture', () => {
  it.each(TEXT_FIXTURES)('%s: one node per name line', (_name, text) => {
    const nodes = parsePbsnodesText(text)
    expect(nodes.length).toBe(text.split('\n').filter((line) => /^\S/.test(line)).length)
    expectWellFormed(nodes)
  })

  it('reads a PBS Pro node: ncpus, mem, ngpus and the gputype resource', () => {
    expect(parsePbsnodesText(read('pbspro', 'pbsnodes', 'alcf-polaris_pbsnodes_node.txt'))).toEqual([
      {
        name: 'x3002c0s7b1n0',
        cpus: 64,
        memoryMb: 527_672_492 / 1024,
        gpus: [{ type: 'A100', count: 4 }],
        partitions: [],
        state: 'free',
        // resources_assigned.ngpus = 0 on a free node: all four free now
        gpusFree: [{ type: 'A100', count: 4 }],
      },
    ])
  })

  it('GPUs free now: ngpus less resources_assigned.ngpus, none on a node that is not free', () => {
    const polaris = read('pbspro', 'pbsnodes', 'alcf-polaris_pbsnodes_node.txt')
    const busy = polaris.replace('resources_assigned.ngpus = 0', 'resources_assigned.ngpus = 3')
    expect(parsePbsnodesText(busy)[0]?.gpusFree).toEqual([{ type: 'A100', count: 1 }])
    const down = busy.replace('state = free', 'state = down,offline')
    expect(parsePbsnodesText(down)[0]?.gpusFree).toEqual([{ type: 'A100', count: 0 }])
  })

  it('reads Torque nodes: np, physmem from status, gpus, properties as features, compound states', () => {
    const [gpu] = parsePbsnodesText(read('torque', 'pbsnodes', 'vsc-genius_pbsnodes_gpu_node.txt'))
    expect(gpu).toEqual({
      name: 'r22g35',
      cpus: 36,
      memoryMb: 192_494_548 / 1024,
      gpus: [{ type: '', count: 4 }],
      partitions: [],
      state: 'free',
      features: ['r22g', 'singleisland', 'type_skylake_gpu', 'skylake', 'beeond'],
    })
    const down = parsePbsnodesText(read('torque', 'pbsnodes', 'vsc-genius_pbsnodes_down_offline.txt'))
    // a down node without a status line has no memory figure
    expect(down[0]).toMatchObject({ name: 'r22g41', cpus: 36, memoryMb: 0, state: 'down,offline' })
    const [superdome] = parsePbsnodesText(read('torque', 'pbsnodes', 'vsc-superdome_pbsnodes_112core.txt'))
    expect(superdome).toMatchObject({ cpus: 112, state: 'job-exclusive' })
    // a status message with commas inside does not disturb the keys rpo reads
    const [message] = parsePbsnodesText(read('torque', 'pbsnodes', 'vsc-thinking_pbsnodes_message_note.txt'))
    expect(message).toMatchObject({ name: 'r5i0n6', cpus: 20, memoryMb: 65_932_076 / 1024 })
    // CRLF line ends
    expect(parsePbsnodesText(read('torque', 'pbsnodes', 'trex_batchsystem-pbsnodes_a_single_down.txt'))).toEqual([
      { name: 'ubuntu', cpus: 1, memoryMb: 0, gpus: [], partitions: [], state: 'down' },
    ])
  })

  it('reads the Slurm Torque wrappers: memory from availmem, the GPU type from the Slurm GRES', () => {
    const nodes = parsePbsnodesText(readFileSync(join(WRAPPERS, 'pbsnodes-a.txt'), 'utf8'))
    expect(nodes.map((node) => [node.name, node.cpus, node.memoryMb, node.gpus, node.state])).toEqual([
      ['cpu1', 16, 128_000, [], 'free'],
      ['cpu2', 16, 128_000, [], 'free'],
      ['gpu1', 8, 64_000, [{ type: 'a100', count: 4 }], 'free'],
      ['gpu2', 8, 64_000, [{ type: 'a100', count: 4 }], 'free'],
      ['gpu3', 8, 32_000, [{ type: 'v100', count: 2 }], 'free'],
    ])
  })

  it('refuses the table outputs of pbsnodes -l and -avSj', () => {
    expect(() => parsePbsnodesText(read('pbspro', 'pbsnodes_l', 'alcf-polaris_pbsnodes_l.txt'))).toThrow(ParseError)
    expect(() => parsePbsnodesText(read('pbspro', 'pbsnodes_avSj', 'alcf-polaris_pbsnodes_avSj.txt'))).toThrow(/line 1/)
    expect(() => parsePbsnodesText('n1\n     np = many\n')).toThrow(/node n1, np/)
  })
})

describe('parsePbsnodesXml on every real capture', () => {
  it.each(readdirSync(sharedFixture('torque', 'pbsnodes_x')))('%s: one node per <Node>', (file) => {
    const text = read('torque', 'pbsnodes_x', file)
    const nodes = parsePbsnodesXml(text)
    expect(nodes.length).toBe(text.match(/<Node>/g)?.length)
    expectWellFormed(nodes)
  })

  it('reads np, physmem, gpus, properties and states', () => {
    const nodes = parsePbsnodesXml(read('torque', 'pbsnodes_x', 'qhost-pbsnodes_x_5nodes_mom_ports.xml'))
    expect(nodes[0]).toEqual({
      name: 'node1',
      cpus: 12,
      memoryMb: 24_660_000 / 1024,
      gpus: [],
      partitions: [],
      state: 'free',
      features: ['testing'],
    })
    expect(nodes.slice(1).map((node) => node.features)).toEqual([['compute'], ['compute'], ['compute'], ['compute']])
    expect(nodes.map((node) => node.state)).toEqual([
      'free',
      'down',
      'job-exclusive',
      'offline,job-exclusive',
      'job-exclusive',
    ])
    const [busy] = parsePbsnodesXml(read('torque', 'pbsnodes_x', 'qhost-pbsnodes_x_down_offline_jobexclusive.xml'))
    expect(busy).toMatchObject({ name: 'node100', cpus: 32, state: 'down,offline,job-exclusive' })
    expect(parsePbsnodesXml(read('torque', 'pbsnodes_x', 'trex_batchsystem-pbsnodes_x_single_down_note.xml'))).toEqual([
      { name: 'ubuntu', cpus: 1, memoryMb: 0, gpus: [], partitions: [], state: 'down' },
    ])
  })

  it('refuses a node without a name', () => {
    expect(() => parsePbsnodesXml('<Data><Node><state>free</state></Node></Data>')).toThrow(/has no <name>/)
  })
})

describe('parsePbsnodesJson', () => {
  it('reads ncpus, mem, GPUs with their type, and queues from queue and Qlist', () => {
    expect(parsePbsnodesJson(PBSNODES_JSON)).toEqual([
      {
        name: 'gpu01',
        cpus: 64,
        memoryMb: 514_260,
        gpus: [{ type: 'a100', count: 4 }],
        partitions: ['gpu', 'gpu_long'],
        state: 'job-busy',
        // job-busy takes no new job, whatever resources_assigned says
        gpusFree: [{ type: 'a100', count: 0 }],
      },
      { name: 'cpu01', cpus: 128, memoryMb: 1_056_000_000 / 1024, gpus: [], partitions: ['workq'], state: 'free' },
      { name: 'cpu02', cpus: 128, memoryMb: 0, gpus: [], partitions: [], state: 'down,offline' },
    ])
  })

  it('takes the GPU type from a site-specific resource', () => {
    const json = PBSNODES_JSON.replace('"gputype":"a100"', '"gpu_model":"h100"')
    expect(parsePbsnodesJson(json, { gpuTypeResource: 'gpu_model' })[0]?.gpus).toEqual([{ type: 'h100', count: 4 }])
    expect(parsePbsnodesJson(json)[0]?.gpus).toEqual([{ type: '', count: 4 }])
  })

  it('accepts no nodes and refuses wrong shapes and bad values', () => {
    expect(parsePbsnodesJson('{"timestamp":1}')).toEqual([])
    expect(parsePbsnodesJson('')).toEqual([])
    expect(() => parsePbsnodesJson('{"nodes":[]}')).toThrow(/"nodes" is not an object/)
    expect(() => parsePbsnodesJson('{"nodes":{"n 1":{}}}')).toThrow(/not a node name/)
    expect(() => parsePbsnodesJson('{"nodes":{"n1":{"resources_available":{"mem":"lots"}}}}')).toThrow(
      /node n1, resources_available\.mem/,
    )
    expect(() => parsePbsnodesJson('{"nodes":{"n1":{"state":"free",}')).toThrow(/invalid JSON/)
  })
})
