import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  buildSinfoFormat,
  parseGresGpus,
  parseSinfoNodes,
  parseSlurmVersion,
} from '../../../adapters/slurm/sinfo-parser.js'
import { ParseError } from '../../../src/core/errors.js'
import { sharedFixture } from '../../support/shared-fixtures.js'

const SHARED = sharedFixture('slurm', 'sinfo')
const TESTBED = join(import.meta.dirname, 'fixtures', 'testbed-22.05')
const read = (directory: string, file: string): string => readFileSync(join(directory, file), 'utf8')

describe('parseSinfoNodes on the 22.05 testbed (rpo format)', () => {
  it('asks for name, partition, CPUs, memory, GRES, state and features', () => {
    expect(buildSinfoFormat()).toBe('%N\u001f%P\u001f%c\u001f%m\u001f%G\u001f%T\u001f%f')
  })

  it('merges each node listed once per partition into one node', () => {
    const nodes = parseSinfoNodes(read(TESTBED, 'sinfo-nodes.txt'))
    expect(nodes.map((node) => node.name)).toEqual(['cpu1', 'cpu2', 'gpu1', 'gpu2', 'gpu3'])
    expect(nodes[0]).toEqual({
      name: 'cpu1',
      cpus: 16,
      memoryMb: 128_000,
      gpus: [],
      partitions: ['cpu', 'all'],
      state: 'mixed',
      features: ['cpu', 'highmem'],
    })
    expect(nodes.find((node) => node.name === 'gpu3')).toEqual({
      name: 'gpu3',
      cpus: 8,
      memoryMb: 32_000,
      gpus: [{ type: 'v100', count: 2 }],
      partitions: ['gpu', 'all'],
      state: 'idle',
      features: ['gpu', 'v100'],
    })
  })
})

