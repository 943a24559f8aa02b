import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  parseGpuUtil,
  parseSacct,
  parseSacctJobId,
  SACCT_FIELDS,
  type SacctRecord,
  sacctToJobObservations,
} from '../../../adapters/slurm/sacct-parser.js'
import { ParseError } from '../../../src/core/errors.js'
import { sharedFixture } from '../../support/shared-fixtures.js'
import { testbedCapture } from './testbed-captures.js'

const SHARED = sharedFixture('slurm', 'sacct')
const TESTBED = join(import.meta.dirname, 'fixtures', 'testbed-22.05')

// field lists from ../shared/fixtures/SOURCES.md (the command each file came from)
const GC3PIE = 'jobid,exitcode,state,ncpus,elapsed,totalcpu,submit,start,end,maxrss,maxvmsize'.split(',')
const GC3PIE_RESERVED =
  'jobid,ncpus,cputimeraw,elapsed,submit,eligible,reserved,start,end,exitcode,maxrss,maxvmsize,totalcpu'.split(',')
const HB_JOBINFO =
  'JobID,JobName,User,Partition,NodeList,NNodes,NCPUs,NTasks,State,Submit,Start,End,Timelimit,Elapsed,TotalCPU,CPUTime,UserCPU,SystemCPU,ReqMem,MaxRSS,MaxVMSize,ReqTRES,AllocTRES,TRESUsageInMax,TRESUsageInTot,TRESUsageOutTot,MaxDiskRead,MaxDiskWrite,MaxRSSNode,MaxRSSTask,MaxVMSizeNode,MaxVMSizeTask,MaxDiskReadNode,MaxDiskReadTask,MaxDiskWriteNode,MaxDiskWriteTask,Comment'.split(
    ',',
  )
const SLURM_JOBINFO =
  'JobID,JobName,User,Partition,NodeList,NNodes,ncpus,NTasks,State,Submit,start,end,timelimit,elapsed,TotalCPU,UserCPU,SystemCPU,ReqMem,MaxRSS,TRESUsageInTot,TRESUsageOutTot,MaxDiskWrite,MaxDiskRead,MaxRSSNode,MaxDiskWriteNode,MaxDiskReadNode,Comment'.split(
    ',',
  )
const OOD =
  'User,Group,JobId,JobName,Elapsed,ReqMem,AllocCPUS,ReqCPUS,Timelimit,State,TotalCPU,MaxRSS,Partition,Submit,Start,End,ReqTRES'.split(
    ',',
  )
const REPORTSEFF =
  'AdminComment,AllocCPUS,Elapsed,JobID,JobIDRaw,MaxRSS,NNodes,NTasks,ReqMem,State,Timelimit,TotalCPU'.split(',')
const XDMOD =
  'jobid,jobidraw,cluster,partition,qos,account,group,gid,user,uid,submit,eligible,start,end,elapsed,exitcode,state,nnodes,ncpus,reqcpus,reqmem,reqtres,alloctres,timelimit,nodelist,jobname'.split(
    ',',
  )

interface FixtureFormat {
  readonly fields: readonly string[] | 'from-header'
  readonly delimiter: string
  /** The two gc3pie files use SLURM_TIME_FORMAT=relative, which the parser refuses on purpose. */
  readonly relativeTimes?: true
}

