// The PBS adapter's branches with a fake Transport: flavor detection, the wrappers' quirks (exit 153,
// no exit status, hold as priority 0) on their captured outputs, PBS Pro/Torque command choice, and
// the errors. The remote scripts themselves run for real in qsub-batch.test.ts; the live runs are in
// test/cluster/pbs-*.test.ts.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PbsAdapter, type PbsAdapterOptions } from '../../../adapters/pbs/pbs-adapter.js'
import { RpoError, SchedulerCommandError } from '../../../src/core/errors.js'
import {
  asNativeJobId,
  asSubmissionKey,
  type JobSubmission,
  type NativeJobId,
} from '../../../src/scheduler/scheduler-adapter.js'
import { type Answer, exit, FakeTransport, ok } from './fake-pbs-transport.js'

const FIXTURES = join(import.meta.dirname, 'fixtures', 'slurm-torque-wrappers')
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8')
const WRAPPERS_VERSION = fixture('qstat-version.txt')

/** Answers like the Slurm Torque wrappers on the testbed, from the captured outputs. */
function wrappers(extra: Answer = () => undefined): Answer {
  return (argv) => {
    const more = extra(argv)
    if (more) return more
    const line = argv.join(' ')
    if (line === 'qstat --version') return exit(2, '', WRAPPERS_VERSION)
    if (line === 'pbsnodes -a') return ok(fixture('pbsnodes-a.txt'))
    return undefined
  }
}

function adapter(transport: FakeTransport, options: Partial<PbsAdapterOptions> = {}): PbsAdapter {
  return new PbsAdapter({ transport, script: { queue: 'cpu', account: 'vision' }, ...options })
}

function job(key: string, overrides: Partial<JobSubmission> = {}): JobSubmission {
  return {
    submissionKey: asSubmissionKey(key),
    runId: 'r1',
    taskId: key,
    attempt: 1,
    command: 'echo hi',
    workDir: '/home/u/w',
    jobDir: `/home/u/w/jobs/${key}`,
    env: {},
    resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 60, gpus: null, nodes: 1 },
    dependsOn: [],
    project: null,
    ...overrides,
  }
}

const ids = (...list: string[]): NativeJobId[] => list.map(asNativeJobId)

// a finished and a running job in the shape of PBS Pro's `qstat -f -F json -x`
const PBSPRO_JOBS = JSON.stringify({
  pbs_version: '2022.1.1',
  Jobs: {
    '1.srv.example.org': {
      Job_Name: 'rpo.r1.a.1',
      job_state: 'F',
      Exit_status: 0,
      stime: '1700000000',
      obittime: '1700000060',
    },
    '2.srv.example.org': { Job_Name: 'rpo.r1.b.1', job_state: 'R', stime: '1700000000' },
  },
})

