// Sweeps as PBS job arrays: which instances share an array on each flavor, the array script (golden
// files, and run with bash for each index), subjob ids and keys, and dependencies on arrays.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { groupPbsSweeps, type PbsArrayUnit, renderPbsArrayScript } from '../../../adapters/pbs/pbs-array.js'
import { buildPbsDependSpec, parseQsubOutput } from '../../../adapters/pbs/pbs-commands.js'
import type { PbsFlavorName } from '../../../adapters/pbs/pbs-flavors.js'
import { withExitStatusFile } from '../../../adapters/pbs/pbs-job-files.js'
import {
  arrayKeyOfInstance,
  instanceKeyOf,
  pbsArrayParentId,
  pbsRecordKey,
  pbsSubjobId,
  pbsSubjobIndex,
} from '../../../adapters/pbs/pbs-subjobs.js'
import { RpoError } from '../../../src/core/errors.js'
import { asNativeJobId, asSubmissionKey, type JobSubmission } from '../../../src/scheduler/scheduler-adapter.js'

const GOLDEN = join(import.meta.dirname, 'golden')
const WORK = mkdtempSync(join(tmpdir(), 'rpo-pbs-array-'))
afterAll(() => rmSync(WORK, { recursive: true, force: true }))

const ARRAY_KEY = asSubmissionKey('rpo.r1.train.array.1')

function instance(index: number, overrides: Partial<JobSubmission> = {}, root = '/scratch/u/jobs'): JobSubmission {
  const key = `rpo.r1.train.${index}.1`
  return {
    submissionKey: asSubmissionKey(key),
    runId: 'r1',
    taskId: `train.${index}`,
    attempt: 1,
    command: `echo "lr=$RPO_PARAM_LR index=${index} cwd=$(pwd)"`,
    workDir: '/scratch/u/work',
    jobDir: `${root}/${key}`,
    env: { RPO_TASK_ID: `train.${index}`, RPO_PARAM_LR: `0.${index}`, RPO_PARAMS: `{"lr": "it's 0.${index}"}` },
    resources: { cpus: 4, memoryMb: 8_000, timeLimitSeconds: 7_200, gpus: null, nodes: 1 },
    dependsOn: [],
    project: 'vision',
    partition: 'gpu',
    array: { key: ARRAY_KEY, index, throttle: 2 },
    ...overrides,
  }
}

const keysOf = (units: ReturnType<typeof groupPbsSweeps>) =>
  units.map((u) => (u.array ? { array: u.array.indices } : u.job.submissionKey))

describe('groupPbsSweeps', () => {
  it('PBS Pro: one array for an evenly spaced range, split where the indices are not one', () => {
    expect(
      keysOf(
        groupPbsSweeps(
          [0, 1, 2, 3].map((i) => instance(i)),
          'pbspro',
        ),
      ),
    ).toEqual([{ array: [0, 1, 2, 3] }])
    expect(
      keysOf(
        groupPbsSweeps(
          [1, 3, 5].map((i) => instance(i)),
          'openpbs',
        ),
      ),
    ).toEqual([{ array: [1, 3, 5] }])
    // 0,1,2 | 4,6 | 9 alone: it goes as a job of its own
    expect(
      keysOf(
        groupPbsSweeps(
          [0, 1, 2, 4, 6, 9].map((i) => instance(i)),
          'pbspro',
        ),
      ),
    ).toEqual([{ array: [0, 1, 2] }, { array: [4, 6] }, 'rpo.r1.train.9.1'])
  })

  it('Torque: any index list is one array', () => {
    expect(
      keysOf(
        groupPbsSweeps(
          [0, 1, 2, 4, 6, 9].map((i) => instance(i)),
          'torque',
        ),
      ),
    ).toEqual([{ array: [0, 1, 2, 4, 6, 9] }])
  })

  it('a single instance, another shape, a foreign folder layout or no sweep at all stays a job of its own', () => {
    const prep = { ...instance(0), submissionKey: asSubmissionKey('rpo.r1.prep.1'), array: undefined } as JobSubmission
    const bigger = instance(2, { resources: { ...instance(2).resources, memoryMb: 16_000 } })
    const elsewhere = instance(3, { jobDir: '/other/place' })
    const afterOld = instance(5, {
      dependsOn: [
        { submissionKey: asSubmissionKey('rpo.r1.prep.1'), jobId: asNativeJobId('9.srv'), condition: 'succeeded' },
      ],
    })
    const units = groupPbsSweeps([prep, instance(0), bigger, instance(1), elsewhere, afterOld], 'torque')
    expect(keysOf(units)).toEqual([
      'rpo.r1.prep.1',
      { array: [0, 1] },
      'rpo.r1.train.2.1',
      'rpo.r1.train.3.1',
      'rpo.r1.train.5.1',
    ])
    expect(keysOf(groupPbsSweeps([instance(4)], 'pbspro'))).toEqual(['rpo.r1.train.4.1'])
  })

  it('keeps the batch order (an array sits where its first instance was) and names the array job', () => {
    const report = {
      ...instance(9),
      submissionKey: asSubmissionKey('rpo.r1.report.1'),
      array: undefined,
    } as JobSubmission
    const units = groupPbsSweeps([instance(2), instance(0), report, instance(1)], 'pbspro')
    expect(keysOf(units)).toEqual([{ array: [0, 1, 2] }, 'rpo.r1.report.1'])
    const [array] = units
    expect(array?.job).toMatchObject({
      submissionKey: ARRAY_KEY,
      jobDir: '/scratch/u/jobs/rpo.r1.train.array.1',
      resources: instance(0).resources,
    })
    expect(array?.array).toMatchObject({
      key: ARRAY_KEY,
      dir: '/scratch/u/jobs/rpo.r1.train.array.1',
      indices: [0, 1, 2],
      throttle: 2,
      stdout: '/scratch/u/jobs/rpo.r1.train.^array_index^.1/pbs.out',
      stderr: '/scratch/u/jobs/rpo.r1.train.^array_index^.1/pbs.err',
    })
    expect(array?.array?.members.map((m) => m.submissionKey)).toEqual([
      'rpo.r1.train.0.1',
      'rpo.r1.train.1.1',
      'rpo.r1.train.2.1',
    ])
    // Torque appends -<index> to one path: the server's own -o/-e go to the array folder
    expect(groupPbsSweeps([instance(0), instance(1)], 'torque')[0]?.array).toMatchObject({
      stdout: '/scratch/u/jobs/rpo.r1.train.array.1/pbs.out',
      stderr: '/scratch/u/jobs/rpo.r1.train.array.1/pbs.err',
    })
  })
})

