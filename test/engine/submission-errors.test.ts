// What a submission that throws does to its attempts: an error rpo cannot wait out (a job folder it
// cannot write) ends them failed with the error as the reason, so the run ends; a dropped connection
// leaves them `submitting`, looked up and sent again on the next tick.
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { SimAdapter, type SimAdapterOptions } from '../../adapters/sim/sim-adapter.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { RpoError } from '../../src/core/errors.js'
import type { JobSubmission } from '../../src/scheduler/scheduler-adapter.js'
import { makeWorkDir, spawnCli, writePipeline } from '../support/cli-harness.js'
import { simEngine } from '../support/sim-engine.js'

const START = Date.parse('2026-11-02T08:00:00Z')
const closing: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closing.splice(0)) await close()
})

/** The sim cluster's adapter whose submit throws `failure()` while it returns an error. */
class FailingSubmit extends SimAdapter {
  constructor(
    options: SimAdapterOptions,
    readonly failure: () => Error | null,
  ) {
    super(options)
  }
  override async submit(jobs: readonly JobSubmission[]) {
    const error = this.failure()
    if (error) throw error
    return super.submit(jobs)
  }
}

async function engineWithSubmit(failure: () => Error | null) {
  const sim = await simEngine({
    start: START,
    nodes: [{ name: 'c1', cpus: 8, memoryMb: 16_000 }],
    adapter: (cluster) => new FailingSubmit({ cluster }, failure),
  })
  closing.push(() => sim.close())
  return sim
}

const PIPELINE = loadPipelineText(
  '/sim/p.yaml',
  'name: p\ntasks:\n  a: { command: x, retries: 1, env: { RPO_SIM_DURATION: 10s } }\n  b: { command: x, after: [a] }\n',
)

describe('a submission that throws', () => {
  it('ends its attempts failed with the error when it is not transient, so the run ends instead of looping', async () => {
    const { engine, store, cluster } = await engineWithSubmit(
      () => new Error("ENAMETOOLONG: name too long, mkdir '/jobs/rpo.p.aaaa…'"),
    )
    const errors: string[] = []
    engine.events.on('submit:error', (e) => errors.push(`${e.code}: ${e.message}`))
    const runId = (await engine.startRun(PIPELINE)).run.id
    let state = 'running'
    for (let i = 0; i < 10 && state === 'running'; i++) {
      state = (await engine.tick(runId)).state
      cluster.advanceBy(60_000)
    }
    expect(state).toBe('failed')
    const { snapshot } = await store.loadSnapshot(runId)
    const a = snapshot.tasks.find((t) => t.id === 'a')
    // the retry policy saw two failed attempts, not an endless resend of the first
    expect(a?.state).toBe('failed')
    expect(a?.attempts).toBe(2)
    expect(a?.reason).toContain('ENAMETOOLONG')
    expect(snapshot.latestAttempts.find((x) => x.taskId === 'a')?.reason).toContain(
      'submission failed: ENAMETOOLONG: name too long',
    )
    // b went out in a's batch (a scheduler dependency): its own submission failed the same way
    expect(snapshot.tasks.find((t) => t.id === 'b')?.state).toBe('failed')
    expect(errors).toHaveLength(2)
  })

  it('leaves its attempts to be looked up and sent again when the connection dropped', async () => {
    let drops = 1
    const { engine, store, cluster } = await engineWithSubmit(() =>
      drops-- > 0 ? new RpoError('ssh-socket', 'connection reset by peer', { retryable: true }) : null,
    )
    const runId = (await engine.startRun(PIPELINE)).run.id
    expect((await engine.tick(runId)).submitted).toBe(0)
    const first = (await store.loadSnapshot(runId)).snapshot.latestAttempts.find((x) => x.taskId === 'a')
    expect(first?.state).toBe('submitting')
    expect((await engine.tick(runId)).submitted).toBe(2)
    let state = 'running'
    for (let i = 0; i < 10 && state === 'running'; i++) {
      cluster.advanceBy(60_000)
      state = (await engine.tick(runId)).state
    }
    expect(state).toBe('succeeded')
    const a = (await store.loadSnapshot(runId)).snapshot.tasks.find((t) => t.id === 'a')
    expect(a?.attempts).toBe(1)
  })
})

describe('rpo run when the local executor cannot write a job folder', () => {
  it('ends the run failed with the error, instead of retrying the submission forever (even with -q)', async () => {
    const dir = makeWorkDir()
    writePipeline(dir, 'p.yaml', 'name: p\ntasks:\n  a: { command: "true" }\n')
    // the jobs folder is a file: every job folder under it fails with ENOTDIR
    mkdirSync(path.join(dir, '.rpo'))
    writeFileSync(path.join(dir, '.rpo', 'jobs'), '')
    const cli = spawnCli(dir, ['run', 'p.yaml', '-q', '--json'])
    const guard = setTimeout(() => cli.child.kill('SIGKILL'), 20_000)
    const { code, stdout } = await cli.closed()
    clearTimeout(guard)
    expect(code).toBe(1)
    const task = JSON.parse(stdout).tasks[0]
    expect(task.state).toBe('failed')
    expect(task.reason).toContain('submission failed: ENOTDIR')
  }, 30_000)
})
