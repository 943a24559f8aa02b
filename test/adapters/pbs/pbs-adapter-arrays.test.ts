// The PBS adapter with sweeps as job arrays, on a fake Transport: a 4-instance sweep submitted as one
// array on PBS Pro and on Torque, then polled through qstat output holding the array's own record
// and its subjobs; lookups by key, hold/release/cancel on subjob ids, and when arrays are off.
// The PBS Pro JSON and the rpo-shaped Torque XML below are synthetic (no captured PBS Pro array
// output exists in the fixtures); the last block maps the real Torque array capture
// (../shared/fixtures/torque/qstat_x/fyrd-stanford_qstat_x_arrays.xml) field by field.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { PbsAdapter, type PbsAdapterOptions } from '../../../adapters/pbs/pbs-adapter.js'
import { RpoError } from '../../../src/core/errors.js'
import {
  asNativeJobId,
  asSubmissionKey,
  type JobSubmission,
  type NativeJobId,
} from '../../../src/scheduler/scheduler-adapter.js'
import { sharedFixture } from '../../support/shared-fixtures.js'
import { type Answer, exit, FakeTransport, ok } from './fake-pbs-transport.js'

const ROOT = '/scratch/u/jobs'
const PRO_VERSION = 'pbs_version = 2022.1.1\n'
const TORQUE_VERSION = 'Version: 6.1.3\nCommit: 1fb3e6f\n'

function instance(index: number): JobSubmission {
  const key = `rpo.r1.train.${index}.1`
  return {
    submissionKey: asSubmissionKey(key),
    runId: 'r1',
    taskId: `train.${index}`,
    attempt: 1,
    command: `python train.py --lr 0.${index}`,
    workDir: '/scratch/u/work',
    jobDir: `${ROOT}/${key}`,
    env: { RPO_TASK_ID: `train.${index}`, RPO_PARAM_LR: `0.${index}` },
    resources: { cpus: 4, memoryMb: 8_000, timeLimitSeconds: 7_200, gpus: null, nodes: 1 },
    dependsOn: [
      { submissionKey: asSubmissionKey('rpo.r1.prep.1'), jobId: asNativeJobId('1230.pbs01'), condition: 'succeeded' },
    ],
    project: null,
    array: { key: asSubmissionKey('rpo.r1.train.array.1'), index, throttle: 2 },
  }
}
const SWEEP = [0, 1, 2, 3].map(instance)

const ids = (...list: string[]): NativeJobId[] => list.map(asNativeJobId)

/** Answers `qstat --version` with `version`, everything else with `more`. */
function server(version: string, more: Answer = () => undefined): Answer {
  return (argv) => {
    if (argv.join(' ') === 'qstat --version') return version.startsWith('pbs') ? ok(version) : exit(0, '', version)
    return more(argv)
  }
}

function adapter(transport: FakeTransport, options: Partial<PbsAdapterOptions> = {}): PbsAdapter {
  return new PbsAdapter({ transport, script: { queue: 'batch' }, ...options })
}

// qstat -f -F json -x -t for the array 1234[] and the plain job 1230: the array's own record (B:
// subjobs begun), two finished subjobs (X), one running, one queued. Synthetic, in PBS Pro's
// documented shape (array_id/array_index on subjobs, array/array_state_count on the array).
const RESOURCES = { ncpus: 4, mem: '8000mb', nodect: 1, walltime: '02:00:00', select: '1:ncpus=4:mem=8000mb' }
const subjob = (index: number, fields: Record<string, unknown>) => ({
  Job_Name: 'rpo.r1.train.array.1',
  ctime: '1700000000',
  array_id: '1234[].pbs01',
  array_index: index,
  Resource_List: RESOURCES,
  ...fields,
})
const PRO_QSTAT = JSON.stringify({
  timestamp: 1700001000,
  pbs_version: '2022.1.1',
  pbs_server: 'pbs01',
  Jobs: {
    '1230.pbs01': { Job_Name: 'rpo.r1.prep.1', job_state: 'F', Exit_status: 0, ctime: '1699999000' },
    '1234[].pbs01': {
      Job_Name: 'rpo.r1.train.array.1',
      job_state: 'B',
      array: 'True',
      array_indices_submitted: '0-3',
      array_indices_remaining: '3',
      array_state_count: 'Queued:1 Running:1 Exiting:0 Expired:2 ',
      ctime: '1700000000',
      Resource_List: RESOURCES,
    },
    '1234[0].pbs01': subjob(0, {
      job_state: 'X',
      substate: 92,
      Exit_status: 0,
      exec_host: 'n1/0*4',
      stime: '1700000100',
      obittime: '1700000200',
      resources_used: { walltime: '00:01:40', cput: '00:06:00', mem: '1048576kb' },
    }),
    '1234[1].pbs01': subjob(1, {
      job_state: 'X',
      substate: 93,
      Exit_status: 3,
      exec_host: 'n2/0*4',
      stime: '1700000100',
      obittime: '1700000160',
      resources_used: { walltime: '00:01:00', cput: '00:03:50', mem: '524288kb' },
    }),
    '1234[2].pbs01': subjob(2, { job_state: 'R', substate: 42, exec_host: 'n1/1*4', stime: '1700000210' }),
    '1234[3].pbs01': subjob(3, { job_state: 'Q', substate: 10 }),
  },
})

