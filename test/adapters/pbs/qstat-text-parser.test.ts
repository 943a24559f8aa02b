import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  findPbsJobsBySubmissionKey,
  type PbsJobRecord,
  toPbsJobObservations,
} from '../../../adapters/pbs/pbs-job-record.js'
import { parseQstatText, splitQstatTextBlocks } from '../../../adapters/pbs/qstat-text-parser.js'
import { ParseError } from '../../../src/core/errors.js'
import { JOB_STATES } from '../../../src/core/job/job-state.js'
import { asSubmissionKey } from '../../../src/scheduler/scheduler-adapter.js'
import { sharedFixture } from '../../support/shared-fixtures.js'

const WRAPPERS = join(import.meta.dirname, 'fixtures', 'slurm-torque-wrappers')
const read = (...parts: string[]) => readFileSync(sharedFixture(...parts), 'utf8')
const byId = (records: readonly PbsJobRecord[], id: string) => {
  const record = records.find((candidate) => candidate.jobId === id)
  if (record === undefined) throw new Error(`no record ${id}`)
  return record
}

// every `qstat -f` / `qstat -xf` text capture (SOURCES.md), plus the Slurm Torque wrappers' own
const TEXT_FIXTURES: [string, string][] = [
  ...readdirSync(sharedFixture('pbspro', 'qstat_f')).map((file): [string, string] => [
    `pbspro/qstat_f/${file}`,
    read('pbspro', 'qstat_f', file),
  ]),
  ...readdirSync(sharedFixture('pbspro', 'qstat_xf')).map((file): [string, string] => [
    `pbspro/qstat_xf/${file}`,
    read('pbspro', 'qstat_xf', file),
  ]),
  ...readdirSync(sharedFixture('torque', 'qstat_f')).map((file): [string, string] => [
    `torque/qstat_f/${file}`,
    read('torque', 'qstat_f', file),
  ]),
  ...['qstat-f-live.txt', 'qstat-f-held.txt', 'qstat-f-final.txt'].map((file): [string, string] => [
    `wrappers/${file}`,
    readFileSync(join(WRAPPERS, file), 'utf8'),
  ]),
]

describe('parseQstatText on every real capture', () => {
  it.each(TEXT_FIXTURES)('%s: one record per Job Id block, every observation well-formed', (_name, text) => {
    const records = parseQstatText(text)
    expect(records.length).toBe(text.match(/^Job Id:/gm)?.length)
    expect(records.length).toBeGreaterThan(0)
    for (const observation of toPbsJobObservations(records)) {
      expect(observation.jobId).toMatch(/^\d+(\[\d*\])?(\.[A-Za-z0-9._-]+)?$/)
      expect(JOB_STATES).toContain(observation.state)
      expect(observation.nativeState).toMatch(/^[A-Z]$/)
    }
  })

  it('refuses the outputs that are not qstat -f (default, -a, -u, -Qf tables) instead of misreading them', () => {
    for (const [name, text] of [
      ['qstat', read('pbspro', 'qstat', 'alcf-polaris_qstat_default_truncated.txt')],
      ['qstat -as1', read('pbspro', 'qstat_a', 'alcf-polaris_qstat_as1_comments.txt')],
      ['qstat -u', read('pbspro', 'qstat_u', 'alcf-aurora_qstat_u_server_header.txt')],
      ['qstat -Qf', read('torque', 'qstat_Qf', 'trex_batchsystem-qstat_Qf_wrapped_state_count.txt')],
      ['wrapper qstat', readFileSync(join(WRAPPERS, 'qstat-default-live.txt'), 'utf8')],
      ['wrapper qstat -a', readFileSync(join(WRAPPERS, 'qstat-a-live.txt'), 'utf8')],
    ]) {
      expect(() => parseQstatText(text ?? ''), name).toThrow(ParseError)
    }
  })
})

