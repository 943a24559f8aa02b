import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  buildSqueueFormat,
  isSqueueInvalidJobIdError,
  parseSqueue,
  SQUEUE_COLUMNS,
  type SqueueColumn,
  type SqueueRecord,
  squeueToJobObservations,
} from '../../../adapters/slurm/squeue-parser.js'
import { ParseError } from '../../../src/core/errors.js'
import { sharedFixture } from '../../support/shared-fixtures.js'

const SHARED = sharedFixture('slurm', 'squeue')
const TESTBED = join(import.meta.dirname, 'fixtures', 'testbed-22.05')

const read = (directory: string, file: string): string => readFileSync(join(directory, file), 'utf8')

function record(records: readonly SqueueRecord[], jobId: string): SqueueRecord {
  const found = records.find((candidate) => candidate.jobId === jobId)
  if (found === undefined) throw new Error(`no record ${jobId}`)
  return found
}

// `squeue -O` headers (ood_core): map each header to the column it is; JOBID is printed twice —
// first for %A (JobID), later for %i (JobArrayID)
const O_HEADERS: Record<string, SqueueColumn> = {
  ACCOUNT: 'account',
  ARRAY_JOB_ID: 'arrayJobId',
  ARRAY_TASK_ID: 'arrayTaskId',
  NAME: 'name',
  TIME_LIMIT: 'timeLimit',
  TIME: 'elapsed',
  NODELIST: 'nodeList',
  PARTITION: 'partition',
  REASON: 'reason',
  START_TIME: 'startTime',
  END_TIME: 'endTime',
  SUBMIT_TIME: 'submitTime',
  ST: 'stateCompact',
  STATE: 'state',
  NODES: 'nodeCount',
  CPUS: 'cpus',
}

/** Columns from an ood_core header line, and the output without that header. */
function fromOHeader(text: string): { columns: SqueueColumn[]; body: string } {
  const lines = text.split('\n')
  const headerIndex = lines.findIndex((line) => line.startsWith('ACCOUNT\u001f'))
  const names = (lines[headerIndex] ?? '').split('\u001f').filter((name) => name !== '')
  let jobIds = 0
  const columns = names.map((name): SqueueColumn => {
    if (name === 'JOBID') return jobIds++ === 0 ? 'jobIdRaw' : 'jobId'
    return O_HEADERS[name] ?? 'ignore'
  })
  return { columns, body: lines.filter((_, index) => index !== headerIndex).join('\n') }
}