function arrayOf(flavor: PbsFlavorName, indices: readonly number[], root?: string): PbsArrayUnit {
  const unit = groupPbsSweeps(
    indices.map((i) => instance(i, {}, root)),
    flavor,
  )[0]?.array
  if (unit === undefined) throw new Error('expected one array')
  return unit
}

describe('renderPbsArrayScript golden files', () => {
  const afterPrep = [
    {
      submissionKey: asSubmissionKey('rpo.r1.prep.1'),
      jobId: asNativeJobId('1201.pbs-srv'),
      condition: 'succeeded' as const,
    },
    // an upstream sweep instance: the dependency names its whole array
    {
      submissionKey: asSubmissionKey('rpo.r1.tok.3.1'),
      jobId: asNativeJobId('1190[3].pbs-srv'),
      condition: 'finished' as const,
    },
  ]
  const CASES: [string, PbsFlavorName][] = [
    ['pbspro-sweep-array.pbs', 'pbspro'],
    ['torque-sweep-array.pbs', 'torque'],
  ]

  it.each(CASES)('%s', (file, flavor) => {
    const unit = groupPbsSweeps(
      [0, 1, 2, 3].map((i) => instance(i, { dependsOn: afterPrep })),
      flavor,
    )[0]?.array as PbsArrayUnit
    const script = renderPbsArrayScript(unit, unit.members, {
      flavor,
      gpuTypeResource: 'gputype',
      rerunnable: true,
      signal: { name: 'USR2', leadSeconds: 300 },
    })
    const path = join(GOLDEN, file)
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) writeFileSync(path, script)
    expect(script).toBe(readFileSync(path, 'utf8'))
    expect(spawnSync('bash', ['-n'], { input: script }).status).toBe(0)
  })

  it('asks for exactly the instances, throttled, under the array key, in each flavor spelling', () => {
    const pro = renderPbsArrayScript(arrayOf('pbspro', [0, 1, 2, 3]), arrayOf('pbspro', [0, 1, 2, 3]).members, {
      flavor: 'pbspro',
    })
    expect(pro).toContain('#PBS -N rpo.r1.train.array.1\n')
    expect(pro).toContain('#PBS -J 0-3%2\n')
    expect(pro).toContain('#PBS -o /scratch/u/jobs/rpo.r1.train.^array_index^.1/pbs.out\n')
    expect(pro).toContain(`case "\${PBS_ARRAY_INDEX:-}" in`)
    expect(pro).not.toContain('exec >')
    const torque = renderPbsArrayScript(arrayOf('torque', [0, 2, 3]), arrayOf('torque', [0, 2, 3]).members, {
      flavor: 'torque',
    })
    // Torque's 15-character names: the array key travels in the variable, which every subjob inherits
    expect(torque).toMatch(/#PBS -N rpo-[0-9a-f]{8}\n/)
    expect(torque).toContain('#PBS -v RPO_SUBMISSION_KEY=rpo.r1.train.array.1\n')
    expect(torque).toContain('#PBS -t 0,2-3%2\n')
    expect(torque).toContain(`case "\${PBS_ARRAYID:-}" in`)
  })

  it('asks for no -r n on PBS Pro, which makes every array rerunnable; Torque keeps it', () => {
    const pro = arrayOf('pbspro', [0, 1])
    expect(renderPbsArrayScript(pro, pro.members, { flavor: 'pbspro', rerunnable: false })).not.toContain('#PBS -r')
    expect(renderPbsArrayScript(pro, pro.members, { flavor: 'pbspro', rerunnable: true })).toContain('#PBS -r y\n')
    const torque = arrayOf('torque', [0, 1])
    expect(renderPbsArrayScript(torque, torque.members, { flavor: 'torque', rerunnable: false })).toContain(
      '#PBS -r n\n',
    )
  })

  it('refuses what a single job would refuse, and indices the flavor cannot hold', () => {
    const unit = arrayOf('pbspro', [0, 1])
    const gpu = unit.members.map((m) => ({ ...m, resources: { ...m.resources, gpus: { count: 1, types: ['a100'] } } }))
    expect(() => renderPbsArrayScript(unit, gpu, { flavor: 'pbspro' })).toThrow(/gpuTypeResource/)
    expect(() => renderPbsArrayScript({ ...unit, indices: [0, 5, 6] }, unit.members, { flavor: 'pbspro' })).toThrow(
      RpoError,
    )
    const nul = unit.members.map((m) => ({ ...m, command: 'echo \0' }))
    expect(() => renderPbsArrayScript(unit, nul, { flavor: 'pbspro' })).toThrow(RpoError)
  })
})