describe('parseQstatText: PBS Pro', () => {
  const aiida = parseQstatText(read('pbspro', 'qstat_f', 'aiida-pbspro_qstat_f_2013.txt'))

  it('joins TAB continuation lines without a separator (values are split mid-word)', () => {
    const queued = byId(aiida, '68350.mycluster')
    expect(queued.attributes.Error_Path).toBe(
      'mycluster.cluster:/home/usernum1/scratch/cptest/scaletest/PTOscaletest/testjob.err',
    )
    expect(queued.variables.PBS_O_PATH).toBe(
      '/opt/xcat/bin:/opt/xcat/sbin:/usr/lib64/qt-3.3/bin:/usr/local/bin:/bin:/usr/bin:/usr/local/sbin:/usr/sbin:/sbin:/opt/pbs/default/bin:/opt/software/python/3.3.0/bin:/opt/software/bin',
    )
    expect(queued.variables.PBS_O_HOST).toBe('mycluster.cluster')
    expect(byId(aiida, '69301.mycluster').attributes.exec_vnode).toBe(
      '(b141:ncpus=16)+(b142:ncpus=16)+(b143:ncpus=16)+(b144:ncpus=16)',
    )
  })

  it('reads a queued, a running and a dependency-held job field by field', () => {
    const queued = byId(aiida, '68350.mycluster')
    expect(queued).toMatchObject({
      name: 'cell-Qnormal',
      nativeState: 'Q',
      queue: 'Q_express',
      substate: 10,
      exitStatus: null,
      family: 'pbspro',
      comment: 'Not Running: Node is in an ineligible state: offline',
      account: null,
    })
    expect(queued.createdAt?.toISOString()).toBe('2013-04-09T15:01:47.000Z')
    expect(queued.resourceList.select).toBe('15:ncpus=16')

    const running = byId(aiida, '69301.mycluster')
    expect(running).toMatchObject({ nativeState: 'R', account: 'lsu', execHosts: ['b141', 'b142', 'b143', 'b144'] })
    expect(running.depend).toBe('afterok:69299.mycluster@mycluster.cluster,beforeok:69302.mycluster@mycluster.cluster')
    // a variable whose value holds a comma: `module=() {  eval ...,}`
    expect(running.variables.module).toBe('() {  eval `/usr/bin/modulecmd bash $*`,}')
    const [observation] = toPbsJobObservations([running])
    expect(observation).toMatchObject({
      jobId: '69301.mycluster',
      state: 'running',
      exitCode: null,
      endedAt: null,
      name: 'Cu-dbp',
      nodes: ['b141', 'b142', 'b143', 'b144'],
    })
    expect(observation?.startedAt?.toISOString()).toBe('2013-04-20T01:36:59.000Z')
    expect(observation?.usage).toEqual({
      elapsedSeconds: 64 * 3_600 + 26 * 60 + 16,
      cpuSeconds: 4_090 * 3_600 + 56 * 60 + 3,
      maxRssMb: 13_378_420 / 1024,
      allocTres: { cpu: 64, node: 4 },
    })

    const [held] = toPbsJobObservations([byId(aiida, '69302.mycluster')])
    expect(held).toMatchObject({
      state: 'pending',
      nativeState: 'H',
      reason: 'waiting for its dependencies (system hold)',
    })
  })

  it('reads 8-space continuations (a capture that expanded the TAB) and sizes in bytes', () => {
    const gadi = parseQstatText(read('pbspro', 'qstat_f', 'pysqa-gadi_nci_qstat_f_2023.txt'))
    expect(gadi.map((record) => record.jobId)).toEqual(['80005196.gadi-pbs', '80005197.gadi-pbs', '80005198.gadi-pbs'])
    const first = byId(gadi, '80005196.gadi-pbs')
    expect(first.resourceList.select).toBe('2:ncpus=48:mpiprocs=48:mem=34359738368:job_tags=normal:jobfs=104857600')
    expect(first.attributes.Error_Path).toBe('gadi.nci.org.au:/scratch/a01/asd562/VASP/test/test1/test1.e80005196')
    expect(first.account).toBe('a01')
    expect(toPbsJobObservations([first])[0]?.usage?.allocTres).toEqual({ cpu: 96, mem: 65_536, node: 2 })
  })

  it('reads a finished job from qstat -xf with its exit status, end time and usage', () => {
    const [record] = parseQstatText(read('pbspro', 'qstat_xf', 'hpc_scripts-qut_aqua_qstat_xf_finished.txt'), {
      timeZone: 'Australia/Brisbane',
    })
    expect(record).toMatchObject({
      jobId: '10592488.aqua',
      nativeState: 'F',
      exitStatus: 0,
      substate: 92,
      family: 'pbspro',
    })
    expect(record?.variables.PBS_O_WORKDIR).toBe(
      '/mnt/weka/scratch/microbiome/woodcrob/worm_binchicken/coassemble/coassemble/coassembly_18/recover',
    )
    const [observation] = toPbsJobObservations(record === undefined ? [] : [record])
    expect(observation).toMatchObject({ state: 'succeeded', exitCode: 0, signal: null, nodes: ['cpu1n025'] })
    expect(observation?.startedAt?.toISOString()).toBe('2025-08-22T11:04:04.000Z')
    expect(observation?.endedAt?.toISOString()).toBe('2025-08-23T07:33:03.000Z')
    expect(observation?.usage).toEqual({
      elapsedSeconds: 20 * 3_600 + 28 * 60 + 57,
      cpuSeconds: 415 * 3_600 + 39 * 60 + 1,
      maxRssMb: 26_482_476 / 1024,
      allocTres: { cpu: 24, mem: 131_072, node: 1 },
    })
  })
})