describe('flavor detection', () => {
  it('recognizes the Slurm wrappers by their answer to qstat --version, once, and says what they lack', async () => {
    const transport = new FakeTransport(wrappers((argv) => (argv[0] === 'qstat' ? exit(153) : undefined)))
    const pbs = adapter(transport)
    expect(pbs.kind).toBe('pbs')
    expect(pbs.dialect).toBeNull()
    // conservative until known
    expect(pbs.capabilities).toMatchObject({ nativeDependencies: true, hold: true, signal: false, priority: false })
    await Promise.all([pbs.poll(ids('1')), pbs.poll(ids('2')), pbs.detect()])
    expect(transport.schedulerCommands.filter((c) => c === 'qstat --version')).toHaveLength(1)
    expect(pbs.dialect).toEqual({ flavor: 'slurm-torque', version: null, format: 'text' })
    expect(pbs.capabilities).toEqual({
      nativeDependencies: true,
      hold: true,
      arrays: false,
      wholeArrayDependencies: false,
      signalsBeforeLimit: true,
      priority: false,
      signal: false,
    })
  })

  it('reads PBS Pro as JSON with history and Torque as XML', async () => {
    const pro = new FakeTransport((argv) => {
      if (argv.join(' ') === 'qstat --version') return ok('pbs_version = 2022.1.1\n')
      if (argv.join(' ') === 'qstat -f -F json -x 1.srv') return ok(PBSPRO_JOBS)
      return undefined
    })
    const pbspro = adapter(pro)
    const [seen] = await pbspro.poll(ids('1.srv'))
    expect(pbspro.dialect).toMatchObject({ flavor: 'pbspro', format: 'json' })
    expect(pbspro.capabilities).toMatchObject({ priority: true, signal: true })
    // asked as 1.srv, printed as 1.srv.example.org: reported under the id rpo knows
    expect(seen).toMatchObject({ jobId: '1.srv', state: 'succeeded', exitCode: 0 })

    const torque = new FakeTransport((argv) => {
      if (argv.join(' ') === 'qstat --version') return exit(0, '', 'Version: 6.1.3\nCommit: abc\n')
      if (argv.join(' ') === 'qstat -x 7.torque') return ok('<Data></Data>')
      return undefined
    })
    const t = adapter(torque)
    expect(await t.poll(ids('7.torque'))).toEqual([])
    expect(t.dialect).toMatchObject({ flavor: 'torque', format: 'xml', version: '6.1.3' })
  })

  it('a configured flavor is used as is, without asking qstat', async () => {
    const transport = new FakeTransport((argv) => (argv.join(' ') === 'qstat -x 7' ? ok('<Data></Data>') : undefined))
    const pbs = adapter(transport, { flavor: 'torque' })
    expect(pbs.capabilities).toMatchObject({ priority: true, signal: true })
    await pbs.poll(ids('7'))
    expect(transport.schedulerCommands).toEqual(['qstat -x 7'])
  })

  it('says so when there is no qstat at all', async () => {
    const transport = new FakeTransport(() => exit(127, '', 'bash: qstat: command not found'))
    await expect(adapter(transport).inventory()).rejects.toThrow(/qstat is not available on fake login node/)
  })
})