// Torque `qstat -x -t` for the array 1300[] as rpo submits it: a short job name (Torque appends
// -<index> for subjobs) with the array key in RPO_SUBMISSION_KEY. Synthetic, in the shape of the
// real capture used at the end of this file.
const torqueSubjob = (index: number, fields: string) =>
  `<Job><Job_Id>1300[${index}].torque01</Job_Id><Job_Name>rpo-f0859fe1-${index}</Job_Name>${fields}` +
  '<Resource_List><mem>8000mb</mem><nodes>1:ppn=4</nodes><walltime>02:00:00</walltime></Resource_List>' +
  `<Variable_List>PBS_O_HOME=/home/u,RPO_SUBMISSION_KEY=rpo.r1.train.array.1,PBS_ARRAYID=${index}</Variable_List>` +
  `<ctime>1700000000</ctime><job_array_id>${index}</job_array_id></Job>`
const TORQUE_QSTAT = [
  '<Data>',
  '<Job><Job_Id>1300[].torque01</Job_Id><Job_Name>rpo-f0859fe1</Job_Name><job_state>R</job_state>',
  '<Hold_Types>n</Hold_Types><ctime>1700000000</ctime><job_array_request>0-3%2</job_array_request>',
  '<Variable_List>RPO_SUBMISSION_KEY=rpo.r1.train.array.1</Variable_List></Job>',
  torqueSubjob(
    0,
    '<job_state>C</job_state><exit_status>0</exit_status><exec_host>c1/0-3</exec_host><start_time>1700000100</start_time><comp_time>1700000200</comp_time><resources_used><cput>00:06:00</cput><mem>1048576kb</mem><walltime>00:01:40</walltime></resources_used>',
  ),
  // JOB_EXEC_OVERLIMIT_WT: the walltime limit
  torqueSubjob(
    1,
    '<job_state>C</job_state><exit_status>-11</exit_status><exec_host>c2/0-3</exec_host><start_time>1700000100</start_time><comp_time>1700007305</comp_time><resources_used><cput>07:50:00</cput><mem>2097152kb</mem><walltime>02:00:05</walltime></resources_used>',
  ),
  torqueSubjob(2, '<job_state>R</job_state><exec_host>c1/4-7</exec_host><start_time>1700000210</start_time>'),
  // beyond the slot limit: held by Torque itself, no hold letter printed
  torqueSubjob(3, '<job_state>H</job_state>'),
  '</Data>',
].join('')

describe('capabilities.arrays', () => {
  it('on for OpenPBS 20+/PBS Pro 2020+ and Torque, off before the flavor is known, for old PBS Pro, on request', async () => {
    const on = async (version: string, options: Partial<PbsAdapterOptions> = {}) => {
      const pbs = adapter(new FakeTransport(server(version)), options)
      expect(pbs.capabilities.arrays).toBe(false)
      await pbs.detect()
      return pbs.capabilities.arrays
    }
    expect(await on(PRO_VERSION)).toBe(true)
    expect(await on(TORQUE_VERSION)).toBe(true)
    // no % throttle before OpenPBS 20: the planner keeps maxParallel itself
    expect(await on('pbs_version = 19.1.3\n')).toBe(false)
    expect(await on(PRO_VERSION, { arrays: false })).toBe(false)
    // the Slurm Torque wrappers: see pbs-adapter.test.ts (capabilities after detection)
  })
})