describe('parseQstatText: Torque', () => {
  it('reads a walltime kill (exit_status -11) as timeout with its start and completion times', () => {
    const records = parseQstatText(read('torque', 'qstat_f', 'vsc-genius_qstat_f_2018_subset.txt'), {
      timeZone: 'Europe/Brussels',
    })
    const record = byId(records, '50318782.tier2-p-moab-2.tier2.hpc.kuleuven.be')
    expect(record).toMatchObject({ nativeState: 'C', exitStatus: -11, family: 'torque', account: 'lp_esat_imagen' })
    const [observation] = toPbsJobObservations([record])
    expect(observation).toMatchObject({
      state: 'timeout',
      exitCode: -11,
      reason: 'JOB_EXEC_OVERLIMIT_WT (-11): exceeded a walltime limit',
      nodes: ['r22i27n23'],
      name: 'freesurfer_skylake_4days',
    })
    expect(observation?.startedAt?.toISOString()).toBe('2020-04-20T12:32:53.000Z')
    expect(observation?.endedAt?.toISOString()).toBe('2020-04-24T12:32:59.000Z')
    expect(observation?.usage).toMatchObject({ elapsedSeconds: 96 * 3_600 + 5, allocTres: { cpu: 36, node: 1 } })
  })

  it('reads ids without a server suffix, dependency holds and signal deaths', () => {
    const records = parseQstatText(read('torque', 'qstat_f', 'aiida-torque_qstat_f_ichec_2015.txt'))
    expect(records).toHaveLength(10)
    const observations = toPbsJobObservations(records)
    expect(observations.find((o) => o.jobId === '549159')).toMatchObject({ state: 'pending', nativeState: 'H' })
    expect(observations.find((o) => o.jobId === '546437')).toMatchObject({
      state: 'failed',
      exitCode: 271,
      signal: 'SIGTERM',
    })
    expect(observations.find((o) => o.jobId === '555716')?.usage?.allocTres).toEqual({ cpu: 96, node: 4 })
  })

  it('keeps a multi-line sched_hint whose raw lines are not indented', () => {
    const records = parseQstatText(read('torque', 'qstat_f', 'aiida-torque_qstat_f_ichec_2015.txt'))
    const hint = byId(records, '543984').attributes.sched_hint ?? ''
    expect(
      hint.startsWith('Post job file processing error; job 543984 on host r2i7n17\n\nUnable to copy file 543984.OU'),
    ).toBe(true)
    expect(hint).toContain('\n*** error from copy\n')
    expect(hint.endsWith('*** end error output')).toBe(true)
  })

  it('starts at a leading blank line and joins continuations that split paths', () => {
    const records = parseQstatText(read('torque', 'qstat_f', 'vsc-thinking_qstat_f_2014_subset.txt'))
    const first = byId(records, '20025307.icts-p-svcs-1')
    expect(first.attributes.Error_Path).toBe(
      'r6i0n1.icts.leuven.vsc:/vsc-mounts/leuven-user/307/vsc30772/Tai/3/tai-3.e20025307',
    )
    // nodes=20:ivybridge: 20 nodes of one processor each
    expect(toPbsJobObservations([first])[0]?.usage?.allocTres).toEqual({ cpu: 20, node: 20 })
  })
})