describe('the array script at run time', () => {
  // the script as a subjob runs it: the flavor's index variable set, nothing else from PBS
  function run(script: string, variable: string, index: string) {
    return spawnSync('bash', [], {
      input: script,
      // a HOME of its own: bash reads ~/.bashrc when its stdin is a socket, as node's pipes are
      env: { PATH: process.env.PATH, HOME: WORK, [variable]: index },
      encoding: 'utf8',
    })
  }

  it('PBS Pro: each index runs its own command in its own environment; an unknown index exits 3', () => {
    const root = join(WORK, 'pro')
    mkdirSync(join(WORK, 'work'), { recursive: true })
    const unit = arrayOf('pbspro', [0, 2, 4], root)
    const members = unit.members.map((m) => ({ ...m, workDir: join(WORK, 'work') }))
    const script = renderPbsArrayScript(unit, members, { flavor: 'pbspro' })
    expect(run(script, 'PBS_ARRAY_INDEX', '2').stdout).toBe(`lr=0.2 index=2 cwd=${join(WORK, 'work')}\n`)
    expect(run(script, 'PBS_ARRAY_INDEX', '4').stdout).toBe(`lr=0.4 index=4 cwd=${join(WORK, 'work')}\n`)
    const unknown = run(script, 'PBS_ARRAY_INDEX', '1')
    expect(unknown.status).toBe(3)
    expect(unknown.stderr).toBe('rpo: no instance for array index 1\n')
    expect(run(script, 'PBS_ARRAYID', '2').status).toBe(3)
  })

  it('Torque: each index writes its output into its own job folder; the exit-status wrapper records its own', () => {
    const root = join(WORK, 'torque')
    const unit = arrayOf('torque', [0, 1, 5], root)
    for (const m of unit.members) mkdirSync(m.jobDir, { recursive: true })
    const members = unit.members.map((m) => ({
      ...m,
      workDir: WORK,
      command: withExitStatusFile(`echo "out ${m.array?.index}"; echo "err ${m.array?.index}" >&2; exit 7`, m.jobDir),
    }))
    const script = renderPbsArrayScript(unit, members, { flavor: 'torque' })
    const result = run(script, 'PBS_ARRAYID', '5')
    expect(result.status).toBe(7)
    expect(result.stdout).toBe('')
    const dir = join(root, 'rpo.r1.train.5.1')
    expect(readFileSync(join(dir, 'pbs.out'), 'utf8')).toBe('out 5\n')
    expect(readFileSync(join(dir, 'pbs.err'), 'utf8')).toBe('err 5\n')
    expect(readFileSync(join(dir, 'exit_status'), 'utf8')).toBe('7\n')
    // the other instances' folders are untouched
    expect(existsSync(join(root, 'rpo.r1.train.1.1', 'pbs.out'))).toBe(false)
  })
})

