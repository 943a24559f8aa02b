import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildSinfoGresUsageArgv, parseSinfoFreeGpus, withFreeGpus } from '../../../adapters/slurm/sinfo-gres-usage.js'
import { parseSinfoNodes } from '../../../adapters/slurm/sinfo-parser.js'
import { ParseError } from '../../../src/core/errors.js'
import { sharedFixture } from '../../support/shared-fixtures.js'

const read = (...parts: string[]) => readFileSync(join(...parts), 'utf8')
const TESTBED = join(import.meta.dirname, 'fixtures', 'testbed-22.05')

describe('free GPUs from sinfo GresUsed', () => {
  it('asks sinfo -O for node, GRES, GRES used and state, untruncated, unit-separated', () => {
    expect(buildSinfoGresUsageArgv()).toEqual([
      'sinfo',
      '--noheader',
      '--Node',
      '-O',
      'NodeList:0\u001f,Gres:0\u001f,GresUsed:0\u001f,StateLong:0\u001f',
    ])
  })

  it('testbed 22.05 with 3 a100 busy on gpu1 and 1 v100 on gpu3', () => {
    const free = parseSinfoFreeGpus(read(TESTBED, 'sinfo-gres-used.txt'))
    expect(Object.fromEntries(free)).toEqual({
      cpu1: [],
      cpu2: [],
      gpu1: [{ type: 'a100', count: 1 }],
      gpu2: [{ type: 'a100', count: 4 }],
      gpu3: [{ type: 'v100', count: 1 }],
    })
    const nodes = withFreeGpus(parseSinfoNodes(read(TESTBED, 'sinfo-nodes.txt')), free)
    expect(nodes.find((n) => n.name === 'gpu1')).toMatchObject({
      gpus: [{ type: 'a100', count: 4 }],
      gpusFree: [{ type: 'a100', count: 1 }],
      features: ['gpu', 'a100'],
    })
  })

  it('OSC (fixed width): used a100s subtracted; drained, draining, reserved and allocated nodes have none free', () => {
    const free = parseSinfoFreeGpus(
      read(sharedFixture('slurm', 'sinfo', 'ood_core-sinfo_N_O_gres_gresused_statelong.txt')),
      { delimiter: /\s+/ },
    )
    expect(free.size).toBe(37)
    expect(free.get('a0008')).toEqual([{ type: 'a100', count: 2 }]) // mixed-, 2 of 4 used
    expect(free.get('a0001')).toEqual([{ type: 'a100', count: 0 }]) // all 4 used
    expect(free.get('a0245')).toEqual([{ type: 'a100', count: 2 }]) // idle
    expect(free.get('a0235')).toEqual([{ type: 'a100', count: 0 }]) // drained*
    expect(free.get('a0023')).toEqual([{ type: 'a100', count: 0 }]) // draining@
    expect(free.get('a0286')).toEqual([{ type: 'a100', count: 0 }]) // reserved
    expect(free.get('a0177')).toEqual([{ type: 'a100', count: 0 }]) // completing
  })

  it('OSC untyped GPUs: gpu:(null):N in use counts against the untyped GPUs', () => {
    const free = parseSinfoFreeGpus(read(sharedFixture('slurm', 'sinfo', 'ood_core-gres_gpu_null_type.txt')), {
      delimiter: /\s+/,
    })
    expect(Object.fromEntries(free)).toEqual({
      gput072: [{ type: '', count: 0 }],
      gput073: [{ type: '', count: 0 }],
      gput074: [{ type: '', count: 3 }],
      gput075: [{ type: '', count: 0 }],
    })
  })

  it('names the line of a malformed entry', () => {
    expect(() => parseSinfoFreeGpus('gpu1\u001fgpu:a100:4\u001fgpu:a100:x\u001fidle\u001f\n')).toThrow(ParseError)
    expect(() => parseSinfoFreeGpus('gpu1\u001fgpu:a100:4\n')).toThrow(/line 1: expected 4 columns/)
  })

  it('a node missing from the usage listing has nothing free', () => {
    const nodes = withFreeGpus(
      [{ name: 'g9', cpus: 8, memoryMb: 1, gpus: [{ type: 'a100', count: 4 }], partitions: [], state: 'idle' }],
      new Map(),
    )
    expect(nodes[0]?.gpusFree).toEqual([{ type: 'a100', count: 0 }])
  })
})
