import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  assertPbsJobId,
  buildPbsDependSpec,
  buildPbsnodesArgv,
  buildQalterPriorityArgv,
  buildQdelArgv,
  buildQholdArgv,
  buildQrlsArgv,
  buildQsigArgv,
  buildQstatAllArgv,
  buildQstatArgv,
  buildQstatVersionArgv,
  buildQsubArgv,
  parseQsubOutput,
} from '../../../adapters/pbs/pbs-commands.js'
import { detectPbsFlavor, pbsDialectFor } from '../../../adapters/pbs/pbs-flavors.js'
import { ParseError, RpoError } from '../../../src/core/errors.js'

const WRAPPERS = join(import.meta.dirname, 'fixtures', 'slurm-torque-wrappers')
const PBSPRO = pbsDialectFor('pbspro', '2022.1.1')
const TORQUE = pbsDialectFor('torque', '6.1.3')
const WRAPPER = detectPbsFlavor(readFileSync(join(WRAPPERS, 'qstat-version.txt'), 'utf8'))

describe('PBS job ids', () => {
  it('accepts the spellings qsub and qstat print', () => {
    for (const id of [
      '1234',
      '1234.server',
      '1234.srv.example.org',
      '1234[].server',
      '1234[7].server',
      '673175[19].fruster.stanford.edu',
    ]) {
      expect(assertPbsJobId(id)).toBe(id)
    }
  })

  it('refuses anything else before it reaches a command line', () => {
    for (const id of ['', 'abc', '12 34', '12;rm -rf /', '-1', '12.srv/x', '12[1-3].srv', '$(id)', '12.', '12.srv\n']) {
      expect(() => assertPbsJobId(id), JSON.stringify(id)).toThrow(RpoError)
    }
  })
})

describe('PBS argv builders', () => {
  it('qsub: script path last, optionally held and with command-line dependencies', () => {
    expect(buildQsubArgv('/home/u/.rpo/job.pbs')).toEqual(['qsub', '/home/u/.rpo/job.pbs'])
    expect(
      buildQsubArgv('/home/u/job.pbs', {
        hold: true,
        dependencies: [
          { jobId: '11.srv', condition: 'succeeded' },
          { jobId: '12.srv', condition: 'failed' },
        ],
      }),
    ).toEqual(['qsub', '-h', '-W', 'depend=afterok:11.srv,afternotok:12.srv', '/home/u/job.pbs'])
    expect(() => buildQsubArgv('-W depend=x')).toThrow(RpoError)
    expect(() => buildQsubArgv('')).toThrow(RpoError)
  })

  it('depend specs group ids by condition and drop duplicates', () => {
    expect(
      buildPbsDependSpec([
        { jobId: '1.s', condition: 'succeeded' },
        { jobId: '3.s', condition: 'finished' },
        { jobId: '2.s', condition: 'succeeded' },
        { jobId: '1.s', condition: 'succeeded' },
      ]),
    ).toBe('afterok:1.s:2.s,afterany:3.s')
    expect(buildPbsDependSpec([])).toBeNull()
    expect(() => buildPbsDependSpec([{ jobId: '1.s:2', condition: 'failed' }])).toThrow(RpoError)
  })

  it('qstat: one call for many ids, in the dialect format, finished jobs included where possible', () => {
    expect(buildQstatArgv(PBSPRO, ['1.s', '2.s'])).toEqual(['qstat', '-f', '-F', 'json', '-x', '1.s', '2.s'])
    expect(buildQstatArgv(pbsDialectFor('pbspro', '18.1.0'), ['1.s'])).toEqual(['qstat', '-f', '-x', '1.s'])
    expect(buildQstatArgv(TORQUE, ['1.s'])).toEqual(['qstat', '-x', '1.s'])
    expect(buildQstatArgv(WRAPPER, ['45', '46'])).toEqual(['qstat', '-f', '45', '46'])
    expect(() => buildQstatArgv(PBSPRO, [])).toThrow(/at least one job id/)
    expect(buildQstatAllArgv(PBSPRO)).toEqual(['qstat', '-f', '-F', 'json', '-x'])
    expect(buildQstatAllArgv(TORQUE)).toEqual(['qstat', '-x'])
  })

  it('hold, release and delete take many ids and never none', () => {
    expect(buildQholdArgv(['1.s', '2.s'])).toEqual(['qhold', '1.s', '2.s'])
    expect(buildQrlsArgv(['1.s'])).toEqual(['qrls', '1.s'])
    expect(buildQdelArgv(['1.s'])).toEqual(['qdel', '1.s'])
    for (const build of [buildQholdArgv, buildQrlsArgv, buildQdelArgv]) {
      expect(() => build([])).toThrow(RpoError)
      expect(() => build(['1.s', 'all'])).toThrow(RpoError)
    }
  })

  it('qsig and qalter -p validate the signal and the priority range', () => {
    expect(buildQsigArgv(['1.s'], 'SIGUSR1')).toEqual(['qsig', '-s', 'SIGUSR1', '1.s'])
    expect(buildQsigArgv(['1.s', '2.s'], 'USR2')).toEqual(['qsig', '-s', 'USR2', '1.s', '2.s'])
    expect(buildQsigArgv(['1.s'], '15')).toEqual(['qsig', '-s', '15', '1.s'])
    expect(() => buildQsigArgv(['1.s'], 'USR1;id')).toThrow(RpoError)
    expect(() => buildQsigArgv([], 'USR1')).toThrow(RpoError)
    expect(buildQalterPriorityArgv(['1.s'], -1024)).toEqual(['qalter', '-p', '-1024', '1.s'])
    expect(buildQalterPriorityArgv(['1.s'], 1023)).toEqual(['qalter', '-p', '1023', '1.s'])
    expect(() => buildQalterPriorityArgv(['1.s'], 1024)).toThrow(RpoError)
    expect(() => buildQalterPriorityArgv(['1.s'], 0.5)).toThrow(RpoError)
  })

  it('pbsnodes and qstat --version per dialect', () => {
    expect(buildPbsnodesArgv(PBSPRO)).toEqual(['pbsnodes', '-av', '-F', 'json'])
    expect(buildPbsnodesArgv(TORQUE)).toEqual(['pbsnodes', '-x'])
    expect(buildPbsnodesArgv(WRAPPER)).toEqual(['pbsnodes', '-a'])
    expect(buildQstatVersionArgv()).toEqual(['qstat', '--version'])
  })
})

describe('parseQsubOutput', () => {
  it('reads full PBS ids, array ids, and the bare ids of the Slurm wrappers', () => {
    expect(parseQsubOutput('1234.pbs-srv\n')).toBe('1234.pbs-srv')
    expect(parseQsubOutput('notice: project a01 has 10 SU left\n1234.gadi-pbs\n')).toBe('1234.gadi-pbs')
    expect(parseQsubOutput('1235[].server.example.org\n')).toBe('1235[].server.example.org')
    expect(parseQsubOutput(readFileSync(join(WRAPPERS, 'qsub-ok.txt'), 'utf8'))).toBe('43')
    expect(parseQsubOutput(readFileSync(join(WRAPPERS, 'qsub-rendered.txt'), 'utf8'))).toBe('47')
  })

  it('refuses an answer without an id', () => {
    expect(() => parseQsubOutput('')).toThrow(ParseError)
    expect(() => parseQsubOutput('qsub: Unknown queue\n')).toThrow(ParseError)
    expect(() => parseQsubOutput(readFileSync(join(WRAPPERS, 'qsub-bad.txt'), 'utf8'))).toThrow(ParseError)
  })
})
