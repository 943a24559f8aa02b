import { describe, expect, it } from 'vitest'
import {
  buildSacctArgv,
  buildSacctByNameArgv,
  buildSbatchArgv,
  buildScancelArgv,
  buildScancelSignalArgv,
  buildScontrolArgv,
  buildScontrolNiceArgv,
  buildSinfoArgv,
  buildSqueueArgv,
  buildSqueueByNameArgv,
  parseSbatchParsable,
} from '../../../adapters/slurm/slurm-commands.js'
import { ParseError, RpoError } from '../../../src/core/errors.js'
import { asNativeJobId, asSubmissionKey } from '../../../src/scheduler/scheduler-adapter.js'

const ids = (...values: string[]) => values.map(asNativeJobId)
const US = '\u001f'

describe('Slurm argv builders', () => {
  it('sbatch: parsable, from a file or stdin, optionally held', () => {
    expect(buildSbatchArgv({ scriptPath: '/home/u/rpo/job.sbatch' })).toEqual([
      'sbatch',
      '--parsable',
      '/home/u/rpo/job.sbatch',
    ])
    expect(buildSbatchArgv()).toEqual(['sbatch', '--parsable'])
    expect(buildSbatchArgv({ hold: true })).toEqual(['sbatch', '--parsable', '--hold'])
    expect(() => buildSbatchArgv({ scriptPath: '--wrap=id' })).toThrow(RpoError)
  })

  it('squeue: all states of the given jobs in the rpo format, with standard timestamps', () => {
    const argv = buildSqueueArgv(ids('1', '2_3', '4_[1-3]'))
    // --array: one line per array task, pending ones included
    expect(argv.slice(0, 7)).toEqual([
      'env',
      'SLURM_TIME_FORMAT=standard',
      'SLURM_BITSTR_LEN=0',
      'squeue',
      '--noheader',
      '--array',
      '--states=all',
    ])
    expect(argv[7]).toBe(
      `--format=%i${US}%A${US}%F${US}%K${US}%T${US}%r${US}%j${US}%M${US}%l${US}%S${US}%V${US}%e${US}%N${US}%P${US}%a${US}%D${US}%C${US}%b`,
    )
    expect(argv[8]).toBe('--jobs=1,2_3,4_[1-3]')
    expect(buildSqueueByNameArgv([asSubmissionKey('run1.train.1'), asSubmissionKey('run1.eval.1')]).at(-1)).toBe(
      '--name=run1.train.1,run1.eval.1',
    )
  })

  it('sacct: parsable2 with the unit separator, steps kept, no --duplicates', () => {
    const argv = buildSacctArgv(ids('7', '8'))
    expect(argv).toEqual([
      'env',
      'SLURM_TIME_FORMAT=standard',
      'SLURM_BITSTR_LEN=0',
      'sacct',
      '--parsable2',
      '--noheader',
      `--delimiter=${US}`,
      '--format=JobID,JobIDRaw,JobName,State,Reason,ExitCode,Submit,Start,End,ElapsedRaw,Timelimit,AllocTRES,TotalCPU,MaxRSS,NodeList,Account,Partition,TRESUsageInTot',
      '--jobs=7,8',
    ])
    expect(buildSacctByNameArgv([asSubmissionKey('k1')], { lookbackDays: 14 }).slice(-3)).toEqual([
      '--allocations',
      '--starttime=now-14days',
      '--name=k1',
    ])
    expect(() => buildSacctByNameArgv([asSubmissionKey('k1')], { lookbackDays: 0 })).toThrow(RpoError)
  })

  it('scontrol: one call for many jobs', () => {
    expect(buildScontrolArgv('hold', ids('1', '2', '3'))).toEqual(['scontrol', 'hold', '1,2,3'])
    expect(buildScontrolArgv('release', ids('1'))).toEqual(['scontrol', 'release', '1'])
    expect(buildScontrolArgv('requeue', ids('4', '5'))).toEqual(['scontrol', 'requeue', '4,5'])
    expect(buildScontrolArgv('requeuehold', ids('6'))).toEqual(['scontrol', 'requeuehold', '6'])
    expect(buildScontrolNiceArgv(ids('1', '2'), 100)).toEqual(['scontrol', 'update', 'JobId=1,2', 'Nice=100'])
    expect(() => buildScontrolNiceArgv(ids('1'), 1.5)).toThrow(RpoError)
  })

  it('scancel: many jobs, and signals for the batch shell', () => {
    expect(buildScancelArgv(ids('1', '2'))).toEqual(['scancel', '1', '2'])
    expect(buildScancelSignalArgv(ids('3'), 'USR2')).toEqual(['scancel', '--signal=USR2', '--batch', '3'])
    expect(buildScancelSignalArgv(ids('3'), 'TERM', 'all')).toEqual(['scancel', '--signal=TERM', '--full', '3'])
    expect(buildScancelSignalArgv(ids('3'), 'TERM', 'steps')).toEqual(['scancel', '--signal=TERM', '3'])
    expect(() => buildScancelSignalArgv(ids('3'), 'USR2; reboot')).toThrow(RpoError)
  })

  it('sinfo: one line per node and partition', () => {
    expect(buildSinfoArgv()).toEqual([
      'sinfo',
      '--noheader',
      '--Node',
      `--format=%N${US}%P${US}%c${US}%m${US}%G${US}%T${US}%f`,
    ])
  })

  it('refuses empty lists, which would act on every job', () => {
    expect(() => buildSqueueArgv([])).toThrow(RpoError)
    expect(() => buildSacctArgv([])).toThrow(RpoError)
    expect(() => buildScancelArgv([])).toThrow(RpoError)
    expect(() => buildScontrolArgv('hold', [])).toThrow(RpoError)
    expect(() => buildSqueueByNameArgv([])).toThrow(RpoError)
  })

  it('refuses ids and names that are not what they claim', () => {
    for (const bad of ['', '12;rm', '1.batch', '-1', '1 2', '$(id)']) {
      expect(() => buildScancelArgv(ids(bad)), bad).toThrow(RpoError)
      expect(() => buildSqueueArgv(ids(bad)), bad).toThrow(RpoError)
    }
    expect(() => buildSqueueByNameArgv([asSubmissionKey('a,b')])).toThrow(RpoError)
    expect(() => buildSacctByNameArgv([asSubmissionKey('run/1')], { lookbackDays: 1 })).toThrow(RpoError)
  })
})

describe('parseSbatchParsable', () => {
  it('reads a job id with or without a cluster', () => {
    expect(parseSbatchParsable('123\n')).toEqual({ jobId: '123', cluster: null })
    expect(parseSbatchParsable('456;dawn\n')).toEqual({ jobId: '456', cluster: 'dawn' })
    expect(parseSbatchParsable('site notice: quota at 90%\n789\n')).toEqual({ jobId: '789', cluster: null })
  })

  it('throws ParseError without a job id', () => {
    for (const bad of ['', '\n', 'Submitted batch job 12', '12abc', '123\nwarning: something']) {
      expect(() => parseSbatchParsable(bad), bad).toThrow(ParseError)
    }
  })
})
