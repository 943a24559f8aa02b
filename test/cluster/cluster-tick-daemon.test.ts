// 100 pipelines started at once on the testbed's Slurm and moved to the end by `rpo daemon` alone:
// every run succeeds, every task ran exactly once (one attempt, one Slurm job), and each of the
// daemon's cluster rounds costs the same few scheduler commands whatever the number of runs.
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createApp } from '../../src/create-app.js'
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
import { testbedSsh } from './testbed.js'

const RUNS = 100
const TASKS = 2
const ssh = testbedSsh()
const processes = new Processes()
let tag = ''

afterEach(async () => {
  await processes.killAll()
  if (tag) await cancelTagged(ssh, tag)
})
afterAll(() => ssh.close())

describe('rpo daemon ticks the cluster, not the runs', () => {
  it('moves 100 pipelines submitted at once to the end, every task once, commands per round flat', async () => {
    tag = tickTag()
    const { dir } = tickWorkspace({ tag, clusters: { testbed: 'slurm' }, schedule: '*/2 * * * * *' })
    const started = Date.now()
    const runIds = await startRuns(
      dir,
      RUNS,
      (i) => `
name: ${tag}-${i}
defaults:
  resources: { partition: all, time: 1m, memory: 20M }
tasks:
  prep: { command: "sleep 1" }
  train: { command: "sleep 1", after: [prep] }
`,
    )
    const daemon = processes.spawn(dir, ['daemon'])

    const app = await createApp({ cwd: dir })
    try {
      const finished = await until(
        `all ${RUNS} runs to end`,
        async () => {
          const runs = await app.store.listRuns({ limit: 1000 })
          const ours = runs.filter((r) => runIds.includes(r.id))
          return ours.every((r) => !['running', 'pending'].includes(r.state)) ? ours : null
        },
        100_000,
      )
      const wallMs = Date.now() - started
      expect(finished.map((r) => r.state)).toEqual(Array(RUNS).fill('succeeded'))

      // one attempt per task in rpo's store, each with its own Slurm job
      const attempts = (await Promise.all(runIds.map((id) => app.store.listAttempts(id)))).flat()
      expect(attempts).toHaveLength(RUNS * TASKS)
      expect(attempts.every((a) => a.attempt === 1 && a.state === 'succeeded')).toBe(true)
      const jobIds = attempts.map((a) => a.jobId)
      expect(new Set(jobIds).size).toBe(RUNS * TASKS)

      // and in Slurm's own accounting: one job per task under the test's tag, no other
      const jobs = await until(
        'sacct to list every job',
        async () => {
          const rows = await sacctTagged(ssh, tag, started)
          return rows.length >= RUNS * TASKS && rows.every((r) => r.state === 'COMPLETED') ? rows : null
        },
        20_000,
      )
      expect(jobs).toHaveLength(RUNS * TASKS)
      expect(new Set(jobs.map((j) => j.name)).size).toBe(RUNS * TASKS)
      expect(jobs.map((j) => j.jobId).sort()).toEqual([...(jobIds as string[])].sort())

      // the daemon's rounds: flat, ≤ 2 polling commands + 1 submission batch however many runs
      const rounds = loggedRounds(daemon.stderr(), 'testbed')
      const working = rounds.filter((r) => r.runs > 0)
      expect(working.length).toBeGreaterThan(0)
      expect(Math.max(...working.map((r) => r.runs))).toBe(RUNS)
      const maxCommands = Math.max(...working.map((r) => r.commands))
      expect(maxCommands, daemon.stderr()).toBeLessThanOrEqual(3)
      // everything went out in rounds, and the first round sent all 200 jobs (native afterok within each run)
      expect(working.reduce((sum, r) => sum + r.submitted, 0)).toBe(RUNS * TASKS)
      console.log(
        `cluster-tick: ${RUNS} runs, ${RUNS * TASKS} tasks, ${working.length} rounds, max ${maxCommands} scheduler commands per round (${working
          .map((r) => r.commands)
          .join(',')}), first round ${working[0]?.submitted} submitted, wall ${(wallMs / 1000).toFixed(1)} s`,
      )
    } finally {
      await app.close()
    }
  }, 150_000)
})
