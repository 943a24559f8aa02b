// A job the PBS MoM killed for exceeding its memory (polling enforcement, no cgroups) often ends with
// a plain signal exit status (265/271 = 256 + SIGKILL/SIGTERM) rather than JOB_EXEC_KILL_MEM (-27):
// the adapter must still report it out_of_memory, from accounting (resources_used.mem at or over
// Resource_List.mem) or from the MoM's "=>> PBS: job killed: mem … exceeded limit …" line in the
// job's output. qstat answers are PBS Pro's JSON shape; the output-reading script runs for real.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PbsAdapter } from '../../../adapters/pbs/pbs-adapter.js'
import { asNativeJobId } from '../../../src/scheduler/scheduler-adapter.js'
import { makeWorkDir } from '../../support/cli-harness.js'
import { exit, FakeTransport, ok } from './fake-pbs-transport.js'

const KEY = 'rpo.r1.train.1'

function qstatJson(job: Record<string, unknown>): string {
  return JSON.stringify({
    pbs_version: '2022.1.1',
    Jobs: {
      '5.srv': { Job_Name: KEY, job_state: 'F', stime: '1700000000', obittime: '1700000060', ...job },
    },
  })
}

/** A PBS Pro server printing `job` for 5.srv, with job folders under a real local jobsRoot. */
function cluster(job: Record<string, unknown>): { jobsRoot: string; adapter: PbsAdapter } {
  const jobsRoot = join(makeWorkDir('rpo-pbs-oom-'), 'jobs')
  mkdirSync(join(jobsRoot, KEY), { recursive: true })
  const transport = new FakeTransport(
    (argv) => {
      if (argv.join(' ') === 'qstat --version') return ok('pbs_version = 2022.1.1\n')
      if (argv[0] === 'qstat') return ok(qstatJson(job))
      return undefined
    },
    (script) => {
      const run = spawnSync('bash', ['-c', script], { encoding: 'utf8' })
      return run.status === 0 ? ok(run.stdout, run.stderr) : exit(run.status ?? 1, run.stdout, run.stderr)
    },
  )
  return { jobsRoot, adapter: new PbsAdapter({ transport, jobsRoot }) }
}

describe('PbsAdapter.poll: jobs the MoM killed over their memory', () => {
  it('reads a signal kill with resources_used.mem at or over Resource_List.mem as out_of_memory', async () => {
    const { adapter } = cluster({
      Exit_status: 265,
      resources_used: { mem: '2097152kb', walltime: '00:01:00' },
      Resource_List: { mem: '1gb', walltime: '01:00:00' },
    })
    const [o] = await adapter.poll([asNativeJobId('5.srv')])
    expect(o).toMatchObject({ state: 'out_of_memory', signal: 'SIGKILL' })
    expect(o?.reason).toMatch(/2048 MB.*1024 MB/)
  })

  it('reads the MoM’s kill message in the job’s stderr when accounting does not show it', async () => {
    const { jobsRoot, adapter } = cluster({
      Exit_status: 271,
      resources_used: { mem: '512000kb', walltime: '00:01:00' },
      Resource_List: { mem: '1gb', walltime: '01:00:00' },
    })
    const line = '=>> PBS: job killed: mem job total 4323312 kb exceeded limit 3145728 kb'
    writeFileSync(join(jobsRoot, KEY, 'pbs.err'), `step 1 of 9\n${line}\n`)
    const [o] = await adapter.poll([asNativeJobId('5.srv')])
    expect(o?.state).toBe('out_of_memory')
    expect(o?.reason).toContain(line.slice(4))
  })

  it('keeps a failure without that evidence a failure', async () => {
    const { jobsRoot, adapter } = cluster({
      Exit_status: 1,
      Resource_List: { mem: '1gb', walltime: '01:00:00' },
    })
    writeFileSync(join(jobsRoot, KEY, 'pbs.err'), 'MemoryError? no: ValueError: bad input\n')
    const [o] = await adapter.poll([asNativeJobId('5.srv')])
    expect(o).toMatchObject({ state: 'failed', exitCode: 1 })
  })
})

describe('PbsAdapter.poll on the Slurm Torque wrappers: a job Slurm killed over its memory', () => {
  it('is out_of_memory when slurmstepd’s message is in its stderr, though it recorded no exit status', async () => {
    const fixtures = join(import.meta.dirname, 'fixtures', 'slurm-torque-wrappers')
    const root = join(makeWorkDir('rpo-pbs-oom-'), 'jobs')
    // the captured job 46 stands in: finished (C) without an exit status; its job shell was SIGKILLed too
    mkdirSync(join(root, 'rpo-pbsfx-held'), { recursive: true })
    writeFileSync(
      join(root, 'rpo-pbsfx-held', 'pbs.err'),
      readFileSync(join(import.meta.dirname, '../slurm/fixtures/testbed-22.05/slurm-over-memory.err'), 'utf8'),
    )
    const transport = new FakeTransport(
      (argv) => {
        const line = argv.join(' ')
        if (line === 'qstat --version') return exit(2, '', readFileSync(join(fixtures, 'qstat-version.txt'), 'utf8'))
        if (line === 'qstat -f 46') return ok(readFileSync(join(fixtures, 'qstat-f-final.txt'), 'utf8'))
        return undefined
      },
      (script) => {
        const run = spawnSync('bash', ['-c', script], { encoding: 'utf8' })
        return run.status === 0 ? ok(run.stdout, run.stderr) : exit(run.status ?? 1, run.stdout, run.stderr)
      },
    )
    const [o] = await new PbsAdapter({ transport, jobsRoot: root }).poll([asNativeJobId('46')])
    expect(o?.state).toBe('out_of_memory')
    expect(o?.reason).toContain('exceeded memory limit (324415488 > 104857600)')
  })
})