describe('subjob ids and keys', () => {
  it('reads and builds subjob and array ids', () => {
    expect(pbsArrayParentId('1234[7].srv.example.org')).toBe('1234[].srv.example.org')
    expect(pbsArrayParentId('1234[].srv')).toBe('1234[].srv')
    expect(pbsArrayParentId('1234[7]')).toBe('1234[]')
    expect(pbsArrayParentId('1234.srv')).toBeNull()
    expect(pbsSubjobIndex('673175[19].fruster.stanford.edu')).toBe(19)
    expect(pbsSubjobIndex('673175[].superserver.stanford.edu')).toBeNull()
    expect(pbsSubjobIndex('43')).toBeNull()
    expect(pbsSubjobId('1234[].srv', 7)).toBe('1234[7].srv')
    expect(pbsSubjobId('1234[]', 0)).toBe('1234[0]')
    expect(() => pbsSubjobId('1234.srv', 1)).toThrow(/not a PBS job array id/)
    expect(() => pbsSubjobId('1234[3].srv', 1)).toThrow(/not a PBS job array id/)
  })

  it('qsub answers an array as <seq>[].<server>', () => {
    expect(parseQsubOutput('1234[].pbs-srv.example.org\n')).toBe('1234[].pbs-srv.example.org')
    expect(parseQsubOutput('site notice\n673175[].superserver.stanford.edu\n')).toBe(
      '673175[].superserver.stanford.edu',
    )
  })

  it('maps instance keys to their array key and back', () => {
    expect(arrayKeyOfInstance('rpo.r1.train.3.2')).toEqual({ arrayKey: 'rpo.r1.train.array.2', index: 3 })
    expect(arrayKeyOfInstance('rpo.r1.prep')).toBeNull()
    expect(instanceKeyOf('rpo.r1.train.array.2', 3)).toBe('rpo.r1.train.3.2')
    expect(instanceKeyOf('rpo.r1.train.array.2', '^array_index^')).toBe('rpo.r1.train.^array_index^.2')
    expect(instanceKeyOf('rpo.r1.prep.1', 3)).toBeNull()
  })

  it('reads a subjob record as its instance: PBS Pro by the array name, Torque by name-<index> or the variable', () => {
    // PBS Pro gives subjobs the array's Job_Name
    expect(pbsRecordKey({ jobId: '1234[2].srv', name: 'rpo.r1.train.array.1', submissionKey: null })).toBe(
      'rpo.r1.train.2.1',
    )
    // Torque appends -<index> to the name; a shortened name leaves the key in RPO_SUBMISSION_KEY
    expect(pbsRecordKey({ jobId: '88[12].t', name: 'rpo.r1.train.array.1-12', submissionKey: null })).toBe(
      'rpo.r1.train.12.1',
    )
    expect(pbsRecordKey({ jobId: '88[12].t', name: 'rpo-3f2a9c10-12', submissionKey: 'rpo.r1.train.array.1' })).toBe(
      'rpo.r1.train.12.1',
    )
    // the array itself and plain jobs stand for their own key; foreign subjobs keep their name
    expect(pbsRecordKey({ jobId: '1234[].srv', name: 'rpo.r1.train.array.1', submissionKey: null })).toBe(
      'rpo.r1.train.array.1',
    )
    expect(pbsRecordKey({ jobId: '43', name: 'rpo.r1.prep.1', submissionKey: null })).toBe('rpo.r1.prep.1')
    expect(pbsRecordKey({ jobId: '673175[19].fruster', name: 't.sh-19', submissionKey: null })).toBe('t.sh-19')
  })
})

describe('dependencies on arrays', () => {
  const on = (jobId: string, condition: 'succeeded' | 'finished' | 'failed' = 'succeeded') => ({ jobId, condition })

  it('PBS Pro waits for the whole array with the plain types', () => {
    expect(buildPbsDependSpec([on('1234[2].srv'), on('1234[3].srv'), on('99.srv'), on('77[1].srv', 'finished')])).toBe(
      'afterok:1234[].srv:99.srv,afterany:77[].srv',
    )
  })

  it('Torque waits with the array types: afterokarray, afteranyarray, afternotokarray', () => {
    expect(
      buildPbsDependSpec(
        [on('1234[2].t'), on('1234[3].t'), on('99.t'), on('77[1].t', 'finished'), on('5[0].t', 'failed')],
        'torque',
      ),
    ).toBe('afterokarray:1234[].t,afterok:99.t,afteranyarray:77[].t,afternotokarray:5[].t')
  })
})
