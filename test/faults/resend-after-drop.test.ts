// The connection drops while a batch is being submitted: part of it reached the scheduler. The next
// tick finds those jobs by submission key and resends the rest, whose dependencies on the found
// jobs must carry their ids — a batch cannot wire a dependency on a job it does not send (sbatch's
// batch script refuses that with an internal error, seen live in the sshd-cut fault test).
import { describe, expect, it } from 'vitest'
import { SimAdapter } from '../../adapters/sim/sim-adapter.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { RpoError, TransportError } from '../../src/core/errors.js'
import type { JobSubmission, SubmitResult } from '../../src/scheduler/scheduler-adapter.js'
import { simEngine } from '../support/sim-engine.js'

/** The simulated cluster behind a connection that drops once, after the first job of a batch went out. */
class DroppingConnection extends SimAdapter {
  drops = 1

  override async submit(jobs: readonly JobSubmission[]): Promise<readonly SubmitResult[]> {
    // what a batch script can wire: a dependency known by id, or on a job sent before it in the batch
    jobs.forEach((job, i) => {
      for (const d of job.dependsOn) {
        if (d.jobId === null && !jobs.slice(0, i).some((j) => j.submissionKey === d.submissionKey))
          throw new RpoError(
            'internal',
            `${job.submissionKey} depends on ${d.submissionKey}, which is not submitted before it in the batch`,
          )
      }
    })
    if (this.drops > 0) {
      this.drops--
      await super.submit(jobs.slice(0, 1))
      throw new TransportError('ssh-socket', 'the connection dropped while the batch script was running')
    }
    return super.submit(jobs)
  }
}

describe('a resend after a dropped connection', () => {
  it('wires dependencies on the jobs found by key, and every task runs once', async () => {
    const { clock, cluster, engine, close } = await simEngine({
      start: Date.parse('2026-11-02T08:00:00Z'),
      nodes: [{ name: 'c1', cpus: 4, memoryMb: 8000 }],
      adapter: (cluster) => new DroppingConnection({ cluster }),
    })
    try {
      const errors: string[] = []
      engine.events.on('submit:error', (e) => errors.push(`${e.code}: ${e.message}`))
      const loaded = loadPipelineText(
        '/sim/p.yaml',
        'name: p\ntasks:\n  a: { command: x }\n  b: { command: x, after: [a] }\n  c: { command: x, after: [a] }\n',
      )
      const runId = (await engine.startRun(loaded)).run.id
      let state = (await engine.tick(runId)).state // a went out, then the connection dropped
      for (let i = 0; i < 20 && state === 'running'; i++) {
        clock.advanceBy(30_000)
        state = (await engine.tick(runId)).state
      }
      expect(errors.filter((e) => e.startsWith('internal'))).toEqual([])
      expect(state).toBe('succeeded')
      const found = await cluster.findBySubmissionKey(['a', 'b', 'c'].map((t) => `rpo.${runId}.${t}.1` as never))
      expect(found.size).toBe(3)
    } finally {
      await close()
    }
  })
})