describe('parseSqueue on every shared squeue fixture', () => {
  it('has a case for each file', () => {
    expect(readdirSync(SHARED).sort()).toEqual([
      'aiida-squeue_caret_sep_cscs_rosa.txt',
      'hb_jobinfo-squeue_i_E_R_C.txt',
      'ood_core-cardinal_running_timeout.txt',
      'ood_core-non_utf8_job_name.txt',
      'ood_core-squeue_M_cluster_header.txt',
      'ood_core-squeue_O_unitsep_psc.txt',
      'pysqa-squeue_A_u_t_j_Z.txt',
      'rivos_exporter-squeue_o_jsonlike_fallback.txt',
      'slurm_exporter-squeue_A_T_allstates.txt',
      'slurm_jobinfo-squeue_i_E_R.txt',
    ])
  })

  it('aiida: compact states, NOT_SET limits, N/A start, Cray node lists, ^^^ separators', () => {
    const columns: SqueueColumn[] = [
      'jobId',
      'stateCompact',
      'reason',
      'ignore',
      'user',
      'nodeCount',
      'cpus',
      'reasonOrNodes',
      'partition',
      'timeLimit',
      'elapsed',
      'startTime',
      'name',
      'submitTime',
    ]
    const records = parseSqueue(read(SHARED, 'aiida-squeue_caret_sep_cscs_rosa.txt'), columns, { delimiter: '^^^' })
    expect(records).toHaveLength(8)
    // pending on Resources/Priority: the scheduler's start estimate; on a dependency or held: N/A
    expect(record(records, '863100').expectedStartAt?.toISOString()).toBe('2013-05-23T14:44:44.000Z')
    expect(record(records, '863546').expectedStartAt?.toISOString()).toBe('2013-05-23T14:44:44.000Z')
    expect(record(records, '862540').expectedStartAt).toBeNull()
    expect(record(records, '863313').expectedStartAt).toBeNull()
    expect(record(records, '862538').expectedStartAt).toBeNull()
    expect(record(records, '863313')).toMatchObject({ state: 'held', nativeState: 'PD', reason: 'JobHeldUser' })
    expect(record(records, '862540')).toMatchObject({ state: 'pending', reason: 'Dependency', startedAt: null })
    expect(record(records, '863554')).toMatchObject({ state: 'running', timeLimitSeconds: null, elapsedSeconds: 1_769 })
    const running = record(records, '861352')
    expect(running).toMatchObject({ elapsedSeconds: 23 * 3_600 + 30 * 60 + 20, nodeCount: 4, cpus: 128 })
    expect(running.startedAt?.toISOString()).toBe('2013-05-22T12:43:20.000Z')
    expect(squeueToJobObservations([running])[0]?.nodes).toEqual(['nid00192', 'nid00246', 'nid00264', 'nid00265'])
  })

  it('hb_jobinfo and slurm_jobinfo: reasons in parentheses and array tasks (mixed | and ; separators)', () => {
    const hb = parseSqueue(
      read(SHARED, 'hb_jobinfo-squeue_i_E_R_C.txt').replaceAll(';', '|'),
      ['jobId', 'dependency', 'reasonOrNodes', 'cpus'],
      { delimiter: '|' },
    )
    expect(record(hb, '7219441')).toMatchObject({ reason: 'Dependency', cpus: 384, state: null })
    // %R prints the node list, not a reason, once a job runs
    expect(record(hb, '8322514_33')).toMatchObject({ reason: null, nodeList: 'gelifes3' })
    const jobinfo = parseSqueue(
      read(SHARED, 'slurm_jobinfo-squeue_i_E_R.txt').replaceAll(';', '|'),
      ['jobId', 'dependency', 'reasonOrNodes'],
      { delimiter: '|' },
    )
    expect(jobinfo.some((found) => found.reason === 'JobHeldUser')).toBe(true)
  })

  it('ood_core psc and -M outputs: header-named -O columns, CLUSTER: line skipped', () => {
    for (const file of ['ood_core-squeue_O_unitsep_psc.txt', 'ood_core-squeue_M_cluster_header.txt']) {
      const { columns, body } = fromOHeader(read(SHARED, file))
      const records = parseSqueue(body, columns)
      expect(record(records, '4320602')).toMatchObject({
        state: 'pending',
        reason: 'Resources',
        nodeCount: 64,
        cpus: 1_792,
        timeLimitSeconds: 2 * 86_400,
        partition: 'RM',
        startedAt: null,
      })
      expect(record(records, '5096321')).toMatchObject({ state: 'succeeded', name: 'Interact', elapsedSeconds: 5 })
      expect(record(records, '5096321').endedAt?.toISOString()).toBe('2019-03-18T10:50:25.000Z')
    }
  })

  it('ood_core non-UTF-8 name: array task id and the replacement character kept', () => {
    const { columns, body } = fromOHeader(read(SHARED, 'ood_core-non_utf8_job_name.txt'))
    const [job] = parseSqueue(body, columns)
    expect(job).toMatchObject({ jobId: '29471683_9', jobIdRaw: '123', arrayTaskId: '9', state: 'succeeded' })
    expect(job?.name).toBe('\uFFFD non-utf8')
  })

  it('ood_core cardinal: a line with one column too many is refused, not shifted', () => {
    const { columns, body } = fromOHeader(read(SHARED, 'ood_core-cardinal_running_timeout.txt'))
    expect(() => parseSqueue(body, columns)).toThrow(/line 1: expected 50 columns, found 52/)
    // the other lines are well-formed, including a TIMEOUT job whose TIME_LEFT is INVALID
    const rest = body.split('\n').slice(1).join('\n')
    const records = parseSqueue(rest, columns)
    expect(record(records, '6783828')).toMatchObject({ state: 'timeout', nativeState: 'TIMEOUT', reason: 'TimeLimit' })
  })

  it('pysqa: right-aligned %.15j names are trimmed', () => {
    const records = parseSqueue(
      read(SHARED, 'pysqa-squeue_A_u_t_j_Z.txt'),
      ['jobIdRaw', 'user', 'stateCompact', 'name', 'workDir'],
      { delimiter: '|' },
    )
    expect(records).toHaveLength(5)
    expect(record(records, '5322019')).toMatchObject({ name: 'pi_19576488', state: 'running' })
  })

  it('slurm_exporter: every long state name it saw maps to a known state', () => {
    const records = parseSqueue(read(SHARED, 'slurm_exporter-squeue_A_T_allstates.txt'), ['jobIdRaw', 'state'], {
      delimiter: ',',
    })
    const byNative = Object.fromEntries(records.map((found) => [found.nativeState, found.state]))
    expect(byNative).toMatchObject({
      RUNNING: 'running',
      CONFIGURING: 'running',
      COMPLETING: 'completing',
      PREEMPTED: 'preempted',
      NODE_FAIL: 'node_fail',
      PENDING: 'pending',
      SUSPENDED: 'running',
      TIMEOUT: 'timeout',
      FAILED: 'failed',
      COMPLETED: 'succeeded',
    })
    // COMPLETED is Slurm's "exited 0": only it carries an exit code; every other ending waits for sacct's
    const exitCodes = Object.fromEntries(
      squeueToJobObservations(records).map((found) => [found.nativeState, found.exitCode]),
    )
    expect(exitCodes).toMatchObject({ COMPLETED: 0, FAILED: null, TIMEOUT: null, NODE_FAIL: null, PREEMPTED: null })
    expect(Object.entries(exitCodes).filter(([, code]) => code !== null)).toEqual([['COMPLETED', 0]])
  })

  it('rivos_exporter: a JSON-lines template, not a delimited format — refused as such', () => {
    expect(() => parseSqueue(read(SHARED, 'rivos_exporter-squeue_o_jsonlike_fallback.txt'))).toThrow(ParseError)
  })
})