describe('poll on the Slurm wrappers', () => {
  it('an unknown id (exit 153, nothing printed) is simply absent, never a success', async () => {
    const transport = new FakeTransport(
      wrappers((argv) => (argv.join(' ') === 'qstat -f 999999' ? exit(153) : undefined)),
    )
    expect(await adapter(transport).poll(ids('999999'))).toEqual([])
  })

  it('reads exit statuses from the job folders for finished jobs, and never assumes success', async () => {
    const transport = new FakeTransport(
      wrappers((argv) =>
        argv.join(' ') === 'qstat -f 43 44 45 46 47 48' ? ok(fixture('qstat-f-final.txt')) : undefined,
      ),
    )
    const root = '/home/rpotest/jobs'
    transport.files.set(`${root}/rpo-pbsfx-ok/exit_status`, '0\n')
    transport.files.set(`${root}/rpo-pbsfx-fail/exit_status`, '3\n')
    transport.files.set(`${root}/rpo-pbsfx-sleep/cancel_requested`, '')
    transport.files.set(`${root}/rpo-9c347096/exit_status`, 'garbage\n')
    const pbs = adapter(transport, { jobsRoot: root })
    const seen = await pbs.poll(ids('43', '44', '45', '46', '47', '48'))
    expect(seen.map((o) => [o.jobId, o.state, o.exitCode])).toEqual([
      ['43', 'succeeded', 0],
      ['44', 'failed', 3],
      // deleted by rpo: no exit status, but rpo's marker
      ['45', 'cancelled', null],
      // no file: finished, outcome unknown
      ['46', 'unknown', null],
      ['47', 'unknown', null],
    ])
    // the wrappers' mtime is the start, ctime the end
    expect(seen[0]).toMatchObject({
      nativeState: 'C',
      name: 'rpo-pbsfx-ok',
      startedAt: new Date('2026-11-28T14:14:10Z'),
      endedAt: new Date('2026-11-28T14:14:10Z'),
      nodes: ['cpu1'],
    })
    expect(seen[2]?.endedAt).toEqual(new Date('2026-11-28T14:14:32Z'))
    // one qstat, one read of the job folders, and one of the failed job's output (a memory kill?)
    expect(transport.schedulerCommands).toEqual(['qstat --version', 'qstat -f 43 44 45 46 47 48'])
    expect(transport.scripts).toHaveLength(2)
    expect(transport.scripts[1]).toContain(`${root}/rpo-pbsfx-fail/pbs.err`)
  })

  it('a job rpo deleted is cancelled even when its script lived to record the signal’s exit status', async () => {
    // qdel → scancel signals every process of the job: when the command dies first, the job script can
    // still write 143 (128 + SIGTERM) before its own signal lands; rpo's marker says who ended it
    const transport = new FakeTransport(
      wrappers((argv) => (argv.join(' ') === 'qstat -f 43 45' ? ok(fixture('qstat-f-final.txt')) : undefined)),
    )
    const root = '/home/rpotest/jobs'
    transport.files.set(`${root}/rpo-pbsfx-sleep/exit_status`, '143\n')
    transport.files.set(`${root}/rpo-pbsfx-sleep/cancel_requested`, '')
    // finished on its own just before the delete: its success stands
    transport.files.set(`${root}/rpo-pbsfx-ok/exit_status`, '0\n')
    transport.files.set(`${root}/rpo-pbsfx-ok/cancel_requested`, '')
    const seen = await adapter(transport, { jobsRoot: root }).poll(ids('43', '45'))
    expect(seen.map((o) => [o.jobId, o.state])).toEqual([
      ['43', 'succeeded'],
      ['45', 'cancelled'],
    ])
  })

  it('a queued job with priority 0 is held; a running one with priority 0 is still running', async () => {
    const transport = new FakeTransport(
      wrappers((argv) => {
        const line = argv.join(' ')
        if (line === 'qstat -f 45 46') return ok(fixture('qstat-f-held.txt'))
        if (line === 'qstat -f 46') return ok(fixture('qstat-f-live.txt').split('\n\n')[3])
        return undefined
      }),
    )
    const pbs = adapter(transport)
    const seen = await pbs.poll(ids('45', '46'))
    expect(seen.map((o) => [o.jobId, o.state, o.nativeState])).toEqual([
      ['45', 'running', 'R'],
      ['46', 'held', 'Q'],
    ])
    expect(seen[1]?.reason).toMatch(/priority 0/)
  })

  it('without exit-status files, a finished job stays unknown and no folder is read', async () => {
    const transport = new FakeTransport(
      wrappers((argv) =>
        argv.join(' ') === 'qstat -f 43' ? ok(fixture('qstat-f-final.txt').split('\n\n')[0]) : undefined,
      ),
    )
    const [seen] = await adapter(transport, { exitStatusFiles: false, jobsRoot: '/j' }).poll(ids('43'))
    expect(seen).toMatchObject({ state: 'unknown', reason: 'finished without an exit status' })
    expect(transport.scripts).toEqual([])
  })
})

describe('poll errors', () => {
  it('PBS Pro: known jobs are read even when others are unknown (exit 153)', async () => {
    const transport = new FakeTransport((argv) => {
      if (argv.join(' ') === 'qstat --version') return ok('pbs_version = 19.1.3\n')
      if (argv[0] === 'qstat') return exit(153, PBSPRO_JOBS, 'qstat: Unknown Job Id 9.srv\n')
      return undefined
    })
    const seen = await adapter(transport).poll(ids('9.srv', '2.srv.example.org'))
    expect(seen.map((o) => [o.jobId, o.state])).toEqual([['2.srv.example.org', 'running']])
  })

  it('any other failure is a SchedulerCommandError with qstat’s words; an unreachable server is retryable', async () => {
    const broken = new FakeTransport(
      wrappers((argv) => (argv[1] === '-f' ? exit(2, '', 'qstat: bad option\n') : undefined)),
    )
    const error = await adapter(broken)
      .poll(ids('1'))
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SchedulerCommandError)
    expect(error).toMatchObject({ code: 'command-failed', retryable: false, stderr: 'qstat: bad option\n' })

    const down = new FakeTransport(
      wrappers((argv) => (argv[1] === '-f' ? exit(255, '', 'Problem loading jobs.\n') : undefined)),
    )
    await expect(adapter(down).poll(ids('1'))).rejects.toMatchObject({ code: 'scheduler-unavailable', retryable: true })
  })

  it('connection trouble propagates as is', async () => {
    const transport = new FakeTransport(wrappers())
    transport.exec = async () => {
      throw new RpoError('ssh-socket', 'connection reset', { retryable: true })
    }
    await expect(adapter(transport).poll(ids('1'))).rejects.toMatchObject({ code: 'ssh-socket' })
  })
})