const FORMATS: Record<string, FixtureFormat> = {
  'gc3pie-cancelled_by_uid.txt': { fields: GC3PIE, delimiter: '|' },
  'gc3pie-fail_early.txt': { fields: GC3PIE, delimiter: '|' },
  'gc3pie-fractional_rusage_unige.txt': { fields: GC3PIE, delimiter: '|' },
  'gc3pie-node_fail.txt': { fields: GC3PIE, delimiter: '|' },
  'gc3pie-relative_negative_reserved_cscs.txt': { fields: GC3PIE_RESERVED, delimiter: '|', relativeTimes: true },
  'gc3pie-relative_time_format_cscs.txt': { fields: GC3PIE, delimiter: '|', relativeTimes: true },
  'gc3pie-reserved_overflow_49710days.txt': { fields: GC3PIE_RESERVED, delimiter: '|' },
  'gc3pie-running_end_unknown.txt': { fields: GC3PIE, delimiter: '|' },
  'gc3pie-start_before_submit.txt': {
    fields: 'jobid,ncpus,cputimeraw,elapsed,submit,start,end,exitcode,maxrss,maxvmsize,totalcpu'.split(','),
    delimiter: '|',
  },
  'gc3pie-timeout.txt': { fields: GC3PIE, delimiter: '|' },
  'hb_jobinfo-sacct_parsable_snowman_delim_steps.txt': { fields: HB_JOBINFO, delimiter: '☃' },
  'ood_core-sacct_P_unitsep_allocations.txt': { fields: OOD, delimiter: '\u001f' },
  'reportseff-array_task_jobidraw.txt': {
    fields: REPORTSEFF.filter((field) => field !== 'Timelimit'),
    delimiter: '^|^',
  },
  'reportseff-cancelled_by_uid_6day_limit.txt': { fields: REPORTSEFF, delimiter: '^|^' },
  'reportseff-caret_pipe_delim_completed.txt': { fields: REPORTSEFF, delimiter: '^|^' },
  'reportseff-failed_steps.txt': { fields: REPORTSEFF, delimiter: '^|^' },
  'slurm2sql-aalto_triton_sacct_P_2019.txt': { fields: 'from-header', delimiter: '|' },
  'slurm_jobinfo-sacct_parsable_snowman_oldreqmem.txt': { fields: SLURM_JOBINFO, delimiter: '☃' },
  'torchx-sacct_parsable2_failed_exit2.txt': { fields: 'from-header', delimiter: '|' },
  'torchx-sacct_parsable2_hetjob_default_fields.txt': { fields: 'from-header', delimiter: '|' },
  'trex_batchsystem-sacct_X_P_format_ALL_pending.txt': { fields: 'from-header', delimiter: '|' },
  'xdmod-parsable2_job_arrays.txt': { fields: XDMOD, delimiter: '|' },
  'xdmod-parsable2_pozidriv_preempted_subset.txt': { fields: XDMOD, delimiter: '|' },
  'xdmod-parsable2_running_pending_unknown_start.txt': { fields: XDMOD, delimiter: '|' },
  'xdmod-parsable2_ubhpc_2015.txt': { fields: XDMOD, delimiter: '|' },
  'xdmod-parsable2_utf8_jobname.txt': { fields: XDMOD, delimiter: '|' },
}

function shared(file: string): SacctRecord[] {
  const format = FORMATS[file]
  if (format === undefined) throw new Error(`no format for ${file}`)
  return parseSacct(readFileSync(join(SHARED, file), 'utf8'), format.fields, { delimiter: format.delimiter })
}

function testbed(file: string): SacctRecord[] {
  return parseSacct(testbedCapture(file))
}

function row(records: readonly SacctRecord[], jobId: string, step: string | null = null): SacctRecord {
  const found = records.find((record) => record.jobId === jobId && record.step === step)
  if (found === undefined) throw new Error(`no row ${jobId}.${step}`)
  return found
}

function observation(records: readonly SacctRecord[], jobId: string) {
  const found = sacctToJobObservations(records).find((candidate) => candidate.jobId === jobId)
  if (found === undefined) throw new Error(`no observation for ${jobId}`)
  return found
}

describe('parseSacct on every shared sacct fixture', () => {
  const files = readdirSync(SHARED).filter((file) => file.endsWith('.txt'))

  it('knows the format of every file', () => {
    expect(files.sort()).toEqual(Object.keys(FORMATS).sort())
  })

  it.each(files)('%s', (file) => {
    const text = readFileSync(join(SHARED, file), 'utf8')
    const lines = text.split('\n').filter((line) => line.trim() !== '').length
    if (FORMATS[file]?.relativeTimes) {
      expect(() => shared(file)).toThrow(/SLURM_TIME_FORMAT/)
      return
    }
    const records = shared(file)
    const header = FORMATS[file]?.fields === 'from-header' ? 1 : 0
    expect(records).toHaveLength(lines - header)
    for (const record of records) {
      expect(record.jobId).toMatch(/^\d+/)
      if (record.nativeState !== null) expect(record.state).not.toBe('unknown')
    }
    expect(() => sacctToJobObservations(records)).not.toThrow()
  })
})

