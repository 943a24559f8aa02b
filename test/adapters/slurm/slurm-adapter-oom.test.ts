// A job Slurm killed for exceeding its memory on a cluster without cgroups (OverMemoryKill) ends
// FAILED 0:9, not OUT_OF_MEMORY: the adapter must still report it out_of_memory, or the task's
// retries.oomMemoryFactor never applies. The scheduler commands are small scripts on PATH that answer
// with what the 22.05 testbed printed for such a job (fixtures/testbed-22.05/*over-memory*); the
// adapter's remote scripts run for real, through the local transport, against real job folders.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { SlurmAdapter } from '../../../adapters/slurm/slurm-adapter.js'
import { asNativeJobId, asSubmissionKey, type JobSubmission } from '../../../src/scheduler/scheduler-adapter.js'
import { createLocalTransport } from '../../../src/transport/local-transport.js'
import { makeWorkDir } from '../../support/cli-harness.js'
import { testbedCapture } from './testbed-captures.js'

const TESTBED = join(import.meta.dirname, 'fixtures', 'testbed-22.05')
const SACCT = testbedCapture('sacct-over-memory.txt')
const STDERR = readFileSync(join(TESTBED, 'slurm-over-memory.err'), 'utf8')
const KEY = asSubmissionKey('rpo.r1.train.1')

/** A cluster whose squeue has forgotten job 30 and whose sacct prints `sacct` for it. */
function cluster(sacct: string): { root: string; adapter: (jobsRoot?: string) => SlurmAdapter } {
  const root = makeWorkDir('rpo-oom-')
  const bin = join(root, 'bin')
  mkdirSync(bin)
  writeFileSync(join(root, 'sacct.txt'), sacct)
  const tool = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`)
    chmodSync(join(bin, name), 0o755)
  }
  tool('squeue', 'exit 0')
  tool('sacct', `cat ${JSON.stringify(join(root, 'sacct.txt'))}`)
  tool('sbatch', 'cat >/dev/null; echo 30')
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` }
  return {
    root,
    adapter: (jobsRoot) =>
      new SlurmAdapter({ transport: createLocalTransport({ env }), ...(jobsRoot ? { jobsRoot } : {}) }),
  }
}

function job(jobDir: string): JobSubmission {
  return {
    submissionKey: KEY,
    runId: 'r1',
    taskId: 'train',
    attempt: 1,
    command: 'python3 train.py',
    workDir: jobDir,
    jobDir,
    env: {},
    resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 600, gpus: null, nodes: 1 },
    dependsOn: [],
    project: null,
  }
}

// the captured job, named as rpo names its jobs; `maxRss` replaces the batch step's MaxRSS
function capturedJob(options: { maxRss?: string; exitCode?: string } = {}): string {
  return SACCT.split('\n')
    .map((line) => {
      const cells = line.split('\u001f')
      if (cells.length < 14) return line
      if (cells[2] === 'sched-oomprobe') cells[2] = KEY
      if (options.maxRss !== undefined && cells[0] === '30.batch') cells[13] = options.maxRss
      if (options.exitCode !== undefined) cells[5] = options.exitCode
      return cells.join('\u001f')
    })
    .join('\n')
}

describe('SlurmAdapter.poll: jobs killed by OverMemoryKill (no cgroups)', () => {
  it('reports FAILED 0:9 with a step MaxRSS over the allocated memory as out_of_memory', async () => {
    const { adapter } = cluster(capturedJob())
    const [o] = await adapter().poll([asNativeJobId('30')])
    expect(o).toMatchObject({ jobId: '30', state: 'out_of_memory', nativeState: 'FAILED', signal: 'SIGKILL' })
    expect(o?.reason).toMatch(/memory enforcement.*309 MB.*100 MB/)
  })

  it('reads slurmstepd’s message in the job’s stderr when accounting is not conclusive', async () => {
    const { root, adapter } = cluster(capturedJob({ maxRss: '' }))
    const dir = join(root, 'jobs', KEY)
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'slurm-30.err'), `Traceback? no: ${'x'.repeat(50_000)}\n${STDERR}`)
    // a job this adapter submitted: it knows the folder
    const submitting = adapter()
    await expect(submitting.submit([job(dir)])).resolves.toEqual([
      { kind: 'submitted', submissionKey: KEY, jobId: '30' },
    ])
    const [o] = await submitting.poll([asNativeJobId('30')])
    expect(o).toMatchObject({ state: 'out_of_memory', nativeState: 'FAILED' })
    expect(o?.reason).toContain('StepId=30.batch exceeded memory limit (324415488 > 104857600)')
    expect(o?.reason).toMatch(/309 MB used, 100 MB allowed/)
    // after a restart: the folder is found under jobsRoot by the job's name (its submission key)
    const [again] = await adapter(join(root, 'jobs')).poll([asNativeJobId('30')])
    expect(again?.state).toBe('out_of_memory')
  })

  it('keeps a plain failure a failure, message or not elsewhere', async () => {
    const { root, adapter } = cluster(capturedJob({ maxRss: '', exitCode: '3:0' }))
    const dir = join(root, 'jobs', KEY)
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'slurm-30.err'), 'Traceback (most recent call last):\nValueError: bad input\n')
    // another job's folder says it: no effect on this one
    mkdirSync(join(root, 'jobs', 'other'), { recursive: true })
    writeFileSync(join(root, 'jobs', 'other', 'slurm-30.err'), STDERR)
    const [o] = await adapter(join(root, 'jobs')).poll([asNativeJobId('30')])
    expect(o).toMatchObject({ state: 'failed', exitCode: 3 })
  })

  it('never reads output for a job whose folder it cannot know', async () => {
    const { adapter } = cluster(capturedJob({ maxRss: '' }))
    const [o] = await adapter().poll([asNativeJobId('30')])
    expect(o).toMatchObject({ state: 'failed', signal: 'SIGKILL' })
  })
})