describe('submit', () => {
  it('sends one script for the batch; on the wrappers the command records its exit status and the key is the job name', async () => {
    const transport = new FakeTransport(wrappers(), () => ok('rpo-job 0 50\nrpo-job 1 51\n'))
    const pbs = adapter(transport)
    const results = await pbs.submit([
      job('rpo.run-1.prep.1', { command: "echo 'it''s'" }),
      job('rpo.run-1.train.1', {
        dependsOn: [{ submissionKey: asSubmissionKey('rpo.run-1.prep.1'), jobId: null, condition: 'succeeded' }],
      }),
    ])
    expect(results).toEqual([
      { kind: 'submitted', submissionKey: 'rpo.run-1.prep.1', jobId: '50' },
      { kind: 'submitted', submissionKey: 'rpo.run-1.train.1', jobId: '51' },
    ])
    const [script] = transport.scripts
    expect(script).toContain('#PBS -N rpo.run-1.prep.1\n')
    expect(script).toContain('#PBS -q cpu\n#PBS -S /bin/bash')
    expect(script).toContain('/home/u/w/jobs/rpo.run-1.prep.1/exit_status')
    expect(script).toContain(`-W "depend=afterok:\${id_0}"`)

    // the folders of jobs it submitted are known without jobsRoot
    transport.answer = wrappers((argv) =>
      argv.join(' ') === 'qstat -f 50'
        ? ok(fixture('qstat-f-final.txt').split('\n\n')[0]?.replace('Job Id:\t43', 'Job Id:\t50'))
        : undefined,
    )
    transport.files.set('/home/u/w/jobs/rpo.run-1.prep.1/exit_status', '0')
    expect((await pbs.poll(ids('50')))[0]).toMatchObject({ state: 'succeeded', exitCode: 0 })
  })

  it('a job that cannot be rendered is rejected with the reason, and so are its in-batch dependents', async () => {
    const transport = new FakeTransport(wrappers(), () => ok('rpo-job 0 60\n'))
    const results = await adapter(transport).submit([
      job('gpu', {
        resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 60, nodes: 1, gpus: { count: 1, types: ['a100'] } },
      }),
      job('after-gpu', { dependsOn: [{ submissionKey: asSubmissionKey('gpu'), jobId: null, condition: 'finished' }] }),
      job('free'),
    ])
    expect(results).toEqual([
      { kind: 'rejected', submissionKey: 'gpu', message: expect.stringMatching(/gpuTypeResource/) },
      { kind: 'rejected', submissionKey: 'after-gpu', message: 'an upstream job of this batch was refused' },
      { kind: 'submitted', submissionKey: 'free', jobId: '60' },
    ])
    expect(transport.scripts[0]).not.toContain('after-gpu')
  })

  it('an unreachable server or a script that died part way is an error, so the engine looks the keys up', async () => {
    const down = new FakeTransport(wrappers(), () =>
      ok('rpo-job 0 70\nrpo-fail 1 sbatch: error: Batch job submission failed: Unable to contact slurm controller\n'),
    )
    await expect(adapter(down).submit([job('a'), job('b')])).rejects.toMatchObject({
      code: 'scheduler-unavailable',
      retryable: true,
    })
    const died = new FakeTransport(wrappers(), () => exit(137, 'rpo-job 0 70\n', 'Killed\n'))
    await expect(adapter(died).submit([job('a'), job('b')])).rejects.toThrow(/stopped after 1 of 2 job\(s\): Killed/)
    const noDirs = new FakeTransport(wrappers(), () => exit(3, 'rpo-mkdir-failed\n', 'mkdir: Permission denied\n'))
    await expect(adapter(noDirs).submit([job('a')])).rejects.toThrow(/cannot create the job folders/)
  })
})