describe('parseSacct field by field', () => {
  it('reads CANCELLED by <uid> and takes the batch step signal when the job shows 0:0', () => {
    const records = shared('gc3pie-cancelled_by_uid.txt')
    expect(row(records, '123')).toMatchObject({ state: 'cancelled', nativeState: 'CANCELLED by 1000', exitCode: 0 })
    expect(row(records, '123', 'batch')).toMatchObject({ exitCode: 0, signal: 15, maxRssMb: 0 })
    expect(observation(records, '123')).toMatchObject({ state: 'cancelled', exitCode: 0, signal: 'SIGTERM' })
  })

  it('reads NODE_FAIL with a -2 step exit code', () => {
    const records = shared('gc3pie-node_fail.txt')
    expect(row(records, '123')).toMatchObject({ state: 'node_fail', exitCode: 1, signal: 0, elapsedSeconds: 4_907 })
    expect(row(records, '123', '0')).toMatchObject({ state: 'cancelled', exitCode: -2 })
    expect(observation(records, '123')).toMatchObject({ state: 'node_fail', exitCode: 1, signal: null })
  })

  it('reads TIMEOUT and a running job whose End is Unknown', () => {
    expect(observation(shared('gc3pie-timeout.txt'), '123')).toMatchObject({ state: 'timeout', exitCode: 0 })
    const running = observation(shared('gc3pie-running_end_unknown.txt'), '123')
    expect(running.state).toBe('running')
    expect(running.startedAt?.toISOString()).toBe('2016-03-31T09:33:25.000Z')
    expect(running.endedAt).toBeNull()
  })

  it('sums millisecond CPU times and keeps the largest step MaxRSS', () => {
    const records = shared('gc3pie-fractional_rusage_unige.txt')
    expect(row(records, '123').totalCpuSeconds).toBeCloseTo(3_490.42, 6)
    expect(row(records, '123', '9').maxRssMb).toBeCloseTo(72.5, 6)
    expect(observation(records, '123').usage).toMatchObject({ elapsedSeconds: 449, maxRssMb: 74_404 / 1024 })
  })

  it('reads the Hábrók sample: GPUs, day-long times, arrays, NODE_FAIL before start, PENDING', () => {
    const records = shared('hb_jobinfo-sacct_parsable_snowman_delim_steps.txt')
    const gpuJob = row(records, '7965768')
    expect(gpuJob).toMatchObject({
      state: 'cancelled',
      nativeState: 'CANCELLED by 10314909',
      partition: 'gpulong',
      nodeList: 'v100gpu16',
      timeLimitSeconds: 86_400 + 23 * 3_600 + 59 * 60,
      elapsedSeconds: 15 * 3_600 + 28 * 60 + 22,
      allocTres: { billing: 8, cpu: 8, 'gres/gpu:v100': 1, 'gres/gpu': 1, mem: 10_240, node: 1 },
    })
    expect(row(records, '7965768', 'batch').maxRssMb).toBeCloseTo(1_294_440 / 1024, 6)
    expect(row(records, '7818766').totalCpuSeconds).toBe(163 * 86_400 + 18 * 60 + 41)
    expect(observation(records, '7818766').nodes).toEqual(['omni2', 'omni3'])
    expect(row(records, '6708912')).toMatchObject({ state: 'timeout', timeLimitSeconds: 3 * 86_400 })
    expect(row(records, '5908801_3')).toMatchObject({ arrayJobId: '5908801', arrayTaskId: '3', state: 'succeeded' })
    const nodeFail = row(records, '7336818')
    expect(nodeFail).toMatchObject({ state: 'node_fail', startedAt: null, nodeList: null })
    expect(nodeFail.endedAt?.toISOString()).toBe('2024-03-19T22:45:33.000Z')
    expect(row(records, '7219441')).toMatchObject({ state: 'pending', startedAt: null, endedAt: null })
    expect(row(records, '8322514_33', 'extern')).toMatchObject({ state: 'running', step: 'extern' })
  })

  it('reads GPU utilisation from TRESUsageInTot where the cluster gathers it, and nothing where it does not', () => {
    const records = shared('hb_jobinfo-sacct_parsable_snowman_delim_steps.txt')
    // the busy step: cpu=15:33:58,…,gres/gpumem=20500736K,gres/gpuutil=90,mem=1294440K,… on one V100
    expect(row(records, '7965768', 'batch').gpuUtilPercent).toBe(90)
    expect(row(records, '7965768', 'extern').gpuUtilPercent).toBe(0)
    expect(row(records, '7965768').gpuUtilPercent).toBeNull()
    expect(observation(records, '7965768').usage).toMatchObject({
      gpuUtilPercent: 90,
      allocTres: expect.objectContaining({ 'gres/gpu': 1 }),
    })
    expect(observation(records, '7946767').usage?.gpuUtilPercent).toBe(54)
    // Peregrine's TRESUsageInTot has no gres/gpuutil: unknown, not 0
    const peregrine = shared('slurm_jobinfo-sacct_parsable_snowman_oldreqmem.txt')
    expect(peregrine.every((record) => record.gpuUtilPercent === null)).toBe(true)
    expect(sacctToJobObservations(peregrine).some((o) => o.usage?.gpuUtilPercent !== undefined)).toBe(false)
    expect(parseGpuUtil('cpu=00:00:02,gres/gpuutil=12.5,mem=0')).toBe(12.5)
    expect(() => parseGpuUtil('gres/gpuutil=lots')).toThrow(ParseError)
  })

  it('reads array tasks with their raw ids and ^|^ delimiters', () => {
    const records = shared('reportseff-array_task_jobidraw.txt')
    expect(row(records, '24220929_421', 'batch')).toMatchObject({
      jobIdRaw: '24221219.batch',
      arrayJobId: '24220929',
      arrayTaskId: '421',
      state: 'succeeded',
      totalCpuSeconds: 568.051,
    })
    expect(row(records, '24220929_421', 'batch').maxRssMb).toBeCloseTo(5_664_932 / 1024, 6)
    expect(row(records, '24220929_421', null).fields.ReqMem).toBe('16000Mn')
  })

  it('reads pending array ranges from xdmod', () => {
    const records = shared('xdmod-parsable2_job_arrays.txt')
    expect(records.map((record) => record.arrayTaskId)).toEqual([
      '100',
      '[1-3]',
      '[1,5]',
      '[9-11,20]',
      '[91,100-102]',
      '[9-11,13,16-20]',
    ])
    expect(row(records, '4103947_[1-3]')).toMatchObject({ state: 'timeout', exitCode: 1, elapsedSeconds: 259_200 })
    // the compressed list expands to as many names as the NNodes column says
    expect(observation(records, '4103947_100').nodes).toHaveLength(Number(row(records, '4103947_100').fields.nnodes))
  })

  it('reads PREEMPTED and CANCELLED by <uid> rows from the pozidriv subset', () => {
    const records = shared('xdmod-parsable2_pozidriv_preempted_subset.txt')
    expect(row(records, '1004648')).toMatchObject({
      state: 'preempted',
      nativeState: 'PREEMPTED',
      timeLimitSeconds: 3 * 86_400,
      allocTres: { billing: 8, cpu: 8, mem: 22_400, node: 1 },
    })
    expect(row(records, '982221')).toMatchObject({ state: 'cancelled', nativeState: 'CANCELLED by 423120' })
    expect(new Set(records.map((record) => record.state))).toEqual(
      new Set(['succeeded', 'cancelled', 'failed', 'preempted', 'timeout']),
    )
  })

  it('reads het-job components and their steps', () => {
    const records = shared('torchx-sacct_parsable2_hetjob_default_fields.txt')
    expect(row(records, '1853+1', '0')).toMatchObject({ hetJobOffset: 1, name: 'echo', state: 'succeeded' })
    expect(sacctToJobObservations(records).map((found) => found.jobId)).toEqual(['1853+0', '1853+1', '1853+2'])
    const failed = shared('torchx-sacct_parsable2_failed_exit2.txt')
    expect(observation(failed, '1902')).toMatchObject({ state: 'failed', exitCode: 2, name: 'sh-0' })
  })

  it('reads a header-first ALL-fields dump of pending jobs', () => {
    const records = shared('trex_batchsystem-sacct_X_P_format_ALL_pending.txt')
    expect(records).toHaveLength(5)
    expect(row(records, '4')).toMatchObject({
      state: 'pending',
      reason: 'ReqNodeNotAvail',
      timeLimitSeconds: null,
      nodeList: null,
      startedAt: null,
    })
  })

  it('reads units-in-G allocations from ood_core and steps with Unknown times from slurm2sql', () => {
    const ood = shared('ood_core-sacct_P_unitsep_allocations.txt')
    expect(row(ood, '5963565')).toMatchObject({
      state: 'cancelled',
      nativeState: 'CANCELLED by 1001',
      elapsedSeconds: 3,
    })
    expect(row(ood, '20251')).toMatchObject({ state: 'pending', startedAt: null })
    const aalto = shared('slurm2sql-aalto_triton_sacct_P_2019.txt')
    expect(row(aalto, '43974388', 'batch')).toMatchObject({ exitCode: 0, signal: 9 })
    expect(observation(aalto, '43974388')).toMatchObject({ state: 'cancelled', signal: 'SIGKILL' })
    expect(row(aalto, '43977780', 'batch')).toMatchObject({ startedAt: null, endedAt: null })
  })
})