describe('parseSinfoNodes on the shared sinfo fixtures', () => {
  it('has a case for each file', () => {
    expect(readdirSync(SHARED).length).toBe(12)
  })

  it('ood_core -N -O nodehost,gres,gresused,statelong (fixed width): A100 counts and every state kept', () => {
    const nodes = parseSinfoNodes(
      read(SHARED, 'ood_core-sinfo_N_O_gres_gresused_statelong.txt'),
      ['name', 'gres', 'ignore', 'state'],
      { delimiter: /\s+/ },
    )
    expect(nodes).toHaveLength(37)
    expect(nodes[0]).toMatchObject({ name: 'a0001', gpus: [{ type: 'a100', count: 4 }], state: 'mixed-' })
    expect(nodes.find((node) => node.name === 'a0177')).toMatchObject({
      gpus: [{ type: 'a100', count: 2 }],
      state: 'completing',
    })
    expect(new Set(nodes.map((node) => node.state))).toEqual(
      new Set(['allocated', 'completing', 'drained*', 'draining@', 'idle', 'mixed', 'mixed-', 'reserved']),
    )
  })

  it('ood_core untyped GPUs: gpu:2(S:1) is two GPUs of any type', () => {
    const nodes = parseSinfoNodes(
      read(SHARED, 'ood_core-gres_gpu_null_type.txt'),
      ['name', 'gres', 'ignore', 'state'],
      {
        delimiter: /\s+/,
      },
    )
    expect(nodes.map((node) => [node.name, node.gpus])).toEqual([
      ['gput072', [{ type: '', count: 2 }]],
      ['gput073', [{ type: '', count: 2 }]],
      ['gput074', [{ type: '', count: 4 }]],
      ['gput075', [{ type: '', count: 4 }]],
    ])
  })

  it('slurm_exporter -N -O NodeList,AllocMem,Memory,CPUsState,StateLong: repeated nodes merged', () => {
    const nodes = parseSinfoNodes(
      read(SHARED, 'slurm_exporter-sinfo_N_O_mem_cpustate.txt'),
      ['name', 'ignore', 'memoryMb', 'ignore', 'state'],
      { delimiter: /\s+/ },
    )
    expect(nodes[0]).toMatchObject({ name: 'a048', memoryMb: 193_000, state: 'mixed', partitions: [] })
    expect(new Set(nodes.map((node) => node.name)).size).toBe(nodes.length)
  })

  it('slurm_exporter %n,%T: 709 nodes with down*/fail* states', () => {
    const nodes = parseSinfoNodes(read(SHARED, 'slurm_exporter-sinfo_n_T.txt'), ['hostname', 'state'], {
      delimiter: ',',
    })
    expect(nodes).toHaveLength(709)
    expect(nodes.filter((node) => node.state === 'fail*')).toHaveLength(1)
    expect(nodes[0]).toEqual({ name: 'lxfoo0001', cpus: 0, memoryMb: 0, gpus: [], partitions: [], state: 'idle' })
  })

  it('ood_core owens: 0x1E-started records of cpus, hostname, features', () => {
    const text = read(SHARED, 'ood_core-owens_nodes_rs_us.txt').replaceAll('\u001e', '')
    const nodes = parseSinfoNodes(text, ['cpus', 'hostname', 'ignore'])
    expect(nodes).toHaveLength(816)
    expect(nodes[0]).toMatchObject({ name: 'o0004', cpus: 28 })
  })

  it('ood_core %G: GRES lists with socket lists and no_consume entries', () => {
    const lines = read(SHARED, 'ood_core-sinfo_o_G.txt').split('\n').slice(1).filter(Boolean)
    expect(lines.map(parseGresGpus)).toEqual([
      [{ type: 'a100', count: 3 }],
      [{ type: 'a100', count: 2 }],
      [{ type: 'a100', count: 4 }],
      [],
    ])
  })

  it('trex: the version line', () => {
    expect(parseSlurmVersion(read(SHARED, 'trex_batchsystem-sinfo_version_ubuntu.txt'))).toBe('20.11.4')
    expect(parseSlurmVersion('slurm 23.11.4\n')).toBe('23.11.4')
    expect(() => parseSlurmVersion('command not found')).toThrow(ParseError)
  })

  it.each([
    'ood_core-sinfo_F_C.txt',
    'ood_core-sinfo_F_C_small.txt',
    'slurm_exporter-sinfo_C.txt',
    'torchx-sinfo_P_m_csv.txt',
    'rivos_exporter-sinfo_o_jsonlike_fallback.txt',
  ])('%s is a summary or JSON format, not per-node columns: refused', (file) => {
    expect(() => parseSinfoNodes(read(SHARED, file))).toThrow(ParseError)
  })
})

describe('parseGresGpus', () => {
  it.each([
    ['gpu:a100:4(S:0-3)', [{ type: 'a100', count: 4 }]],
    ['gpu:4', [{ type: '', count: 4 }]],
    ['gpu:(null):2(IDX:0-1)', [{ type: '', count: 2 }]],
    ['(null)', []],
    [
      'gpu:tesla:2(S:0),gpu:k80:2(S:1),gpu:tesla:1',
      [
        { type: 'tesla', count: 3 },
        { type: 'k80', count: 2 },
      ],
    ],
    ['gpu:1g.10gb:7,mps:100', [{ type: '1g.10gb', count: 7 }]],
  ])('%s', (text, gpus) => {
    expect(parseGresGpus(text)).toEqual(gpus)
  })

  it('rejects entries without a count', () => {
    expect(() => parseGresGpus('gpu:a100')).toThrow(ParseError)
    expect(() => parseGresGpus('gpu:a:b:c:4')).toThrow(ParseError)
  })
})

describe('parseSinfoNodes on malformed input', () => {
  it('refuses a host list where one node was expected', () => {
    expect(() => parseSinfoNodes('gpu[1-2]\u001fgpu\u001f8\u001f64000\u001f(null)\u001fidle\u001fgpu')).toThrow(
      /--Node/,
    )
  })

  it('refuses non-numeric CPUs with the line', () => {
    expect(() => parseSinfoNodes('n1\u001fp\u001feight\u001f64000\u001f(null)\u001fidle\u001fx')).toThrow(
      /line 1, cpus/,
    )
  })
})