describe('findBySubmissionKey', () => {
  it('filters the full qstat listing, and finds jobs the wrappers forgot through their job_id file', async () => {
    const transport = new FakeTransport(
      wrappers((argv) => (argv.join(' ') === 'qstat -f' ? ok(fixture('qstat-f-final.txt')) : undefined)),
    )
    transport.files.set('/j/rpo.gone.1/job_id', '12\n')
    transport.files.set('/j/rpo.garbled.1/job_id', 'not an id\n')
    const found = await adapter(transport, { jobsRoot: '/j' }).findBySubmissionKey(
      ['rpo-pbsfx-ok', 'rpo.gone.1', 'rpo.garbled.1', 'rpo.never.1'].map(asSubmissionKey),
    )
    expect([...found]).toEqual([
      ['rpo-pbsfx-ok', '43'],
      ['rpo.gone.1', '12'],
    ])
  })

  it('no jobs at all (exit 153) is an empty answer', async () => {
    const transport = new FakeTransport(wrappers((argv) => (argv.join(' ') === 'qstat -f' ? exit(153) : undefined)))
    expect(await adapter(transport).findBySubmissionKey([asSubmissionKey('k')])).toEqual(new Map())
    expect(transport.scripts).toEqual([])
  })
})

describe('cancel, hold, release, priority, signals', () => {
  it('wrappers: marks the jobs it knows, then qdel; a job that already ended is no error', async () => {
    const transport = new FakeTransport(wrappers(), (script) =>
      script.includes('rpo_qsub') ? ok('rpo-job 0 80\n') : exit(1),
    )
    const pbs = adapter(transport)
    await pbs.submit([job('a')])
    await pbs.cancel(ids('80', '81'))
    expect(transport.scripts[1]).toBe('touch -- /home/u/w/jobs/a/cancel_requested 2>/dev/null\nexec qdel 80 81\n')
    transport.scriptAnswer = () => exit(1, 'qdel: Kill job error on job id 80: Access/permission denied\n')
    await expect(pbs.cancel(ids('80'))).rejects.toMatchObject({ code: 'command-failed' })
  })

  it('PBS Pro: qdel of unknown or finished jobs is no error; a refusal is', async () => {
    const transport = new FakeTransport((argv) => {
      const line = argv.join(' ')
      if (line === 'qstat --version') return ok('pbs_version = 2022.1.1')
      if (line === 'qdel 1.srv') return exit(153, '', 'qdel: Unknown Job Id 1.srv\n')
      if (line === 'qdel 2.srv') return exit(35, '', 'qdel: Job has finished 2.srv\n')
      if (line === 'qdel 3.srv') return exit(159, '', 'qdel: Unauthorized Request  3.srv\n')
      return undefined
    })
    const pbs = adapter(transport)
    await pbs.cancel(ids('1.srv'))
    await pbs.cancel(ids('2.srv'))
    await expect(pbs.cancel(ids('3.srv'))).rejects.toMatchObject({
      code: 'command-failed',
      stderr: 'qdel: Unauthorized Request  3.srv\n',
    })
    expect(transport.scripts).toEqual([])
  })

  it('hold and release take many ids; a refusal is an error', async () => {
    const transport = new FakeTransport(
      wrappers((argv) => {
        if (argv[0] === 'qhold')
          return ok('', 'Use of uninitialized value $hold in string eq at /usr/bin/qhold line 97\n')
        if (argv.join(' ') === 'qrls 5 6') return ok()
        if (argv[0] === 'qrls') return exit(1, 'qrls: Error on job id 7: Invalid job id specified\n')
        return undefined
      }),
    )
    const pbs = adapter(transport)
    await pbs.control(ids('5', '6'), { kind: 'hold' })
    await pbs.control(ids('5', '6'), { kind: 'release' })
    await expect(pbs.control(ids('7'), { kind: 'release' })).rejects.toThrow(/Invalid job id specified/)
    await pbs.control([], { kind: 'hold' })
    // what the server allows is known once its flavor is
    expect(transport.schedulerCommands).toEqual(['qstat --version', 'qhold 5 6', 'qrls 5 6', 'qrls 7'])
  })

  it('priority and signals: unsupported on the wrappers, whose flavor row has neither; qalter -p/qsig on PBS', async () => {
    const transport = new FakeTransport(wrappers())
    const wrapped = adapter(transport)
    await expect(wrapped.control(ids('1'), { kind: 'nice', nice: 5 })).rejects.toMatchObject({
      code: 'unsupported',
      message:
        'changing job priorities is not supported by the Slurm Torque wrappers (qstat names no version) (capabilities.priority is off)',
    })
    await expect(wrapped.control(ids('1'), { kind: 'signal', signal: 'USR1' })).rejects.toMatchObject({
      code: 'unsupported',
    })
    // refused, never attempted
    expect(transport.schedulerCommands).toEqual(['qstat --version'])

    const pbs = new FakeTransport((argv) => (argv[0] === 'qstat' ? ok('pbs_version = 2022.1.1') : ok()))
    const pro = adapter(pbs)
    await pro.control(ids('1.srv'), { kind: 'signal', signal: 'USR1' })
    // the budget policy's nice (0 first … 10000 last) maps onto PBS's 1023 … -1024
    await pro.control(ids('3.srv'), { kind: 'nice', nice: 0 })
    await pro.control(ids('4.srv'), { kind: 'nice', nice: 10_000 })
    await pro.control(ids('5.srv'), { kind: 'nice', nice: 5_000 })
    expect(pbs.schedulerCommands).toEqual([
      'qstat --version',
      'qsig -s USR1 1.srv',
      'qalter -p 1023 3.srv',
      'qalter -p -1024 4.srv',
      'qalter -p 0 5.srv',
    ])
  })
})