describe('a 4-instance sweep on PBS Pro', () => {
  it('goes out as one throttled array and each instance gets its subjob id', async () => {
    const transport = new FakeTransport(server(PRO_VERSION), () => ok('rpo-job 0 1234[].pbs01\n'))
    const pbs = adapter(transport)
    const results = await pbs.submit(SWEEP)
    expect(results).toEqual(
      [0, 1, 2, 3].map((i) => ({ kind: 'submitted', submissionKey: `rpo.r1.train.${i}.1`, jobId: `1234[${i}].pbs01` })),
    )
    const [script] = transport.scripts
    expect(script).toContain('#PBS -N rpo.r1.train.array.1\n')
    expect(script).toContain('#PBS -J 0-3%2\n')
    expect(script).toContain('#PBS -W depend=afterok:1230.pbs01\n')
    expect(script).toContain(`case "\${PBS_ARRAY_INDEX:-}" in\n0)\n`)
    expect(script).toContain('\n3)\n  # rpo submission rpo.r1.train.3.1\n')
    expect(script).toContain("  exec /bin/bash -c 'python train.py --lr 0.3'\n")
    // one qsub for the array, its output per instance folder, its script in the array folder
    expect(script).toContain(
      `rpo_qsub 0 ${ROOT}/rpo.r1.train.array.1 -o '${ROOT}/rpo.r1.train.^array_index^.1/pbs.out' -e '${ROOT}/rpo.r1.train.^array_index^.1/pbs.err' -W "depend=afterok:1230.pbs01" ${ROOT}/rpo.r1.train.array.1/job.pbs`,
    )
    expect(script).toContain(`rpo_subjobs=(0 ${ROOT}/rpo.r1.train.0.1 1 ${ROOT}/rpo.r1.train.1.1`)
    expect(script?.match(/rpo_qsub \d/g)).toHaveLength(1)
  })

  it('a poll asks for the array with -t and reports each subjob under its own id, never the array', async () => {
    const transport = new FakeTransport(
      server(PRO_VERSION, (argv) =>
        argv.join(' ') === 'qstat -f -F json -x -t 1234[].pbs01 1230.pbs01' ? ok(PRO_QSTAT) : undefined,
      ),
    )
    const seen = await adapter(transport).poll(
      ids('1234[0].pbs01', '1234[1].pbs01', '1230.pbs01', '1234[2].pbs01', '1234[3].pbs01'),
    )
    expect(seen.map((o) => [o.jobId, o.state, o.nativeState, o.exitCode, o.name])).toEqual([
      ['1234[0].pbs01', 'succeeded', 'X', 0, 'rpo.r1.train.0.1'],
      ['1234[1].pbs01', 'failed', 'X', 3, 'rpo.r1.train.1.1'],
      ['1230.pbs01', 'succeeded', 'F', 0, 'rpo.r1.prep.1'],
      ['1234[2].pbs01', 'running', 'R', null, 'rpo.r1.train.2.1'],
      ['1234[3].pbs01', 'pending', 'Q', null, 'rpo.r1.train.3.1'],
    ])
    expect(seen[0]).toMatchObject({
      startedAt: new Date(1_700_000_100_000),
      endedAt: new Date(1_700_000_200_000),
      nodes: ['n1'],
      usage: { elapsedSeconds: 100, cpuSeconds: 360, maxRssMb: 1024, allocTres: { cpu: 4, mem: 8000, node: 1 } },
    })
    expect(seen[1]).toMatchObject({ nodes: ['n2'], usage: { elapsedSeconds: 60, cpuSeconds: 230, maxRssMb: 512 } })
    expect(seen[3]).toMatchObject({ startedAt: new Date(1_700_000_210_000), endedAt: null, nodes: ['n1'] })
    // the array's own record (state B) is no instance: asking for it alone gives it under its own id only
    expect(seen.some((o) => o.jobId.includes('[]'))).toBe(false)
  })

  it('finds the instances of an array by key after a crash, from the subjob listing', async () => {
    const transport = new FakeTransport(
      server(PRO_VERSION, (argv) => (argv.join(' ') === 'qstat -f -F json -x -t' ? ok(PRO_QSTAT) : undefined)),
    )
    const pbs = adapter(transport, { lookbackDays: 100_000 })
    const found = await pbs.findBySubmissionKey(
      ['rpo.r1.train.2.1', 'rpo.r1.train.0.1', 'rpo.r1.prep.1', 'rpo.r1.train.array.1', 'rpo.r1.train.7.1'].map(
        asSubmissionKey,
      ),
    )
    // the array's own key is found as the array (never asked by the engine); index 7 was never submitted
    expect(Object.fromEntries(found)).toEqual({
      'rpo.r1.train.0.1': '1234[0].pbs01',
      'rpo.r1.train.2.1': '1234[2].pbs01',
      'rpo.r1.prep.1': '1230.pbs01',
      'rpo.r1.train.array.1': '1234[].pbs01',
    })
  })

  it('qdel and qsig take subjob ids; qhold and qrls on a subjob are refused, naming the array', async () => {
    const transport = new FakeTransport(server(PRO_VERSION, () => ok()))
    const pbs = adapter(transport)
    await pbs.cancel(ids('1234[1].pbs01', '1234[2].pbs01'))
    await pbs.control(ids('1234[2].pbs01'), { kind: 'signal', signal: 'USR2' })
    const held = await pbs.control(ids('1230.pbs01', '1234[3].pbs01'), { kind: 'hold' }).catch((e: unknown) => e)
    expect(held).toBeInstanceOf(RpoError)
    expect(held).toMatchObject({ code: 'usage', message: expect.stringContaining('1234[].pbs01') })
    await expect(pbs.control(ids('1234[3].pbs01'), { kind: 'release' })).rejects.toMatchObject({ code: 'usage' })
    // whole arrays and plain jobs may still be held
    await pbs.control(ids('1234[].pbs01', '1230.pbs01'), { kind: 'hold' })
    expect(transport.schedulerCommands).toEqual([
      'qstat --version',
      'qdel 1234[1].pbs01 1234[2].pbs01',
      'qsig -s USR2 1234[2].pbs01',
      'qhold 1234[].pbs01 1230.pbs01',
    ])
  })

  it('rpo compile shows the array script, with every instance key', async () => {
    const pbs = adapter(new FakeTransport(server(PRO_VERSION)))
    await pbs.detect()
    const prep = { ...instance(0), submissionKey: asSubmissionKey('rpo.r1.prep.1'), array: undefined, dependsOn: [] }
    const scripts = pbs.renderScripts([prep, ...SWEEP])
    expect(scripts.map((s) => s.keys)).toEqual([
      ['rpo.r1.prep.1'],
      ['rpo.r1.train.0.1', 'rpo.r1.train.1.1', 'rpo.r1.train.2.1', 'rpo.r1.train.3.1'],
    ])
    expect(scripts[1]?.script).toContain('#PBS -J 0-3%2\n')
    expect(scripts[0]?.script).not.toContain('-J')
  })

  it('with arrays off, the instances go one by one', async () => {
    const transport = new FakeTransport(server(PRO_VERSION), () =>
      ok(['rpo-job 0 1.pbs01', 'rpo-job 1 2.pbs01', 'rpo-job 2 3.pbs01', 'rpo-job 3 4.pbs01', ''].join('\n')),
    )
    const results = await adapter(transport, { arrays: false }).submit(SWEEP)
    expect(results.map((r) => (r.kind === 'submitted' ? r.jobId : r.message))).toEqual([
      '1.pbs01',
      '2.pbs01',
      '3.pbs01',
      '4.pbs01',
    ])
    expect(transport.scripts[0]).not.toContain('#PBS -J')
  })
})