describe('parseSqueue on the 22.05 testbed (rpo format)', () => {
  it('uses one %-code per column, separated by the unit separator', () => {
    expect(buildSqueueFormat()).toBe(
      '%i\u001f%A\u001f%F\u001f%K\u001f%T\u001f%r\u001f%j\u001f%M\u001f%l\u001f%S\u001f%V\u001f%e\u001f%N\u001f%P\u001f%a\u001f%D\u001f%C\u001f%b',
    )
    expect(SQUEUE_COLUMNS).toHaveLength(18)
  })

  it('reads live jobs: running, held, requeued, array tasks', () => {
    const records = parseSqueue(read(TESTBED, 'squeue-live.txt'))
    expect(record(records, '75')).toMatchObject({
      state: 'running',
      elapsedSeconds: 19,
      timeLimitSeconds: 60,
      endedAt: null,
    })
    expect(record(records, '75').startedAt?.toISOString()).toBe('2026-11-28T13:43:24.000Z')
    // held while running: still running
    expect(record(records, '71')).toMatchObject({ state: 'running', reason: 'JobHeldUser' })
    expect(record(records, '79')).toMatchObject({ state: 'held', startedAt: null, nodeList: null })
    // requeued: pending again; %S is only the expected start
    expect(record(records, '76')).toMatchObject({ state: 'pending', reason: 'BeginTime', startedAt: null })
    expect(record(records, '72_2')).toMatchObject({ jobIdRaw: '82', arrayJobId: '72', arrayTaskId: '2' })
    expect(record(records, '77')).toMatchObject({ tresPerNode: 'gres:gpu:a100:1', partition: 'gpu', account: 'vision' })
  })

  it('reads held jobs and a pending array', () => {
    const records = parseSqueue(read(TESTBED, 'squeue-held.txt'))
    expect(record(records, '91_[1-4]')).toMatchObject({ state: 'held', arrayTaskId: '1-4', name: 'rpo-fx-parr2' })
    expect(record(records, '90')).toMatchObject({ state: 'held', reason: 'JobHeldUser' })
  })

  it('reads ended jobs with their end time', () => {
    const records = parseSqueue(read(TESTBED, 'squeue-final.txt'))
    expect(record(records, '75')).toMatchObject({ state: 'timeout', reason: 'TimeLimit', elapsedSeconds: 87 })
    expect(record(records, '75').endedAt?.toISOString()).toBe('2026-11-28T13:44:51.000Z')
    expect(record(records, '80')).toMatchObject({ state: 'cancelled', reason: 'DependencyNeverSatisfied' })
    const observations = squeueToJobObservations(records)
    expect(observations.find((found) => found.jobId === '65')).toMatchObject({
      state: 'succeeded',
      exitCode: 0,
      nodes: ['cpu1'],
      name: 'rpo-fx-ok',
    })
    // a step that failed inside a job whose script exited 0 (69) does not change the job's exit code
    expect(observations.find((found) => found.jobId === '69')).toMatchObject({ state: 'succeeded', exitCode: 0 })
    expect(observations.find((found) => found.jobId === '67')).toMatchObject({ state: 'failed', exitCode: null })
    expect(observations.find((found) => found.jobId === '75')).toMatchObject({ state: 'timeout', exitCode: null })
  })

  it("reads a pending job's start as slurmctld expects it (what squeue --start prints), N/A as none", () => {
    const records = parseSqueue(read(TESTBED, 'squeue-start-estimate.txt'))
    const behind = record(records, '1225')
    expect(behind).toMatchObject({ state: 'pending', reason: 'Resources', startedAt: null })
    expect(behind.expectedStartAt?.toISOString()).toBe('2026-12-05T09:21:14.000Z')
    // the same moment's `squeue --start`, in its own default format, names the same start
    const startLine = read(TESTBED, 'squeue-start.txt')
      .split('\n')
      .find((line) => line.trim().startsWith('1225 '))
    expect(startLine?.trim().split(/\s+/)[5]).toBe('2026-12-05T09:21:14')
    // waiting on a dependency: Slurm has no estimate
    expect(record(records, '1226')).toMatchObject({ state: 'pending', reason: 'Dependency', expectedStartAt: null })
    // running: %S is the actual start, never an estimate
    expect(record(records, '1224')).toMatchObject({ state: 'running', expectedStartAt: null })
    const observations = squeueToJobObservations(records)
    expect(observations.find((o) => o.jobId === '1225')?.expectedStartAt?.toISOString()).toBe(
      '2026-12-05T09:21:14.000Z',
    )
    expect(observations.find((o) => o.jobId === '1226')).not.toHaveProperty('expectedStartAt')
    expect(observations.find((o) => o.jobId === '1224')).not.toHaveProperty('expectedStartAt')
    // a requeued job waits for its BeginTime: that is its expected start (captured 2026-11-28)
    expect(record(parseSqueue(read(TESTBED, 'squeue-live.txt')), '76').expectedStartAt).not.toBeNull()
    // held: no estimate
    expect(record(parseSqueue(read(TESTBED, 'squeue-held.txt')), '90').expectedStartAt).toBeNull()
  })

  it('recognises the stderr of a purged job id', () => {
    expect(isSqueueInvalidJobIdError(read(TESTBED, 'squeue-invalid-job-id.stderr'))).toBe(true)
    expect(isSqueueInvalidJobIdError('squeue: error: Unable to contact slurm controller')).toBe(false)
  })
})

describe('parseSqueue on malformed input', () => {
  it('rejects garbage ids, times and counts with the line', () => {
    const good = read(TESTBED, 'squeue-held.txt').split('\n')[0] ?? ''
    const cells = good.split('\u001f')
    for (const [index, value] of [
      [0, 'x1'],
      [7, 'ages'],
      [10, 'Tuesday'],
      [15, 'many'],
    ] as const) {
      const broken = cells.map((cell, at) => (at === index ? value : cell)).join('\u001f')
      expect(() => parseSqueue(broken), value).toThrow(ParseError)
    }
  })

  it('returns [] for no output', () => {
    expect(parseSqueue('')).toEqual([])
    expect(parseSqueue('\n\n')).toEqual([])
  })
})
