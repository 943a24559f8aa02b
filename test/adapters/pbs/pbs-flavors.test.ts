import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  choosePbsJobName,
  detectPbsFlavor,
  PBS_FLAVOR_NAMES,
  PBS_FLAVORS,
  pbsDialectFor,
} from '../../../adapters/pbs/pbs-flavors.js'
import { RpoError } from '../../../src/core/errors.js'

const WRAPPERS = join(import.meta.dirname, 'fixtures', 'slurm-torque-wrappers')
const GPU_CHUNK = { nodes: 1, cpusPerNode: 16, memoryMbPerNode: 64_000, gpusPerNode: 2, gpuType: 'a100' }

describe('detectPbsFlavor', () => {
  it('reads PBS Pro / OpenPBS versions and picks JSON from 19 on', () => {
    expect(detectPbsFlavor('pbs_version = 19.1.3\n')).toEqual({
      flavor: 'pbspro',
      version: '19.1.3',
      format: 'json',
    })
    expect(detectPbsFlavor('pbs_version = 2022.1.1.20220926110806\n')).toMatchObject({
      flavor: 'pbspro',
      format: 'json',
    })
    expect(detectPbsFlavor('pbs_version = 20.0.1\n')).toMatchObject({ flavor: 'openpbs', format: 'json' })
    expect(detectPbsFlavor('pbs_version = 23.06.06\n')).toMatchObject({ flavor: 'openpbs', format: 'json' })
    expect(detectPbsFlavor('pbs_version = 14.1.2\n')).toMatchObject({ flavor: 'pbspro', format: 'text' })
  })

  it('reads Torque versions and picks XML', () => {
    expect(detectPbsFlavor('Version: 6.1.3\nCommit: 7dc6a5b\n')).toEqual({
      flavor: 'torque',
      version: '6.1.3',
      format: 'xml',
    })
    expect(detectPbsFlavor('version: 4.2.10\n')).toMatchObject({ flavor: 'torque', version: '4.2.10' })
  })

  it('reads a qstat that names no version (the Slurm Torque wrappers, or anything else) as the slurm-torque row', () => {
    const wrapper = readFileSync(join(WRAPPERS, 'qstat-version.txt'), 'utf8')
    expect(detectPbsFlavor(wrapper)).toEqual({ flavor: 'slurm-torque', version: null, format: 'text' })
    expect(detectPbsFlavor('')).toEqual({ flavor: 'slurm-torque', version: null, format: 'text' })
  })

  it('gives a configured flavor its default format', () => {
    expect(pbsDialectFor('openpbs').format).toBe('json')
    expect(pbsDialectFor('pbspro', '18.2.0').format).toBe('text')
    expect(pbsDialectFor('torque').format).toBe('xml')
    expect(pbsDialectFor('slurm-torque').format).toBe('text')
  })
})

describe('the Slurm Torque wrappers as a row of the table', () => {
  const wrappers = PBS_FLAVORS['slurm-torque']

  it('says what the wrappers lack and what their qstat leaves out, where real servers differ', () => {
    expect(wrappers).toMatchObject({
      controls: { priority: false, signal: false },
      reportsExitStatus: false,
      heldAtPriorityZero: true,
      slurmTimeNames: true,
      outputFormats: ['text'],
      exitStatusFamily: 'torque',
    })
    for (const name of ['pbspro', 'openpbs', 'torque'] as const) {
      expect(PBS_FLAVORS[name]).toMatchObject({
        controls: { priority: true, signal: true },
        reportsExitStatus: true,
        heldAtPriorityZero: false,
        slurmTimeNames: false,
      })
    }
  })

  it('keeps the submission key as the job name (no Variable_List is printed) and never uses arrays', () => {
    expect(choosePbsJobName('rpo.a-long-pipeline-name.train-the-model.12.1', wrappers.maxJobNameLength)).toEqual({
      name: 'rpo.a-long-pipeline-name.train-the-model.12.1',
      keyInVariable: false,
    })
    expect(wrappers.arrays.supported(null)).toBe(false)
    expect(PBS_FLAVORS.torque.arrays.supported(null)).toBe(true)
  })

  it('asks qstat and pbsnodes for text, as Torque without XML', () => {
    expect(wrappers.qstatArgv('text')).toEqual(['qstat', '-f'])
    expect(wrappers.pbsnodesArgv('text')).toEqual(['pbsnodes', '-a'])
    expect(wrappers.resourceRequests({ ...GPU_CHUNK, gpuType: null })).toEqual(['nodes=1:ppn=16:gpus=2', 'mem=64000mb'])
  })
})

