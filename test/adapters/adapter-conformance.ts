/**
 * The adapter contract, as one suite every SchedulerAdapter passes (local, Slurm, and PBS when it
 * lands): what the engine relies on, checked against the real thing each adapter drives.
 */
import { describe, expect, it } from 'vitest'
import { isTerminalJobState } from '../../src/core/job/job-state.js'
import {
  asNativeJobId,
  asSubmissionKey,
  controlCapability,
  type JobControl,
  type JobObservation,
  type JobSubmission,
  type SchedulerAdapter,
} from '../../src/scheduler/scheduler-adapter.js'

export interface ConformanceTarget {
  readonly adapter: () => SchedulerAdapter
  /** A job running `command`, with a unique key and a job folder the adapter can write. */
  readonly job: (key: string, command: string) => JobSubmission
  /** A unique prefix for this suite run's submission keys. */
  readonly keyPrefix: string
  /** A job id the scheduler has never heard of. */
  readonly unknownJobId: string
}

async function waitFor(
  adapter: SchedulerAdapter,
  jobId: string,
  done: (o: JobObservation) => boolean,
  timeoutMs = 60_000,
): Promise<JobObservation> {
  const deadline = Date.now() + timeoutMs
  let last: JobObservation | undefined
  while (Date.now() < deadline) {
    ;[last] = await adapter.poll([asNativeJobId(jobId)])
    if (last && done(last)) return last
    await new Promise((r) => setTimeout(r, 300))
  }
  throw new Error(`job ${jobId} did not reach the expected state; last seen ${JSON.stringify(last)}`)
}

export function describeAdapterConformance(name: string, target: ConformanceTarget): void {
  describe(`${name} adapter conformance`, () => {
    const key = (suffix: string) => asSubmissionKey(`${target.keyPrefix}.${suffix}`)

    it('describes its nodes', async () => {
      const inventory = await target.adapter().inventory()
      expect(inventory.nodes.length).toBeGreaterThan(0)
      for (const node of inventory.nodes) expect(node.cpus).toBeGreaterThan(0)
    })

    it('submits a batch and reports each job to a terminal state with exit codes', async () => {
      const adapter = target.adapter()
      const results = await adapter.submit([target.job(key('ok'), 'echo fine'), target.job(key('bad'), 'exit 4')])
      expect(results.map((r) => r.kind)).toEqual(['submitted', 'submitted'])
      const [ok, bad] = results as unknown as { jobId: string }[]
      const okEnd = await waitFor(adapter, ok!.jobId, (o) => isTerminalJobState(o.state))
      expect(okEnd).toMatchObject({ state: 'succeeded', exitCode: 0 })
      expect(okEnd.startedAt).toBeInstanceOf(Date)
      const badEnd = await waitFor(adapter, bad!.jobId, (o) => isTerminalJobState(o.state))
      expect(badEnd).toMatchObject({ state: 'failed', exitCode: 4 })
    })

    it('finds a submitted job by its submission key, and only that one', async () => {
      const adapter = target.adapter()
      const [result] = await adapter.submit([target.job(key('findme'), 'sleep 1')])
      const found = await adapter.findBySubmissionKey([key('findme'), key('never-submitted')])
      expect([...found.entries()]).toEqual([[key('findme'), (result as { jobId: string }).jobId]])
    })

    it('cancels a running job', async () => {
      const adapter = target.adapter()
      const [result] = await adapter.submit([target.job(key('long'), 'sleep 60')])
      const jobId = (result as { jobId: string }).jobId
      await waitFor(adapter, jobId, (o) => o.state === 'running')
      await adapter.cancel([asNativeJobId(jobId)])
      const end = await waitFor(adapter, jobId, (o) => isTerminalJobState(o.state))
      expect(end.state).toBe('cancelled')
    })

    it('says nothing about a job it does not know (missing is not success)', async () => {
      const observations = await target.adapter().poll([asNativeJobId(target.unknownJobId)])
      expect(observations).toEqual([])
    })

    it('refuses, as unsupported, every control its capabilities deny', async () => {
      const adapter = target.adapter()
      await adapter.inventory() // a target that learns what it can do on first contact (PBS) has learnt it
      const actions: JobControl[] = [
        { kind: 'hold' },
        { kind: 'release' },
        { kind: 'signal', signal: 'USR2' },
        { kind: 'nice', nice: 10 },
      ]
      for (const action of actions) {
        const done = adapter.control([asNativeJobId(target.unknownJobId)], action)
        if (adapter.capabilities[controlCapability(action)]) await done.catch(() => undefined)
        else await expect(done).rejects.toMatchObject({ code: 'unsupported' })
      }
    })

    it('holds and releases a pending job when it can', async () => {
      const adapter = target.adapter()
      if (!adapter.capabilities.hold) return
      // a dependency on a running sleeper keeps the job pending while we hold it
      const [blocker] = await adapter.submit([target.job(key('blocker'), 'sleep 4')])
      const blockerId = (blocker as { jobId: string }).jobId
      const waiting = {
        ...target.job(key('held'), 'echo released'),
        dependsOn: [
          { submissionKey: key('blocker'), jobId: asNativeJobId(blockerId), condition: 'succeeded' as const },
        ],
      }
      const [held] = await adapter.submit([waiting])
      const heldId = (held as { jobId: string }).jobId
      await adapter.control([asNativeJobId(heldId)], { kind: 'hold' })
      await waitFor(adapter, heldId, (o) => o.state === 'held')
      await waitFor(adapter, blockerId, (o) => o.state === 'succeeded')
      // still held after its dependency is satisfied
      expect((await adapter.poll([asNativeJobId(heldId)]))[0]?.state).toBe('held')
      await adapter.control([asNativeJobId(heldId)], { kind: 'release' })
      expect((await waitFor(adapter, heldId, (o) => isTerminalJobState(o.state))).state).toBe('succeeded')
    })
  })
}
