import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { toPbsJobObservations } from '../../../adapters/pbs/pbs-job-record.js'
import { parseQstatXml } from '../../../adapters/pbs/qstat-xml-parser.js'
import { ParseError } from '../../../src/core/errors.js'
import { JOB_STATES } from '../../../src/core/job/job-state.js'
import { sharedFixture } from '../../support/shared-fixtures.js'

const read = (file: string) => readFileSync(sharedFixture('torque', 'qstat_x', file), 'utf8')
const observe = (file: string) => toPbsJobObservations(parseQstatXml(read(file)))

describe('parseQstatXml on every real capture', () => {
  it.each(readdirSync(sharedFixture('torque', 'qstat_x')))(
    '%s: one record per <Job>, well-formed observations',
    (file) => {
      const text = read(file)
      const records = parseQstatXml(text)
      expect(records.length).toBe(text.match(/<Job>/g)?.length)
      for (const record of records) expect(record.family).toBe('torque')
      for (const observation of toPbsJobObservations(records)) {
        expect(JOB_STATES).toContain(observation.state)
        expect(observation.jobId).toMatch(/^\d+(\[\d*\])?\.[A-Za-z0-9._-]+$/)
      }
    },
  )

  it('reads a completed job with epoch times, usage, nodes spec and a multi-line sched_hint', () => {
    const [record] = parseQstatXml(read('batcheuphoria-qstat_x_completed_sched_hint.xml'))
    expect(record).toMatchObject({ jobId: '4564045.pbsserver', nativeState: 'C', exitStatus: 0, queue: 'otp' })
    expect(record?.depend).toBe(
      'afterok:6059780.pbsserver@pbsserver:6059781.pbsserver@pbsserver,beforeok:6059788.pbsserver@pbsserver',
    )
    expect(record?.attributes.sched_hint).toContain('on host denbi5-int/1\n\nUnable to copy file')
    expect(record?.createdAt?.toISOString()).toBe('2018-04-05T14:39:18.000Z')
    const [observation] = toPbsJobObservations(record === undefined ? [] : [record])
    expect(observation).toMatchObject({
      jobId: '4564045.pbsserver',
      state: 'succeeded',
      exitCode: 0,
      nodes: ['denbi5-int'],
      name: 'r180405_163953553_stds_snvJoinVcfFiles',
    })
    expect(observation?.startedAt?.toISOString()).toBe('2018-04-05T14:39:43.000Z')
    expect(observation?.endedAt?.toISOString()).toBe('2018-04-05T14:39:54.000Z')
    // nodes=1:ppn=3 is the allocation; the ncpus=1 beside it is a default
    expect(observation?.usage).toEqual({
      elapsedSeconds: 6,
      cpuSeconds: 0,
      maxRssMb: 6_064 / 1024,
      allocTres: { cpu: 3, mem: 1_024, node: 1 },
    })
  })

  it('reads array parents and children, and a running job that was retried', () => {
    const observations = observe('fyrd-stanford_qstat_x_arrays.xml')
    expect(observations.map((o) => [o.jobId, o.state])).toEqual([
      ['665199.superserver.stanford.edu', 'running'],
      ['667999.superserver.stanford.edu', 'pending'],
      ['673174.superserver.stanford.edu', 'succeeded'],
      ['673175[].superserver.stanford.edu', 'unknown'],
      ['673175[19].fruster.stanford.edu', 'succeeded'],
      ['673175[20].fruster.stanford.edu', 'succeeded'],
    ])
    // exit_status -3 (JOB_EXEC_RETRY) of an earlier start does not end a running job
    expect(observations[0]).toMatchObject({
      exitCode: -3,
      endedAt: null,
      usage: { elapsedSeconds: 335 * 3_600 + 34 * 60 + 49 },
    })
    expect(parseQstatXml(read('fyrd-stanford_qstat_x_arrays.xml'))[4]?.attributes.job_array_id).toBe('19')
  })

  it('flattens nested elements and keeps a server port in the server name', () => {
    const [record] = parseQstatXml(read('osc_machete-oakley_qstat_x_queued.xml'))
    expect(record?.attributes['Walltime.Remaining']).toBe('3600')
    expect(record?.attributes.server).toBe('opt-batch.osc.edu:15001')
    expect(toPbsJobObservations(record === undefined ? [] : [record])[0]).toMatchObject({
      state: 'pending',
      startedAt: null,
    })
  })

  it('reads a document with an XML declaration', () => {
    const observations = observe('trex_batchsystem-intel_devcloud_qstat_f_x.xml')
    expect(observations).toHaveLength(6)
    expect(observations[0]).toMatchObject({
      jobId: '993274.v-qsvr-1.aidevcloud',
      state: 'running',
      nodes: ['s001-n021', 's001-n064'],
      usage: { elapsedSeconds: 380, cpuSeconds: 23 * 60 + 37, allocTres: { cpu: 4, node: 2 } },
    })
  })
})

describe('parseQstatXml: structure', () => {
  it('accepts no output and an empty <Data> as no jobs (Torque < 6.1 printed nothing, TRQ-3622)', () => {
    expect(parseQstatXml('')).toEqual([])
    expect(parseQstatXml('<Data></Data>')).toEqual([])
    expect(parseQstatXml('<Data/>\n')).toEqual([])
  })

  it('tolerates a bare & copied into a value', () => {
    const [record] = parseQstatXml(
      '<Data><Job><Job_Id>1.s</Job_Id><job_state>Q</job_state><Job_Name>a&b &amp; c</Job_Name></Job></Data>',
    )
    expect(record?.name).toBe('a&b & c')
  })

  it('refuses malformed XML with its position, and other shapes', () => {
    expect(() => parseQstatXml('<Data><Job><Job_Id>1.s</Job_Id></Data>')).toThrow(/malformed XML at line 1/)
    expect(() => parseQstatXml('Job Id: 1.s\n    job_state = R\n')).toThrow(ParseError)
    expect(() => parseQstatXml('<Nodes><Job/></Nodes>')).toThrow(/root element is not <Data>/)
    expect(() => parseQstatXml('<Data><Node><name>n</name></Node></Data>')).toThrow(/unexpected <Node>/)
    expect(() => parseQstatXml('<Data><Job><job_state>R</job_state></Job></Data>')).toThrow(/has no <Job_Id>/)
    expect(() =>
      parseQstatXml(
        '<Data><Job><Job_Id>1.s</Job_Id><job_state>R</job_state><queue>a</queue><queue>b</queue></Job></Data>',
      ),
    ).toThrow(/<queue> is repeated/)
    expect(() =>
      parseQstatXml('<Data><Job><Job_Id>1.s</Job_Id><job_state>C</job_state><exit_status>x</exit_status></Job></Data>'),
    ).toThrow(/job 1\.s, exit_status/)
  })

  it('refuses a DOCTYPE instead of expanding its entities', () => {
    const xml =
      '<!DOCTYPE Data [<!ENTITY a "aaaaaaaaaa">]><Data><Job><Job_Id>1.s</Job_Id><job_state>&a;</job_state></Job></Data>'
    expect(() => parseQstatXml(xml)).toThrow(/DOCTYPE/)
  })
})
