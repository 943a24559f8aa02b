// Faults on the way to the cluster: the SSH connection dies mid-run, and rpo itself dies mid-
// submission. Every task must end up submitted exactly once (counted by submission key in sacct).
import { execFileSync } from 'node:child_process'
import { afterAll, describe, expect, it } from 'vitest'
import { spawnCli, writePipeline } from '../support/cli-harness.js'
import { testbed, testbedSsh, testbedWorkspace } from './testbed.js'

const ssh = testbedSsh()
afterAll(() => ssh.close())

/** Kill the per-connection sshd processes of the testbed's sshd (the listener survives). */
function killSshConnections(): number {
  const out = execFileSync('bash', ['-c', `pgrep -f 'sshd: ${testbed().user}' || true`], { encoding: 'utf8' })
  const pids = out.split('\n').filter(Boolean).map(Number)
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  return pids.length
}

/**
 * What Slurm holds for a run, by job name: the distinct job ids (array tasks folded into their
 * array job) and, for arrays, the task indices. Live jobs from squeue, finished ones from sacct.
 */
async function submissionsOf(runId: string): Promise<Map<string, { ids: Set<string>; indices: Set<string> }>> {
  const live = await ssh.exec(['squeue', '--noheader', '--array', '--states=all', '--format=%i %j'], {
    idempotent: true,
  })
  const done = await ssh.exec(
    ['sacct', '-X', '--noheader', '--parsable2', '--starttime=now-1days', '--format=JobID,JobName%200'],
    {
      idempotent: true,
    },
  )
  const byName = new Map<string, { ids: Set<string>; indices: Set<string> }>()
  for (const line of [...live.stdout.split('\n'), ...done.stdout.split('\n').map((l) => l.replace('|', ' '))]) {
    const [id, name] = line.trim().split(/\s+/)
    if (!id || !name?.startsWith(`rpo.${runId}.`)) continue
    const [base, index] = id.split('_')
    const entry = byName.get(name) ?? { ids: new Set(), indices: new Set() }
    entry.ids.add(base as string)
    if (index !== undefined) entry.indices.add(index)
    byName.set(name, entry)
  }
  return byName
}

/** Exactly one job per task: a and c alone, the b and side sweeps as one array job each. */
async function expectSubmittedOnce(runId: string): Promise<void> {
  const jobs = await submissionsOf(runId)
  const summary = Object.fromEntries(
    [...jobs].map(([name, e]) => [
      name.slice(`rpo.${runId}.`.length),
      { jobs: e.ids.size, tasks: [...e.indices].sort() },
    ]),
  )
  expect(summary).toEqual({
    'a.1': { jobs: 1, tasks: [] },
    'b.array.1': { jobs: 1, tasks: ['0', '1', '2', '3', '4', '5'] },
    'c.1': { jobs: 1, tasks: [] },
    'side.array.1': { jobs: 1, tasks: ['0', '1', '2'] },
  })
}

const PIPELINE = `
name: faulty
defaults:
  resources: { partition: cpu, time: 2m, memory: 100M }
tasks:
  a: { command: "sleep 3" }
  b: { command: "sleep 2", after: [a], matrix: { i: [1, 2, 3, 4, 5, 6] } }
  c: { command: "sleep 1", after: [b] }
  side: { command: "sleep 4", matrix: { j: [1, 2, 3] } }
`

describe('faults between rpo and Slurm', () => {
  it('a dropped SSH connection mid-run: the run completes and every task was submitted once', async () => {
    const { dir } = testbedWorkspace()
    writePipeline(dir, 'pipeline.yaml', PIPELINE)
    const cli = spawnCli(dir, ['run', 'pipeline.yaml'])
    await cli.waitFor('▶ a started', 60_000)
    expect(killSshConnections()).toBeGreaterThan(0)
    await cli.waitFor('▶ b.', 60_000)
    killSshConnections()
    expect(await cli.exited(), cli.stderr()).toBe(0)
    const runId = /started run (\S+)/.exec(cli.stderr())?.[1] as string
    await expectSubmittedOnce(runId)
  }, 180_000)

  it('rpo killed mid-submission: the rerun continues and never submits a task twice', async () => {
    const { dir } = testbedWorkspace()
    writePipeline(dir, 'pipeline.yaml', PIPELINE)
    // die right after the batch script was sent, before the job ids are recorded
    const first = spawnCli(dir, ['run', 'pipeline.yaml'], { RPO_FAULT_INJECT: 'crash-after-submit' })
    const code = await first.exited()
    expect(code).not.toBe(0)
    const runId = /started run (\S+)/.exec(first.stderr())?.[1] as string
    const second = spawnCli(dir, ['run', 'pipeline.yaml'])
    expect(await second.exited(), second.stderr()).toBe(0)
    expect(second.stderr()).toContain(`continuing run ${runId}`)
    await expectSubmittedOnce(runId)
  }, 180_000)
})
