// Two `rpo daemon`s share one PostgreSQL store and the testbed's Slurm: the one holding the
// cluster's lease is SIGKILLed just after it began a round; the other takes the cluster over within
// one lease period and finishes every run, with no task started twice (one attempt per task, one
// Slurm job per attempt, in rpo's store and in Slurm's accounting).
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createApp } from '../../src/create-app.js'
import { CLUSTER_LEASE_MS, clusterLease } from '../../src/engine/leases.js'
import {
  cancelTagged,
  loggedRounds,
  Processes,
  sacctTagged,
  startRuns,
  tickTag,
  tickWorkspace,
  until,
} from '../support/cluster-tick-live.js'
import { postgresHarness } from '../support/store-dialects.js'
import { testbedSsh } from './testbed.js'

const RUNS = 20
const TASKS = 3
/** The bound on a takeover; the engine's lease period (CLUSTER_LEASE_MS) is within it. */
const TAKEOVER_BOUND_MS = 30_000
const ssh = testbedSsh()
const processes = new Processes()
const pg = postgresHarness()
let tag = ''

afterEach(async () => {
  await processes.killAll()
  if (tag) await cancelTagged(ssh, tag)
  await pg.tearDown()
})
afterAll(() => ssh.close())

describe('two daemons on one PostgreSQL store', () => {
  it('a daemon killed mid-round is replaced within one lease period, and no task starts twice', async () => {
    tag = tickTag()
    const target = await pg.setUp()
    if (target.kind !== 'postgres') throw new Error('expected a PostgreSQL store')
    const { dir } = tickWorkspace({ tag, clusters: { testbed: 'slurm' }, store: target.url })
    const started = Date.now()
    const runIds = await startRuns(
      dir,
      RUNS,
      (i) => `
name: ${tag}-${i}
defaults:
  resources: { partition: all, time: 1m, memory: 20M }
tasks:
  prep: { command: "sleep 2" }
  train: { command: "sleep 3", after: [prep] }
  report: { command: "sleep 1", after: [train] }
`,
    )
    const daemons = [processes.spawn(dir, ['daemon']), processes.spawn(dir, ['daemon'])]

    const app = await createApp({ cwd: dir })
    try {
      const lease = clusterLease('testbed')
      // wait for a holder to have submitted work, then for it to begin its next round (the lease
      // renewed): kill it right then, with its round under way and jobs in flight
      const first = await until('a daemon to hold the cluster', () => app.store.leases.record(lease), 30_000, 50)
      await until(
        'the first submissions',
        async () => (await app.store.listAttempts(runIds[0] as string)).some((a) => a.jobId),
        30_000,
        200,
      )
      const renewed = await until(
        'the holder to begin another round',
        async () => {
          const now = await app.store.leases.record(lease)
          return now && now.owner === first.owner && now.expiresAt !== first.expiresAt ? now : null
        },
        30_000,
        25,
      )
      const holderPid = Number(renewed.owner.split(':')[1])
      const holder = daemons.find((d) => d.child.pid === holderPid)
      const survivor = daemons.find((d) => d.child.pid !== holderPid)
      if (!holder || !survivor) throw new Error(`the lease holder ${renewed.owner} is not one of the daemons`)
      const inFlight = (await Promise.all(runIds.map((id) => app.store.listAttempts(id))))
        .flat()
        .filter((a) => !['succeeded', 'failed', 'cancelled'].includes(a.state)).length
      holder.child.kill('SIGKILL')
      const killedAt = Date.now()
      await holder.exited()

      const takeover = await until(
        "the survivor's first round on the cluster",
        async () => loggedRounds(survivor.stderr(), 'testbed').find((r) => r.at >= killedAt),
        TAKEOVER_BOUND_MS + 5_000,
        100,
      )
      const takeoverMs = takeover.at - killedAt
      expect(takeoverMs).toBeLessThanOrEqual(Math.min(CLUSTER_LEASE_MS, TAKEOVER_BOUND_MS))

      const finished = await until(
        `all ${RUNS} runs to end`,
        async () => {
          const ours = (await app.store.listRuns({ limit: 1000 })).filter((r) => runIds.includes(r.id))
          return ours.every((r) => !['running', 'pending'].includes(r.state)) ? ours : null
        },
        60_000,
      )
      expect(finished.map((r) => r.state)).toEqual(Array(RUNS).fill('succeeded'))
      const attempts = (await Promise.all(runIds.map((id) => app.store.listAttempts(id)))).flat()
      // no retry was planned: exactly one attempt per task, each its own Slurm job
      expect(attempts).toHaveLength(RUNS * TASKS)
      expect(attempts.every((a) => a.attempt === 1 && a.state === 'succeeded')).toBe(true)
      expect(new Set(attempts.map((a) => a.jobId)).size).toBe(RUNS * TASKS)
      const jobs = await until(
        'sacct to list every job',
        async () => {
          const rows = await sacctTagged(ssh, tag, started)
          return rows.length >= RUNS * TASKS && rows.every((r) => r.state === 'COMPLETED') ? rows : null
        },
        20_000,
      )
      // Slurm never saw a submission key twice: nothing was submitted again by the survivor
      expect(jobs).toHaveLength(RUNS * TASKS)
      expect(new Set(jobs.map((j) => j.name)).size).toBe(RUNS * TASKS)
      expect(jobs.map((j) => j.jobId).sort()).toEqual(attempts.map((a) => a.jobId as string).sort())
      console.log(
        `cluster-tick failover: ${RUNS} runs, ${RUNS * TASKS} tasks, ${inFlight} attempt(s) unfinished at the kill; survivor's first round ${(takeoverMs / 1000).toFixed(1)} s after the SIGKILL (lease period ${CLUSTER_LEASE_MS / 1000} s); wall ${((Date.now() - started) / 1000).toFixed(1)} s`,
      )
    } finally {
      await app.close()
    }
  }, 150_000)
})