describe('a 4-instance sweep on Torque', () => {
  it('goes out as one -t array; its dependents wait with afterokarray on the whole array', async () => {
    const transport = new FakeTransport(server(TORQUE_VERSION), () =>
      ok('rpo-job 0 1300[].torque01\nrpo-job 1 1301.torque01\n'),
    )
    const report: JobSubmission = {
      ...instance(9),
      submissionKey: asSubmissionKey('rpo.r1.report.1'),
      jobDir: `${ROOT}/rpo.r1.report.1`,
      array: undefined,
      dependsOn: SWEEP.map((m) => ({ submissionKey: m.submissionKey, jobId: null, condition: 'succeeded' as const })),
    }
    const results = await adapter(transport).submit([...SWEEP, report])
    expect(results.map((r) => (r.kind === 'submitted' ? r.jobId : r.message))).toEqual([
      '1300[0].torque01',
      '1300[1].torque01',
      '1300[2].torque01',
      '1300[3].torque01',
      '1301.torque01',
    ])
    const [script] = transport.scripts
    expect(script).toContain('#PBS -t 0-3%2\n')
    expect(script).toContain('#PBS -v RPO_SUBMISSION_KEY=rpo.r1.train.array.1\n')
    expect(script).toContain(`case "\${PBS_ARRAYID:-}" in\n`)
    // Torque appends -<index> to one -o path: each branch writes into its own instance folder
    expect(script).toContain(`  exec >${ROOT}/rpo.r1.train.2.1/pbs.out 2>${ROOT}/rpo.r1.train.2.1/pbs.err\n`)
    expect(script).toContain(`-o ${ROOT}/rpo.r1.train.array.1/pbs.out -e ${ROOT}/rpo.r1.train.array.1/pbs.err`)
    expect(script).toContain(`-W "depend=afterokarray:\${id_0}" ${ROOT}/rpo.r1.report.1/job.pbs`)
  })

  it('a poll reports each subjob under its own id: exit statuses, the walltime, Torque’s own slot-limit hold', async () => {
    const transport = new FakeTransport(
      server(TORQUE_VERSION, (argv) =>
        argv.join(' ') === 'qstat -x -t 1300[].torque01' ? ok(TORQUE_QSTAT) : undefined,
      ),
    )
    const seen = await adapter(transport).poll(
      ids('1300[0].torque01', '1300[1].torque01', '1300[2].torque01', '1300[3].torque01'),
    )
    expect(seen.map((o) => [o.jobId, o.state, o.nativeState, o.exitCode, o.name])).toEqual([
      ['1300[0].torque01', 'succeeded', 'C', 0, 'rpo.r1.train.0.1'],
      ['1300[1].torque01', 'timeout', 'C', -11, 'rpo.r1.train.1.1'],
      ['1300[2].torque01', 'running', 'R', null, 'rpo.r1.train.2.1'],
      ['1300[3].torque01', 'pending', 'H', null, 'rpo.r1.train.3.1'],
    ])
    expect(seen[0]).toMatchObject({
      startedAt: new Date(1_700_000_100_000),
      endedAt: new Date(1_700_000_200_000),
      nodes: ['c1'],
      usage: { elapsedSeconds: 100, cpuSeconds: 360, maxRssMb: 1024, allocTres: { cpu: 4, mem: 8000, node: 1 } },
    })
    expect(seen[1]?.reason).toMatch(/JOB_EXEC_OVERLIMIT_WT/)
    expect(seen[3]?.reason).toMatch(/slot of its job array/)
  })

  it('with exit-status files, each instance records and is read from its own folder, also after a restart', async () => {
    const noExit = TORQUE_QSTAT.replace('<exit_status>0</exit_status>', '')
    const answer = server(TORQUE_VERSION, (argv) =>
      argv.join(' ') === 'qstat -x -t 1300[].torque01' ? ok(noExit) : undefined,
    )
    const transport = new FakeTransport(answer, () => ok('rpo-job 0 1300[].torque01\n'))
    const pbs = adapter(transport, { exitStatusFiles: true })
    await pbs.submit(SWEEP)
    expect(transport.scripts[0]).toContain(`${ROOT}/rpo.r1.train.0.1/exit_status`)
    expect(transport.scripts[0]).toContain(`${ROOT}/rpo.r1.train.3.1/exit_status`)
    transport.files.set(`${ROOT}/rpo.r1.train.0.1/exit_status`, '4\n')
    expect((await pbs.poll(ids('1300[0].torque01')))[0]).toMatchObject({ state: 'failed', exitCode: 4 })
    // a new process knows no folders: jobsRoot and the subjob's instance key find the same file
    const again = new FakeTransport(answer)
    again.files.set(`${ROOT}/rpo.r1.train.0.1/exit_status`, '4\n')
    const restarted = adapter(again, { exitStatusFiles: true, jobsRoot: ROOT })
    expect((await restarted.poll(ids('1300[0].torque01')))[0]).toMatchObject({ state: 'failed', exitCode: 4 })
    // and never the array folder's: the array's own record is not read
    expect(again.scripts.join('\n')).not.toContain('rpo.r1.train.array.1')
  })

  it('finds instances by key, from the subjob listing or, once Torque forgot them, the instance job_id file', async () => {
    const transport = new FakeTransport(
      server(TORQUE_VERSION, (argv) => (argv.join(' ') === 'qstat -x -t' ? ok(TORQUE_QSTAT) : undefined)),
    )
    transport.files.set(`${ROOT}/rpo.r1.train.5.1/job_id`, '1300[5].torque01\n')
    const found = await adapter(transport, { jobsRoot: ROOT, lookbackDays: 100_000 }).findBySubmissionKey(
      ['rpo.r1.train.1.1', 'rpo.r1.train.5.1', 'rpo.r1.train.6.1'].map(asSubmissionKey),
    )
    expect(Object.fromEntries(found)).toEqual({
      'rpo.r1.train.1.1': '1300[1].torque01',
      'rpo.r1.train.5.1': '1300[5].torque01',
    })
  })

  it('qhold and qrls take a Torque subjob id', async () => {
    const transport = new FakeTransport(server(TORQUE_VERSION, () => ok()))
    const pbs = adapter(transport)
    await pbs.control(ids('1300[3].torque01'), { kind: 'hold' })
    await pbs.control(ids('1300[3].torque01'), { kind: 'release' })
    expect(transport.schedulerCommands).toEqual(['qstat --version', 'qhold 1300[3].torque01', 'qrls 1300[3].torque01'])
  })
})

