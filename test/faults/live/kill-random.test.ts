// rpo run killed with SIGKILL at ≥ 50 random moments while it drives a 300-task pipeline on the
// live Slurm testbed, restarted each time until the run ends: Slurm must have been sent every task
// exactly once (counted by submission key in squeue/sacct), none lost, the final states right.
// The kill moments come from a seeded PRNG: the seed is printed, RPO_FAULT_SEED=<n> replays it.
import { afterAll, describe, expect, it } from 'vitest'
import { testbedSsh, testbedWorkspace } from '../../cluster/testbed.js'
import { runCli, writePipeline } from '../../support/cli-harness.js'
import { faultSeed, printFigures, seededRandom, wallSince } from '../support/fault-figures.js'
import { CLUSTER_SHAPE, expectedState, killPipeline, killPipelineTasks } from '../support/kill-pipeline.js'
import { rerunUntilDone } from '../support/rerun-until-done.js'
import { cancelRunJobs, duplicatesIn, submissionsOf } from '../support/slurm-submissions.js'

const KILLS = Number(process.env.RPO_FAULT_KILLS ?? 50)
const ssh = testbedSsh()
const runIds: string[] = []
afterAll(async () => {
  for (const id of runIds) await cancelRunJobs(ssh, id)
  await ssh.close()
})

interface TaskRow {
  id: string
  state: string
  attempt: number
  jobId: string | null
}

describe('kill -9 at random moments on the cluster', () => {
  it('every task is submitted exactly once, none is lost, and the final states are right', async () => {
    const seed = faultSeed()
    process.stdout.write(`faults: kill-random seed=${seed} (RPO_FAULT_SEED=${seed} replays it)\n`)
    const random = seededRandom(seed)
    const started = Date.now()
    const { dir } = testbedWorkspace({ pollInterval: '500ms' })
    writePipeline(dir, 'pipeline.yaml', killPipeline('kill-random', CLUSTER_SHAPE))

    // kill moments from 100 ms (still loading) to 1.6 s (deep in a tick): in loading, connecting,
    // looking up keys, submitting, polling, persisting
    let killsEnded = 0 // when the first `rpo run` left alone started: the kills' share of the wall time
    const outcome = await rerunUntilDone(dir, 'pipeline.yaml', (i) => {
      if (i < KILLS) return { kind: 'kill', afterMs: 100 + Math.floor(random() * 1500) }
      killsEnded ||= Date.now()
      return undefined
    })
    runIds.push(outcome.runId)

    const status = await runCli(dir, ['status', outcome.runId, '--json'])
    const progress = JSON.parse(status.stdout) as { state: string; tasks: TaskRow[] }
    const instances = progress.tasks.filter((t) => t.state !== 'expanded')
    const wrong = progress.tasks.filter((t) => t.state !== expectedState(t.id))

    const submissions = await submissionsOf(ssh, outcome.runId)
    const duplicates = duplicatesIn(submissions)
    // lost: a task that should have succeeded whose attempt Slurm never ran to completion
    const lost = instances.filter((t) => {
      if (expectedState(t.id) !== 'succeeded') return false
      const jobs = submissions.get(`rpo.${outcome.runId}.${t.id}.${t.attempt}`) ?? []
      return t.state !== 'succeeded' || !jobs.some((j) => j.state === 'COMPLETED')
    })
    printFigures('kill-random', {
      seed,
      kills: outcome.hurts,
      reruns: outcome.reruns,
      tasks: instances.length,
      duplicates: duplicates.size,
      lost: lost.length,
      wrong: wrong.length,
      killsFor: killsEnded ? `${Math.round((killsEnded - started) / 1000)}s` : 'all',
      wall: wallSince(started),
    })

    expect(outcome.hurts).toBeGreaterThanOrEqual(KILLS)
    expect(instances).toHaveLength(killPipelineTasks(CLUSTER_SHAPE))
    expect(progress.state).toBe('failed') // `doomed` is designed to fail
    expect(Object.fromEntries(duplicates)).toEqual({})
    expect(lost.map((t) => `${t.id}: ${t.state}`)).toEqual([])
    expect(wrong.map((t) => `${t.id}: ${t.state}`)).toEqual([])
    // the checkpointing task was resumed once (exit 85), not restarted as a failure
    expect(progress.tasks.find((t) => t.id === 'ckpt')).toMatchObject({ state: 'succeeded', resumes: 1 })
  }, 600_000)
})