describe('PBS_FLAVORS', () => {
  it('has one strategy per flavor', () => {
    expect(Object.keys(PBS_FLAVORS).sort()).toEqual([...PBS_FLAVOR_NAMES].sort())
  })

  it('asks PBS Pro / OpenPBS for select chunks, one per node', () => {
    expect(PBS_FLAVORS.pbspro.resourceRequests(GPU_CHUNK, { gpuTypeResource: 'gputype' })).toEqual([
      'select=1:ncpus=16:mem=64000mb:ngpus=2:gputype=a100',
    ])
    expect(
      PBS_FLAVORS.openpbs.resourceRequests({ ...GPU_CHUNK, nodes: 4, gpuType: null }, { gpuResource: 'gpus' }),
    ).toEqual(['select=4:ncpus=16:mem=64000mb:gpus=2', 'place=scatter'])
    expect(PBS_FLAVORS.pbspro.resourceRequests({ ...GPU_CHUNK, gpusPerNode: 0, gpuType: null })).toEqual([
      'select=1:ncpus=16:mem=64000mb',
    ])
  })

  it('asks Torque for nodes:ppn:gpus with the type as a node property, and per-job memory', () => {
    expect(PBS_FLAVORS.torque.resourceRequests({ ...GPU_CHUNK, nodes: 2 }, { gpuTypeResource: 'gputype' })).toEqual([
      'nodes=2:ppn=16:gpus=2:a100',
      'mem=128000mb',
    ])
  })

  it('refuses a GPU type without a configured type resource', () => {
    expect(() => PBS_FLAVORS.pbspro.resourceRequests(GPU_CHUNK)).toThrow(/gpuTypeResource/)
    expect(() => PBS_FLAVORS.torque.resourceRequests(GPU_CHUNK)).toThrow(RpoError)
  })

  it('spells arrays -J <range>[:step] for PBS Pro and -t <list> for Torque, with the % throttle', () => {
    const { pbspro, torque } = PBS_FLAVORS
    expect(pbspro.arrays.option({ indices: [0, 1, 2, 3], maxConcurrent: 2 })).toEqual(['-J', '0-3%2'])
    expect(pbspro.arrays.option({ indices: [1, 4, 7] })).toEqual(['-J', '1-7:3'])
    expect(torque.arrays.option({ indices: [0, 1, 2, 3], maxConcurrent: 2 })).toEqual(['-t', '0-3%2'])
    expect(torque.arrays.option({ indices: [0, 2, 3, 4, 9] })).toEqual(['-t', '0,2-4,9'])
    expect(torque.arrays.option({ indices: [3] })).toEqual(['-t', '3'])
    // PBS Pro -J: 2+ evenly spaced indices, never a list
    expect(() => pbspro.arrays.option({ indices: [3] })).toThrow(RpoError)
    expect(() => pbspro.arrays.option({ indices: [0, 1, 3] })).toThrow(/evenly spaced/)
    expect(() => torque.arrays.option({ indices: [5, 1] })).toThrow(RpoError)
    expect(() => torque.arrays.option({ indices: [] })).toThrow(RpoError)
    expect(() => torque.arrays.option({ indices: [-1, 0] })).toThrow(RpoError)
    expect(() => torque.arrays.option({ indices: [0, 1], maxConcurrent: 0 })).toThrow(RpoError)
  })

  it('splits indices into the arrays each flavor can hold', () => {
    const { pbspro, torque } = PBS_FLAVORS
    expect(pbspro.arrays.split([0, 1, 2, 3])).toEqual([[0, 1, 2, 3]])
    expect(pbspro.arrays.split([0, 2, 4, 6])).toEqual([[0, 2, 4, 6]])
    // the longest even run from the lowest index, then again: 3 stays alone
    expect(pbspro.arrays.split([0, 1, 3])).toEqual([[0, 1]])
    expect(pbspro.arrays.split([0, 1, 2, 3, 5, 7, 9])).toEqual([
      [0, 1, 2, 3],
      [5, 7, 9],
    ])
    expect(pbspro.arrays.split([4])).toEqual([])
    expect(torque.arrays.split([0, 1, 3, 10])).toEqual([[0, 1, 3, 10]])
    expect(torque.arrays.split([7])).toEqual([])
  })

  it('names subjob indices, output paths and array dependencies per flavor', () => {
    expect(PBS_FLAVORS.pbspro.arrays).toMatchObject({
      indexVariable: 'PBS_ARRAY_INDEX',
      pathIndexToken: '^array_index^',
      dependTypes: { succeeded: 'afterok', finished: 'afterany', failed: 'afternotok' },
      holdSubjobs: false,
      alwaysRerunnable: true,
      silentThrottleHolds: false,
    })
    expect(PBS_FLAVORS.torque.arrays).toMatchObject({
      indexVariable: 'PBS_ARRAYID',
      pathIndexToken: null,
      dependTypes: { succeeded: 'afterokarray', finished: 'afteranyarray', failed: 'afternotokarray' },
      holdSubjobs: true,
      alwaysRerunnable: false,
      silentThrottleHolds: true,
    })
    // the % throttle: OpenPBS 20+, Altair's year-numbered PBS Pro, or a version nobody printed
    expect(['19.1.3', '20.0.1', '2022.1.1', null].map((v) => PBS_FLAVORS.pbspro.arrays.supported(v))).toEqual([
      false,
      true,
      true,
      true,
    ])
    expect(PBS_FLAVORS.torque.arrays.supported('6.1.3')).toBe(true)
  })

  it('polls and lists nodes per format', () => {
    expect(PBS_FLAVORS.pbspro.qstatArgv('json')).toEqual(['qstat', '-f', '-F', 'json', '-x'])
    expect(PBS_FLAVORS.pbspro.qstatArgv('text')).toEqual(['qstat', '-f', '-x'])
    expect(PBS_FLAVORS.torque.qstatArgv('xml')).toEqual(['qstat', '-x'])
    expect(PBS_FLAVORS.torque.qstatArgv('text')).toEqual(['qstat', '-f'])
    // -t: array subjobs one by one
    expect(PBS_FLAVORS.pbspro.qstatArgv('json', { subjobs: true })).toEqual(['qstat', '-f', '-F', 'json', '-x', '-t'])
    expect(PBS_FLAVORS.torque.qstatArgv('xml', { subjobs: true })).toEqual(['qstat', '-x', '-t'])
    expect(PBS_FLAVORS.openpbs.pbsnodesArgv('json')).toEqual(['pbsnodes', '-av', '-F', 'json'])
    expect(PBS_FLAVORS.torque.pbsnodesArgv('xml')).toEqual(['pbsnodes', '-x'])
    expect(PBS_FLAVORS.torque.pbsnodesArgv('text')).toEqual(['pbsnodes', '-a'])
  })
})

describe('choosePbsJobName', () => {
  it('keeps a key that fits and starts with a letter', () => {
    expect(choosePbsJobName('r1.train.2', 15)).toEqual({ name: 'r1.train.2', keyInVariable: false })
    expect(choosePbsJobName('r20240501-ab12.train.2', 236)).toEqual({
      name: 'r20240501-ab12.train.2',
      keyInVariable: false,
    })
  })

  it('shortens a long key deterministically and carries it in a variable', () => {
    const short = choosePbsJobName('r20240501-ab12.train.2', 15)
    expect(short.keyInVariable).toBe(true)
    expect(short.name).toMatch(/^rpo-[0-9a-f]{8}$/)
    expect(choosePbsJobName('r20240501-ab12.train.2', 15)).toEqual(short)
    expect(choosePbsJobName('r20240501-ab12.train.3', 15).name).not.toBe(short.name)
    // a name must start with a letter
    expect(choosePbsJobName('2024.train.1', 236).keyInVariable).toBe(true)
  })

  it('refuses a limit that cannot hold the short name', () => {
    expect(() => choosePbsJobName('a-very-long-submission-key', 8)).toThrow(RpoError)
  })
})