describe('parseSacct on the 22.05 testbed (rpo format)', () => {
  it('parses every capture with the default fields and delimiter', () => {
    for (const file of readdirSync(TESTBED).filter((name) => name.startsWith('sacct-'))) {
      expect(testbed(file).length, file).toBeGreaterThan(0)
    }
  })

  it('observes each way a job ended', () => {
    const records = testbed('sacct-final.txt')
    expect(observation(records, '65')).toMatchObject({ state: 'succeeded', exitCode: 0, name: 'rpo-fx-ok' })
    expect(observation(records, '67')).toMatchObject({ state: 'failed', exitCode: 3, signal: null })
    expect(observation(records, '68')).toMatchObject({ state: 'failed', exitCode: 0, signal: 'SIGSEGV' })
    // the batch script swallowed the step failure: the job succeeded, and says exit 0
    expect(observation(records, '69')).toMatchObject({ state: 'succeeded', exitCode: 0 })
    expect(observation(records, '71')).toMatchObject({ state: 'cancelled', nativeState: 'CANCELLED by 1001' })
    expect(observation(records, '71').usage?.maxRssMb).toBeCloseTo(3_256 / 1024, 6)
    expect(observation(records, '75')).toMatchObject({ state: 'timeout', exitCode: 0, signal: 'SIGTERM' })
    expect(observation(records, '77').usage?.allocTres).toMatchObject({ 'gres/gpu:a100': 1, 'gres/gpu': 1 })
    expect(observation(records, '79')).toMatchObject({ state: 'cancelled', startedAt: null, nodes: [] })
    expect(observation(records, '80')).toMatchObject({ state: 'cancelled', reason: 'Dependency' })
    expect(observation(records, '72_1')).toMatchObject({ state: 'failed', exitCode: 1 })
    expect(observation(records, '72_2')).toMatchObject({ state: 'succeeded' })
  })

  it('observes running, requeued-pending and held jobs', () => {
    const live = testbed('sacct-live.txt')
    expect(observation(live, '71')).toMatchObject({ state: 'running', endedAt: null, nodes: ['cpu1'] })
    expect(observation(live, '76')).toMatchObject({ state: 'pending', reason: 'BeginTime', startedAt: null })
    const held = testbed('sacct-held.txt')
    expect(observation(held, '90')).toMatchObject({ state: 'held', reason: 'JobHeldUser' })
    expect(observation(held, '91_[1-4]')).toMatchObject({ state: 'held' })
  })

  it('with --duplicates keeps the latest run of a requeued job', () => {
    const records = testbed('sacct-requeued-duplicates.txt')
    expect(records.filter((record) => record.step === null).map((record) => record.state)).toEqual([
      'requeued',
      'cancelled',
    ])
    const latest = sacctToJobObservations(records)
    expect(latest).toHaveLength(1)
    expect(latest[0]).toMatchObject({ state: 'cancelled', usage: { elapsedSeconds: 113 } })
    expect(latest[0]?.startedAt?.toISOString()).toBe('2026-11-28T13:43:51.000Z')
  })
})

