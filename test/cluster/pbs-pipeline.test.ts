// The real engine drives a pipeline end to end through the PBS adapter over SSH, on the Slurm testbed's
// Torque wrappers: native dependencies, exit statuses from the job folders, hold/release, and rpo's
// own cancellation of a dependent whose upstream failed. Checked in Slurm's accounting (the wrappers
// run on Slurm), not only in rpo's store.
import { randomUUID } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PbsAdapter } from '../../adapters/pbs/pbs-adapter.js'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { Engine } from '../../src/engine/engine.js'
import { followRun } from '../../src/engine/follow-run.js'
import { asNativeJobId, type NativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import { openDatabase } from '../../src/store/open-store.js'
import { RunStore } from '../../src/store/run-store.js'
import { sacctSettled, testbed, testbedSsh } from './testbed.js'

const t = testbed()
const ssh = testbedSsh()
afterAll(() => ssh.close())

async function harness() {
  const local = mkdtempSync(path.join(os.tmpdir(), 'rpo-pbs-pipeline-'))
  const remote = `${t.workDir}/pbs-pipeline-${randomUUID().slice(0, 8)}`
  const transport = testbedSsh()
  const adapter = new PbsAdapter({
    transport,
    script: { queue: 'cpu', account: t.defaultAccount },
    jobsRoot: `${remote}/jobs`,
  })
  const store = new RunStore(
    await openDatabase({ kind: 'sqlite', path: path.join(local, 'rpo.db'), busyTimeoutMs: 2000 }),
  )
  const engine = new Engine({
    store,
    adapter,
    clusterName: 'pbs',
    jobsRoot: `${remote}/jobs`,
    runsRoot: `${remote}/runs`,
    jobWorkDir: remote,
    readFile: (file) => transport.readFile(file).catch(() => null),
    capacity: null,
  })
  // a second adapter with its own connection, as another rpo process would be: it finds the job
  // folders through jobsRoot, not through memory of its own submissions
  const observer = new PbsAdapter({ transport: testbedSsh(), jobsRoot: `${remote}/jobs` })
  return {
    local,
    remote,
    store,
    engine,
    observer,
    /** Cancel what a failed test left running, then close everything. */
    async close(runId?: string) {
      if (runId !== undefined) await engine.stopRun(runId, 'cancel', { waitMs: 0 }).catch(() => undefined)
      await engine.close()
      await observer.close()
      await store.close()
    },
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(300)
  }
}

describe('the engine on PBS (Slurm torque wrappers) over SSH', () => {
  it('runs prep → 3-way matrix → report in dependency order, and a held job waits for its release', async () => {
    const h = await harness()
    let runId: string | undefined
    try {
      const loaded = loadPipelineText(
        path.join(h.local, 'pipeline.yaml'),
        `
name: pbsstages
defaults:
  resources: { partition: cpu, time: 2m, memory: 100M }
tasks:
  prep:
    command: sleep 3; echo prepared > "$RPO_OUTPUT_DIR/data.txt"
  train:
    after: [prep]
    matrix: { lr: [1, 2, 3] }
    command: grep -q prepared "$RPO_RUN_DIR/prep/data.txt" && echo "lr={{params.lr}}" > "$RPO_OUTPUT_DIR/lr.txt" && sleep 1
  report:
    after: [train]
    command: cat "$RPO_RUN_DIR"/train.*/lr.txt | sort | tr '\\n' ' ' > "$RPO_OUTPUT_DIR/report.txt"; grep -q lr=3 "$RPO_OUTPUT_DIR/report.txt"
`,
      )
      const { run } = await h.engine.startRun(loaded)
      runId = run.id
      const attempt = async (taskId: string) =>
        (await h.store.listAttempts(run.id, taskId)).find((a) => a.attempt === 1) ?? null

      // beside the engine: hold the report job while it waits for its upstreams, see it held, release it
      const stop = new AbortController()
      let reportId: NativeJobId | null = null
      const holdAndRelease = (async () => {
        const id = asNativeJobId(await until('the report job id', async () => (await attempt('report'))?.jobId))
        reportId = id
        await h.observer.control([id], { kind: 'hold' })
        const heldSeen = await until('the report job held', async () => {
          const [o] = await h.observer.poll([id])
          return o?.state === 'held' ? o : null
        })
        // its upstreams end; without the hold it would start now
        await until(
          'the matrix stage to succeed',
          async () => {
            const states = await Promise.all(
              ['train.0', 'train.1', 'train.2'].map(async (id) => (await attempt(id))?.state),
            )
            return states.every((s) => s === 'succeeded')
          },
          90_000,
        )
        await sleep(2000)
        const [stillHeld] = await h.observer.poll([id])
        const engineSaw = (await attempt('report'))?.state
        const releasedAt = Date.now()
        await h.observer.control([id], { kind: 'release' })
        return { heldSeen, stillHeld, engineSaw, releasedAt }
      })().catch(async (error: unknown) => {
        // never leave a held job or a following loop behind on the shared testbed
        if (reportId !== null) await h.observer.control([reportId], { kind: 'release' }).catch(() => undefined)
        stop.abort()
        throw error
      })

      const state = await followRun(h.engine, run.id, { pollIntervalMs: 500, signal: stop.signal })
      const hold = await holdAndRelease
      expect(state).toBe('succeeded')

      expect(hold.heldSeen).toMatchObject({ state: 'held', nativeState: 'Q' })
      expect(hold.stillHeld?.state).toBe('held')
      // the engine's own poll recorded the hold too
      expect(hold.engineSaw).toBe('held')

      const attempts = await h.store.listAttempts(run.id)
      expect(attempts.map((a) => [a.taskId, a.state, a.exitCode]).sort()).toEqual([
        ['prep', 'succeeded', 0],
        ['report', 'succeeded', 0],
        ['train.0', 'succeeded', 0],
        ['train.1', 'succeeded', 0],
        ['train.2', 'succeeded', 0],
      ])
      // the other adapter reads the same outcomes from the job folders
      const ids = attempts.map((a) => asNativeJobId(a.jobId as string))
      const seen = await h.observer.poll(ids)
      expect(seen.map((o) => [o.state, o.exitCode])).toEqual(ids.map(() => ['succeeded', 0]))

      // Slurm's accounting: every stage started after its upstreams ended; report only after its release
      const rows = await sacctSettled(ssh, ids)
      // by job id: right after a job ends, accounting may still show a placeholder job name
      const taskOf = new Map(attempts.map((a) => [a.jobId, a.taskId]))
      const byTask = new Map(rows.map((r) => [taskOf.get(r.jobId) ?? r.jobId, r]))
      expect([...byTask.keys()].sort()).toEqual(['prep', 'report', 'train.0', 'train.1', 'train.2'])
      for (const row of rows) expect(row.state).toBe('COMPLETED')
      const prep = byTask.get('prep')!
      const report = byTask.get('report')!
      for (const id of ['train.0', 'train.1', 'train.2']) {
        const train = byTask.get(id)!
        expect(train.start).toBeGreaterThanOrEqual(prep.end)
        expect(report.start).toBeGreaterThanOrEqual(train.end)
      }
      expect(report.start).toBeGreaterThanOrEqual(Math.floor(hold.releasedAt / 1000))
      // native dependencies: the whole DAG was on the scheduler before prep finished
      expect(Math.max(...attempts.map((a) => Date.parse(a.submittedAt))) / 1000).toBeLessThanOrEqual(prep.end + 1)
    } finally {
      await h.close(runId)
    }
  }, 150_000)

  it('a failed stage fails the run; rpo deletes its queued dependent, which the wrappers then show as cancelled', async () => {
    const h = await harness()
    let runId: string | undefined
    try {
      const loaded = loadPipelineText(
        path.join(h.local, 'pipeline.yaml'),
        `
name: pbsisolation
defaults:
  resources: { partition: cpu, time: 1m, memory: 100M }
tasks:
  broken: { command: "sleep 1; echo boom >&2; exit 3" }
  after-broken: { command: "echo never", after: [broken] }
  independent: { command: "sleep 1; echo fine" }
`,
      )
      const { run } = await h.engine.startRun(loaded)
      runId = run.id
      const state = await followRun(h.engine, run.id, { pollIntervalMs: 500 })
      expect(state).toBe('failed')
      const attempts = new Map((await h.store.listAttempts(run.id)).map((a) => [a.taskId, a]))
      expect(attempts.get('broken')).toMatchObject({ state: 'failed', exitCode: 3 })
      expect(attempts.get('independent')).toMatchObject({ state: 'succeeded', exitCode: 0 })
      const after = attempts.get('after-broken')
      const rows = await sacctSettled(
        ssh,
        [...attempts.values()].flatMap((a) => (a.jobId ? [a.jobId] : [])),
      )
      // by job id: right after a job ends, accounting may still show a placeholder job name
      const slurmState = (task: string) => rows.find((r) => r.jobId === attempts.get(task)?.jobId)?.state
      expect(slurmState('broken')).toBe('FAILED')
      expect(slurmState('independent')).toBe('COMPLETED')
      if (after?.jobId) {
        // submitted with a native dependency, never started, deleted by rpo
        expect(slurmState('after-broken')).toMatch(/^CANCELLED/)
        const [o] = await until('the dependent to show as cancelled', async () => {
          const seen = await h.engine.adapter.poll([asNativeJobId(after.jobId as string)])
          return seen[0]?.state === 'cancelled' ? seen : null
        })
        expect(o).toMatchObject({ state: 'cancelled', nativeState: 'C' })
      }
    } finally {
      await h.close(runId)
    }
  }, 120_000)
})
