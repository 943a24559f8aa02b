// The local executor as the engine uses it: submit, poll, cancel, find by key, and what it reports
// when its launcher process disappears.
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { LocalAdapter } from '../../../adapters/local/local-adapter.js'
import type { ResolvedLocalCluster } from '../../../src/config/load-config.js'
import {
  asNativeJobId,
  asSubmissionKey,
  type JobObservation,
  type JobSubmission,
} from '../../../src/scheduler/scheduler-adapter.js'
import { isProcessAlive, makeWorkDir } from '../../support/cli-harness.js'

const cluster: ResolvedLocalCluster = {
  kind: 'local',
  name: 'box',
  cpus: 2,
  memoryMb: 2048,
  gpus: [{ type: 'a100', count: 2, memoryMb: null }],
  killGraceMs: 300,
  pollIntervalMs: 50,
}

function setup() {
  const dir = makeWorkDir()
  const jobsRoot = path.join(dir, 'jobs')
  const adapter = new LocalAdapter({ cluster, jobsRoot })
  const job = (key: string, command: string, extra: Partial<JobSubmission> = {}): JobSubmission => ({
    submissionKey: asSubmissionKey(key),
    runId: 'r1',
    taskId: key,
    attempt: 1,
    command,
    workDir: dir,
    jobDir: path.join(jobsRoot, key),
    env: { GREETING: "it's $HOME" },
    resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 30, gpus: null, nodes: 1 },
    dependsOn: [],
    project: null,
    ...extra,
  })
  return { dir, jobsRoot, adapter, job }
}

async function until(adapter: LocalAdapter, id: string, done: (o: JobObservation) => boolean): Promise<JobObservation> {
  for (let i = 0; i < 200; i++) {
    const [o] = await adapter.poll([asNativeJobId(id)])
    if (o && done(o)) return o
    await adapter.waitForChange(50)
  }
  throw new Error(`job ${id} did not reach the expected state`)
}