describe('parseSacct on constructed rows', () => {
  const line = (cells: Record<string, string>): string => SACCT_FIELDS.map((field) => cells[field] ?? '').join('\u001f')

  it('reads OUT_OF_MEMORY (no captured fixture has it) and an unknown state', () => {
    const records = parseSacct(
      [
        line({ JobID: '5', State: 'OUT_OF_MEMORY', ExitCode: '0:125', MaxRSS: '' }),
        line({ JobID: '5.batch', State: 'OUT_OF_MEMORY', ExitCode: '0:125', MaxRSS: '2G' }),
        line({ JobID: '6', State: 'LAUNCH_FAILED', ExitCode: '1:0' }),
      ].join('\n'),
    )
    expect(observation(records, '5')).toMatchObject({ state: 'out_of_memory', usage: { maxRssMb: 2_048 } })
    expect(observation(records, '6')).toMatchObject({ state: 'unknown', nativeState: 'LAUNCH_FAILED' })
  })

  it('gives a job that ran no CPU time until its steps are recorded (the testbed showed TotalCPU 00:00:00 before them)', () => {
    const job = {
      JobID: '1989',
      State: 'COMPLETED',
      ExitCode: '0:0',
      Start: '2026-12-05T09:46:40',
      End: '2026-12-05T09:46:48',
      ElapsedRaw: '8',
      AllocTRES: 'billing=8,cpu=8,mem=500M,node=1',
    }
    const early = parseSacct(line({ ...job, TotalCPU: '00:00:00' }))
    expect(observation(early, '1989').usage).toEqual({
      elapsedSeconds: 8,
      allocTres: { billing: 8, cpu: 8, mem: 500, node: 1 },
    })
    const settled = parseSacct(
      [
        line({ ...job, TotalCPU: '00:05.010' }),
        line({
          JobID: '1989.batch',
          State: 'COMPLETED',
          ExitCode: '0:0',
          TotalCPU: '00:05.010',
          MaxRSS: '8012K',
          TRESUsageInTot: 'cpu=00:00:02,energy=0,fs/disk=65015,mem=8012K,pages=1,vmem=13964K',
        }),
      ].join('\n'),
    )
    expect(observation(settled, '1989').usage).toMatchObject({ cpuSeconds: 5.01, maxRssMb: 8_012 / 1024 })
    expect(observation(settled, '1989').usage?.gpuUtilPercent).toBeUndefined()
    // never started: nothing to wait for
    const cancelled = parseSacct(line({ JobID: '9', State: 'CANCELLED by 0', ExitCode: '0:0', TotalCPU: '00:00:00' }))
    expect(observation(cancelled, '9').usage?.cpuSeconds).toBe(0)
  })

  it('skips a header line that names the requested fields', () => {
    const text = `${SACCT_FIELDS.join('\u001f')}\n${line({ JobID: '7', State: 'RUNNING' })}\n`
    expect(parseSacct(text).map((record) => record.jobId)).toEqual(['7'])
  })

  it('gives steps without their allocation row no observation', () => {
    const records = parseSacct(line({ JobID: '8.batch', State: 'COMPLETED' }))
    expect(sacctToJobObservations(records)).toEqual([])
  })
})

