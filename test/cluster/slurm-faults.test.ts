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

async function jobsByName(runId: string): Promise<Map<string, string[]>> {
  const result = await ssh.exec(['squeue', '--noheader', '--states=all', '--format=%i %j'], { idempotent: true })
  const acct = await ssh.exec(
    ['sacct', '-X', '--noheader', '--parsable2', '--starttime=now-1days', '--format=JobID,JobName%200'],
    { idempotent: true },
  )
  const byName = new Map<string, Set<string>>()
  for (const line of [...result.stdout.split('\n'), ...acct.stdout.split('\n').map((l) => l.replace('|', ' '))]) {
    const [id, name] = line.trim().split(/\s+/)
    if (!id || !name?.startsWith(`rpo.${runId}.`)) continue
    byName.set(name, (byName.get(name) ?? new Set()).add(id))
  }
  return new Map([...byName].map(([k, v]) => [k, [...v]]))
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
    const jobs = await jobsByName(runId)
    expect(jobs.size).toBe(11)
    for (const [name, ids] of jobs) expect(ids, name).toHaveLength(1)
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
    const jobs = await jobsByName(runId)
    expect(jobs.size).toBe(11)
    for (const [name, ids] of jobs) expect(ids, name).toHaveLength(1)
  }, 180_000)
})