describe('LocalAdapter', () => {
  it('runs a command in the work dir with its environment, logs output, reports success and usage', async () => {
    const { dir, adapter, job, jobsRoot } = setup()
    const [result] = await adapter.submit([job('a', 'echo "$GREETING" > greeting.txt; echo out; echo err >&2')])
    expect(result).toEqual({ kind: 'submitted', submissionKey: 'a', jobId: 'a' })
    const o = await until(adapter, 'a', (x) => x.state === 'succeeded')
    expect(o.exitCode).toBe(0)
    expect(o.usage?.allocTres).toEqual({ cpu: 1, mem: 100, 'gres/gpu': 0 })
    expect(readFileSync(path.join(dir, 'greeting.txt'), 'utf8')).toBe("it's $HOME\n")
    expect(readFileSync(path.join(jobsRoot, 'a/stdout.log'), 'utf8')).toBe('out\n')
    expect(readFileSync(path.join(jobsRoot, 'a/stderr.log'), 'utf8')).toBe('err\n')
  })

  it('reports a failing command with its exit code and last stderr line', async () => {
    const { adapter, job } = setup()
    await adapter.submit([job('f', 'echo "disk full" >&2; exit 7')])
    const o = await until(adapter, 'f', (x) => x.state === 'failed')
    expect(o.exitCode).toBe(7)
    expect(o.reason).toBe('exited with code 7: disk full')
  })

  it('a resend of the same key does not start the command again', async () => {
    const { dir, adapter, job } = setup()
    const j = job('once', 'echo run >> count.log')
    await adapter.submit([j])
    await until(adapter, 'once', (x) => x.state === 'succeeded')
    await adapter.submit([j])
    expect(readFileSync(path.join(dir, 'count.log'), 'utf8')).toBe('run\n')
    const found = await adapter.findBySubmissionKey([asSubmissionKey('once'), asSubmissionKey('never')])
    expect([...found.entries()]).toEqual([['once', 'once']])
  })

  it('cancel stops the whole process tree, even a background grandchild', async () => {
    const { dir, adapter, job } = setup()
    await adapter.submit([job('c', '(sleep 30; touch leaked) & echo $! > child.pid; sleep 30')])
    await until(adapter, 'c', (x) => x.state === 'running')
    for (let i = 0; i < 100 && !existsSync(path.join(dir, 'child.pid')); i++)
      await new Promise((r) => setTimeout(r, 20))
    const grandchild = Number(readFileSync(path.join(dir, 'child.pid'), 'utf8'))
    await adapter.cancel([asNativeJobId('c')])
    const o = await until(adapter, 'c', (x) => x.state === 'cancelled')
    expect(o.reason).toBe('cancelled')
    await new Promise((r) => setTimeout(r, 100))
    expect(isProcessAlive(grandchild)).toBe(false)
  })

  it('a cancel that arrives before the launcher started means the command never runs', async () => {
    const { dir, adapter, job } = setup()
    await adapter.submit([job('early', 'touch ran')])
    await adapter.cancel([asNativeJobId('early')])
    const o = await until(adapter, 'early', (x) => x.state !== 'pending' && x.state !== 'running')
    if (o.state === 'cancelled')
      expect(existsSync(path.join(dir, 'ran'))).toBe(o.reason !== 'cancelled before it started')
    else expect(o.state).toBe('succeeded')
  })

  it('reports node_fail when the launcher was killed without recording an end', async () => {
    const { adapter, job, jobsRoot } = setup()
    await adapter.submit([job('k', 'sleep 30')])
    await until(adapter, 'k', (x) => x.state === 'running')
    const status = JSON.parse(readFileSync(path.join(jobsRoot, 'k/status.json'), 'utf8'))
    process.kill(status.launcherPid, 'SIGKILL')
    process.kill(-status.pid, 'SIGKILL')
    const o = await until(adapter, 'k', (x) => x.state === 'node_fail')
    expect(o.reason).toContain('launcher process disappeared')
  })

  it('hands out GPU indices and refuses when none of the type are free', async () => {
    const { adapter, job } = setup()
    const gpu = { cpus: 1, memoryMb: 10, timeLimitSeconds: 30, gpus: { count: 2, types: ['a100'] }, nodes: 1 }
    await adapter.submit([
      job('g1', 'echo $CUDA_VISIBLE_DEVICES > "$RPO_X"; sleep 1', { resources: gpu, env: { RPO_X: 'g1.txt' } }),
    ])
    await expect(adapter.submit([job('g2', 'true', { resources: gpu })])).rejects.toMatchObject({
      code: 'resources-unsatisfiable',
    })
    // the inventory read live says what it just refused on: no a100 free
    expect((await adapter.inventory({ freeGpus: true })).nodes[0]?.gpusFree).toEqual([{ type: 'a100', count: 0 }])
    await adapter.cancel([asNativeJobId('g1')])
    await until(adapter, 'g1', (x) => x.state === 'cancelled')
    expect((await adapter.inventory({ freeGpus: true })).nodes[0]?.gpusFree).toEqual([{ type: 'a100', count: 2 }])
  })

  it('has an inventory of one node with the configured CPUs, memory and GPUs, and cannot hold', async () => {
    const { adapter } = setup()
    expect(await adapter.inventory()).toEqual({
      nodes: [
        {
          name: 'localhost',
          cpus: 2,
          memoryMb: 2048,
          gpus: [{ type: 'a100', count: 2 }],
          partitions: [],
          state: 'idle',
        },
      ],
    })
    await expect(adapter.control([], { kind: 'hold' })).rejects.toMatchObject({
      code: 'unsupported',
      message: 'holding jobs is not supported by the local executor: it has no queue (capabilities.hold is off)',
    })
    await expect(adapter.control([], { kind: 'nice', nice: 5 })).rejects.toMatchObject({ code: 'unsupported' })
  })
})