describe('parseSacct on malformed input', () => {
  it('rejects a wrong column count with the line as excerpt', () => {
    const text = `1\u001fonly-two-columns\n`
    const error = catchError(() => parseSacct(text))
    expect(error).toBeInstanceOf(ParseError)
    expect((error as ParseError).excerpt).toBe('1\u001fonly-two-columns')
    expect((error as ParseError).message).toMatch(/line 1: expected 18 columns, found 2/)
  })

  it('rejects a garbage id, time or exit code in a well-shaped line', () => {
    const good: string[] = SACCT_FIELDS.map((field) => (field === 'JobID' ? '9' : ''))
    for (const [field, value] of [
      ['JobID', 'abc'],
      ['Start', 'yesterday'],
      ['ExitCode', 'x:y'],
      ['ElapsedRaw', '-3'],
      ['AllocTRES', 'cpu'],
      ['MaxRSS', 'lots'],
    ] as const) {
      const cells = [...good]
      cells[SACCT_FIELDS.indexOf(field)] = value
      expect(() => parseSacct(cells.join('\u001f')), field).toThrow(ParseError)
    }
  })

  it('parses the JobID forms and rejects others', () => {
    expect(parseSacctJobId('123_[1-3]')).toMatchObject({ jobId: '123_[1-3]', arrayJobId: '123', step: null })
    expect(parseSacctJobId('123+0.batch')).toMatchObject({ jobId: '123+0', hetJobOffset: 0, step: 'batch' })
    expect(parseSacctJobId('123.0+1')).toMatchObject({ jobId: '123', step: '0+1' })
    for (const bad of ['', '12a', '_1', '1.', '1..2', '1_']) expect(() => parseSacctJobId(bad), bad).toThrow(ParseError)
  })
})

function catchError(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  throw new Error('expected an error')
}
