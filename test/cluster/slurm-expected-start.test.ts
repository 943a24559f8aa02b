// The scheduler's own start estimate for a pending job, live: with both nodes of the `cpu` partition
// full (two 16-CPU blockers with a 3-minute limit), a 16-CPU task waits (Resources) and slurmctld
// expects to start it when a blocker's limit runs out. rpo's poll reads that estimate from the %S
// of the squeue it runs anyway — the start `squeue --start` prints — so the round costs no extra
// command, and `rpo status` projects the task from it rather than from the queue-wait history.
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, writePipeline } from '../support/cli-harness.js'
import { testbedSsh, testbedWorkspace } from './testbed.js'

const ssh = testbedSsh()
afterAll(() => ssh.close())

interface StatusTask {
  readonly id: string
  readonly state: string
  readonly jobState: string | null
  readonly jobId: string | null
  readonly estimate: { readonly schedulerExpectedStart: string | null; readonly projectedStart: string | null } | null
}

async function sbatchBlocker(node: string): Promise<string> {
  const result = await ssh.exec(
    [
      'sbatch',
      '--parsable',
      '-p',
      'cpu',
      '-w',
      node,
      '-c',
      '16',
      '--time=3',
      '-J',
      'rpo-blocker',
      '--wrap',
      'sleep 170',
    ],
    { idempotent: false },
  )
  return result.stdout.trim()
}

describe("a pending job's start as Slurm expects it", () => {
  it('is read from the poll, kept, and preferred by the projection', async () => {
    const { dir } = testbedWorkspace()
    const blockers: string[] = []
    let runId: string | null = null
    try {
      blockers.push(await sbatchBlocker('cpu1'), await sbatchBlocker('cpu2'))
      writePipeline(
        dir,
        'pipeline.yaml',
        'name: queued\ntasks:\n  behind: { command: "true", resources: { partition: cpu, cpus: 16, time: 1m } }\n',
      )
      const submitted = await runCli(dir, ['submit', 'pipeline.yaml', '--json'])
      expect(submitted.code, submitted.stderr).toBe(0)
      runId = (JSON.parse(submitted.stdout) as { runId: string }).runId

      let task: StatusTask | undefined
      let status: { lastTickCommands: number | null; tasks: StatusTask[] } | undefined
      const deadline = Date.now() + 60_000
      while (Date.now() < deadline) {
        const sync = await runCli(dir, ['sync'])
        expect(sync.code, sync.stderr).toBe(0)
        const shown = await runCli(dir, ['status', runId, '--json'])
        status = JSON.parse(shown.stdout)
        task = status?.tasks.find((t) => t.id === 'behind')
        if (task?.estimate?.schedulerExpectedStart) break
        await new Promise((resolve) => setTimeout(resolve, 2000))
      }
      expect(task, JSON.stringify(status)).toMatchObject({ state: 'active', jobState: 'pending' })
      const expected = task?.estimate?.schedulerExpectedStart
      expect(expected, JSON.stringify(status)).toBeTruthy()

      // the same start squeue --start gives for the job
      const jobId = task?.jobId as string
      const start = await ssh.exec(
        ['env', 'SLURM_TIME_FORMAT=%s', 'squeue', '--start', '--noheader', `--jobs=${jobId}`, '--format=%S'],
        { idempotent: true },
      )
      const slurmStart = Number(start.stdout.trim()) * 1000
      console.log(`job ${jobId}: rpo says ${expected}, squeue --start ${new Date(slurmStart).toISOString()}`)
      // slurmctld may refine its estimate between rpo's poll and this look (a few seconds at most)
      expect(Math.abs(Date.parse(expected as string) - slurmStart)).toBeLessThanOrEqual(10_000)
      // a blocker's 3-minute limit ends it, so the estimate lies minutes ahead, and the projection uses it
      expect(Date.parse(expected as string)).toBeGreaterThan(Date.now() + 60_000)
      expect(task?.estimate?.projectedStart).toBe(expected)
      // the estimate came with the round's one squeue: no command was added for it
      expect(status?.lastTickCommands).toBeLessThanOrEqual(2)
    } finally {
      if (runId !== null) await runCli(dir, ['cancel', runId])
      if (blockers.length > 0) await ssh.exec(['scancel', ...blockers], { idempotent: true })
    }
  }, 180_000)
})