describe('the real Torque array capture (fyrd, Stanford, 2016)', () => {
  const CAPTURE = readFileSync(sharedFixture('torque', 'qstat_x', 'fyrd-stanford_qstat_x_arrays.xml'), 'utf8')

  it('maps each subjob field by field under the id asked, and never the array’s own record', async () => {
    const asked: string[][] = []
    const transport = new FakeTransport(
      server(TORQUE_VERSION, (argv) => {
        asked.push([...argv])
        return argv[0] === 'qstat' ? ok(CAPTURE) : undefined
      }),
    )
    const seen = await adapter(transport).poll(
      ids('673175[19].fruster.stanford.edu', '673175[20].fruster.stanford.edu', '673174.superserver.stanford.edu'),
    )
    // the array is asked for by its own id, with -t; the subjobs print under another host name
    expect(asked.at(-1)).toEqual([
      'qstat',
      '-x',
      '-t',
      '673175[].fruster.stanford.edu',
      '673174.superserver.stanford.edu',
    ])
    expect(seen).toEqual([
      {
        jobId: '673175[19].fruster.stanford.edu',
        state: 'succeeded',
        nativeState: 'C',
        exitCode: 0,
        signal: null,
        reason: null,
        startedAt: new Date(1_480_547_754_000),
        endedAt: new Date(1_480_547_755_000),
        nodes: ['node11'],
        usage: { elapsedSeconds: 1, cpuSeconds: 0, maxRssMb: 2888 / 1024, allocTres: { mem: 4096 } },
        // not an rpo array: Torque's own subjob name stays
        name: 't.sh-19',
      },
      {
        jobId: '673175[20].fruster.stanford.edu',
        state: 'succeeded',
        nativeState: 'C',
        exitCode: 0,
        signal: null,
        reason: null,
        startedAt: new Date(1_480_547_754_000),
        endedAt: new Date(1_480_547_755_000),
        nodes: ['node13'],
        usage: { elapsedSeconds: 1, cpuSeconds: 0, maxRssMb: 3112 / 1024, allocTres: { mem: 4096 } },
        name: 't.sh-20',
      },
      {
        jobId: '673174.superserver.stanford.edu',
        state: 'succeeded',
        nativeState: 'C',
        exitCode: 0,
        signal: null,
        reason: null,
        startedAt: new Date(1_480_547_422_000),
        endedAt: new Date(1_480_547_422_000),
        nodes: ['node04'],
        usage: { elapsedSeconds: 0, cpuSeconds: 0, maxRssMb: 0, allocTres: { mem: 4096 } },
        name: 'STDIN',
      },
    ])
  })

  it('the array’s own record (673175[], C without an exit status) is reported only when asked for itself', async () => {
    const transport = new FakeTransport(
      server(TORQUE_VERSION, (argv) => (argv[0] === 'qstat' ? ok(CAPTURE) : undefined)),
    )
    const seen = await adapter(transport).poll(ids('673175[].superserver.stanford.edu'))
    // a plain poll (no -t): the array id is asked as is
    expect(transport.schedulerCommands.at(-1)).toBe('qstat -x 673175[].superserver.stanford.edu')
    expect(seen).toMatchObject([
      { jobId: '673175[].superserver.stanford.edu', state: 'unknown', nativeState: 'C', exitCode: null, name: 't.sh' },
    ])
  })
})