describe('parseQstatText: the Slurm Torque wrappers (testbed capture)', () => {
  const live = parseQstatText(readFileSync(join(WRAPPERS, 'qstat-f-live.txt'), 'utf8'))
  const final = parseQstatText(readFileSync(join(WRAPPERS, 'qstat-f-final.txt'), 'utf8'))

  it('reads TAB-indented attributes and bare Slurm ids', () => {
    expect(live.map((record) => [record.jobId, record.name, record.nativeState])).toEqual([
      ['43', 'rpo-pbsfx-ok', 'C'],
      ['44', 'rpo-pbsfx-fail', 'C'],
      ['45', 'rpo-pbsfx-sleep', 'R'],
      ['46', 'rpo-pbsfx-held', 'Q'],
      ['47', 'rpo-9c347096', 'R'],
    ])
    expect(byId(live, '45')).toMatchObject({
      account: 'vision',
      queue: 'cpu',
      execHosts: ['cpu1'],
      walltimeLimitSeconds: 300,
    })
  })

  it('maps what the wrappers say, and no more: no exit status, so a completed job is unknown', () => {
    const observations = toPbsJobObservations(live)
    expect(observations.map((o) => o.state)).toEqual(['unknown', 'unknown', 'running', 'pending', 'running'])
    // the wrapper prints a held job as Q; only Slurm itself says it is held (JobHeldUser)
    expect(observations[3]?.reason).toBeNull()
    expect(
      toPbsJobObservations(final).every((o) => o.state === 'unknown' && o.reason === 'finished without an exit status'),
    ).toBe(true)
    // the wrapper's ctime is Slurm's end time: the running job's is its expected end
    expect(byId(live, '45').createdAt?.toISOString()).toBe('2026-11-28T14:19:10.000Z')
  })
})

describe('parseQstatText: structure errors', () => {
  it('accepts empty output as no jobs', () => {
    expect(parseQstatText('')).toEqual([])
    expect(parseQstatText('\n\n')).toEqual([])
  })

  it('names the line and job of a malformed value', () => {
    const text = 'Job Id: 7.srv\n    job_state = F\n    Exit_status = zero\n'
    expect(() => parseQstatText(text)).toThrow(/line 1: job 7\.srv, Exit_status: /)
    expect(() => parseQstatText('Job Id: 7.srv\n    Job_Name = x\n')).toThrow(/job 7\.srv has no job_state/)
    expect(() => parseQstatText('Job Id: 7.srv\n    job_state = R\n    ctime = yesterday\n')).toThrow(ParseError)
    expect(() => parseQstatText('Job Id: seven\n    job_state = R\n')).toThrow(/not a PBS job id/)
    expect(() => parseQstatText('Job Id: 7.srv\n\tnot an attribute line\n')).toThrow(/line 2: not an attribute/)
  })

  it('splits blocks and keeps attribute names as printed', () => {
    const [block] = splitQstatTextBlocks('Job Id: 1.s\n    Resource_List.walltime = 01:00:00\n    comment = a = b\n')
    expect(block).toEqual({
      jobId: '1.s',
      lineNumber: 1,
      attributes: { 'Resource_List.walltime': '01:00:00', comment: 'a = b' },
    })
  })
})

describe('findPbsJobsBySubmissionKey', () => {
  it('matches RPO_SUBMISSION_KEY first and the job name otherwise; the newest job wins', () => {
    const text = [
      'Job Id: 10.srv',
      '    Job_Name = rpo-1a2b3c4d',
      '    job_state = R',
      '    ctime = Mon Jan  1 10:00:00 2024',
      '    Variable_List = PBS_O_HOME=/home/a,RPO_SUBMISSION_KEY=r20240101-aaaa.train.1',
      'Job Id: 11.srv',
      '    Job_Name = r1.eval.1',
      '    job_state = Q',
      '    ctime = Mon Jan  1 10:00:00 2024',
      'Job Id: 12.srv',
      '    Job_Name = r1.eval.1',
      '    job_state = Q',
      '    ctime = Mon Jan  1 11:00:00 2024',
      '',
    ].join('\n')
    const records = parseQstatText(text)
    const keys = ['r20240101-aaaa.train.1', 'r1.eval.1', 'r1.other.1'].map(asSubmissionKey)
    expect(findPbsJobsBySubmissionKey(records, keys)).toEqual(
      new Map([
        [keys[0], '10.srv'],
        [keys[1], '12.srv'],
      ]),
    )
    expect(toPbsJobObservations(records)[0]?.name).toBe('r20240101-aaaa.train.1')
  })
})