describe('inventory, renderScript, close', () => {
  it('reads the nodes in the dialect’s format', async () => {
    const { nodes } = await adapter(new FakeTransport(wrappers())).inventory()
    expect(nodes.map((n) => [n.name, n.cpus, n.memoryMb, n.gpus])).toEqual([
      ['cpu1', 16, 128000, []],
      ['cpu2', 16, 128000, []],
      ['gpu1', 8, 64000, [{ type: 'a100', count: 4 }]],
      ['gpu2', 8, 64000, [{ type: 'a100', count: 4 }]],
      ['gpu3', 8, 32000, [{ type: 'v100', count: 2 }]],
    ])
    const transport = new FakeTransport((argv) =>
      argv.join(' ') === 'pbsnodes -av -F json'
        ? ok(JSON.stringify({ nodes: { n1: { state: 'free', resources_available: { ncpus: 4, mem: '8gb' } } } }))
        : undefined,
    )
    expect((await adapter(transport, { flavor: 'openpbs' }).inventory()).nodes).toMatchObject([
      { name: 'n1', cpus: 4, memoryMb: 8192 },
    ])
  })

  it('renders the script as submitted: plain exec on real PBS, the exit-status wrapper on the wrappers', async () => {
    expect(() => adapter(new FakeTransport(wrappers())).renderScript(job('a'))).toThrow(/flavor is not known yet/)
    const torque = adapter(new FakeTransport(() => undefined), { flavor: 'torque' }).renderScript(
      job('rpo.run-1.task.1'),
    )
    expect(torque).toContain("exec /bin/bash -c 'echo hi'\n")
    // Torque's 15-character names: the key travels in a variable
    expect(torque).toMatch(/#PBS -N rpo-[0-9a-f]{8}\n/)
    expect(torque).toContain('#PBS -v RPO_SUBMISSION_KEY=rpo.run-1.task.1')
    const wrapped = adapter(new FakeTransport(wrappers()))
    await wrapped.detect()
    const script = wrapped.renderScript(job('rpo.r1.task.1'))
    expect(script).toContain('#PBS -N rpo.r1.task.1\n')
    expect(script).not.toContain('RPO_SUBMISSION_KEY')
    expect(script).toContain("/bin/bash -c '\\''echo hi'\\''\nrpo_status=$?")
    // rpo compile: one script per job (never arrays on the wrappers, so a sweep's instances go one by one)
    const sweep = [0, 1].map((index) => ({
      ...job(`rpo.r1.train.${index}.1`),
      array: { key: asSubmissionKey('rpo.r1.train'), index, throttle: null },
    }))
    expect(wrapped.renderScripts(sweep).map((u) => u.keys)).toEqual([['rpo.r1.train.0.1'], ['rpo.r1.train.1.1']])
  })

  it('close closes the transport', async () => {
    const transport = new FakeTransport(wrappers())
    await adapter(transport).close()
    expect(transport.closed).toBe(true)
  })
})
