// The cluster's own services fail under a running `rpo run`: slurmctld restarted, slurmdbd down
// for the whole run (at most a minute), the testbed's sshd restarted with rpo's connection cut
// while a large batch is being submitted. Each time the run finishes with every task succeeded,
// Slurm was sent each submission key once, and rpo said what was wrong while it was. Each test
// restores the service in a `finally` (and afterAll checks every daemon is up). Run under
// /tmp/rpo-testbed.lock.
import { execFileSync } from 'node:child_process'
import { afterAll, describe, expect, it } from 'vitest'
import { testbed, testbedSsh, testbedWorkspace } from '../../cluster/testbed.js'
import { runCli, type SpawnedCli, spawnCli, writePipeline } from '../../support/cli-harness.js'
import { printFigures, wallSince } from '../support/fault-figures.js'
import { cancelRunJobs, duplicatesIn, submissionsOf } from '../support/slurm-submissions.js'
import { ensureTestbed, startDaemon, stopDaemon } from '../support/testbed-daemons.js'

const runIds: string[] = []
const spawned: SpawnedCli[] = []
afterAll(async () => {
  // an rpo run left behind by a failed test: ours, ended by its pid
  for (const cli of spawned) if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL')
  await ensureTestbed()
  const ssh = testbedSsh()
  for (const id of runIds) await cancelRunJobs(ssh, id)
  await ssh.close()
})

const RESOURCES = '{ partition: all, cpus: 1, memory: 20M, time: 5m }'

/** prep → a 20-instance sweep (one array) and `plain` independent jobs → report. */
function pipeline(name: string, plain: number): string {
  return `
name: ${name}
project: vision
defaults:
  resources: ${RESOURCES}
  retries: { max: 0 }
tasks:
  prep: { command: "sleep 1" }
  sweep:
    after: [prep]
    matrix: { i: [${Array.from({ length: 20 }, (_, i) => i).join(', ')}] }
    command: "sleep 2"
${Array.from({ length: plain }, (_, i) => `  p${i}: { command: "sleep 1", after: [prep] }`).join('\n')}
  report: { command: "sleep 1", after: [sweep${plain > 0 ? `, ${Array.from({ length: plain }, (_, i) => `p${i}`).join(', ')}` : ''}] }
`
}

interface Checked {
  runId: string
  tasks: number
  notSucceeded: string[]
  duplicates: number
}

async function finishAndCheck(dir: string, cli: SpawnedCli): Promise<Checked & { code: number | null; said: string }> {
  const { code, stdout, stderr } = await cli.closed()
  const runId = /started run (\S+)/.exec(stderr)?.[1] as string
  runIds.push(runId)
  const status = await runCli(dir, ['status', runId, '--json'])
  const tasks = (JSON.parse(status.stdout).tasks as { id: string; state: string }[]).filter(
    (t) => t.state !== 'expanded',
  )
  const ssh = testbedSsh()
  try {
    const duplicates = duplicatesIn(await submissionsOf(ssh, runId))
    return {
      runId,
      code,
      said: stderr + stdout,
      tasks: tasks.length,
      notSucceeded: tasks.filter((t) => t.state !== 'succeeded').map((t) => `${t.id}: ${t.state}`),
      duplicates: duplicates.size,
    }
  } finally {
    await ssh.close()
  }
}

describe('infrastructure faults under a running rpo run', () => {
  it('slurmctld restarted mid-run: the run finishes, each key submitted once, rpo said the scheduler was unreachable', async () => {
    const started = Date.now()
    const { dir } = testbedWorkspace()
    writePipeline(dir, 'pipeline.yaml', pipeline('ctld-restart', 20))
    const cli = spawnCli(dir, ['run', 'pipeline.yaml'])
    spawned.push(cli)
    let downFor = 0
    try {
      await cli.waitFor(/▶ (sweep\.\d+|p\d+) started/, 120_000)
      const down = Date.now()
      stopDaemon('slurmctld')
      await new Promise((r) => setTimeout(r, 8000))
      downFor = Date.now() - down
    } finally {
      await startDaemon('slurmctld')
    }
    const result = await finishAndCheck(dir, cli)
    printFigures('slurmctld-restart', {
      tasks: result.tasks,
      downFor: `${Math.round(downFor / 1000)}s`,
      notSucceeded: result.notSucceeded.length,
      duplicates: result.duplicates,
      wall: wallSince(started),
    })
    expect(result.code, result.said.slice(-3000)).toBe(0)
    expect(result.notSucceeded).toEqual([])
    expect(result.duplicates).toBe(0)
    // while slurmctld was down: a line saying so, and that rpo keeps trying
    expect(result.said).toMatch(/! .*(controller|scheduler).*retry/i)
    expect(result.said).not.toMatch(/\((internal)\)|internal error:/)
  }, 300_000)

  it('slurmdbd down while the run runs (up to a minute): no false failures (squeue carries the run), charges recorded', async () => {
    const started = Date.now()
    const { dir } = testbedWorkspace()
    writePipeline(dir, 'pipeline.yaml', pipeline('dbd-down', 10))
    let cli: SpawnedCli | undefined
    // what rpo had seen of the jobs when accounting came back: squeue alone shows them start and end
    let seenWhileDown = 0
    let downFor = 0
    const down = Date.now()
    try {
      stopDaemon('slurmdbd')
      cli = spawnCli(dir, ['run', 'pipeline.yaml'])
      spawned.push(cli)
      // down until the run has ended (its jobs take seconds), at most a minute: once rpo has exited,
      // a longer outage exercises nothing more of it (it charges a job whose accounting is missing
      // provisionally at its end, and awaits the figure for 10 minutes, far beyond either wait)
      let timer: NodeJS.Timeout | undefined
      const ended = await Promise.race([
        cli.exited().then(() => true),
        new Promise<false>((r) => {
          timer = setTimeout(() => r(false), 60_000)
        }),
      ])
      clearTimeout(timer)
      downFor = Date.now() - down
      process.stdout.write(`faults: slurmdbd-down the run ${ended ? 'ended' : 'was still going'} while it was down\n`)
      const runId = /started run (\S+)/.exec(cli.stderr())?.[1] as string
      const status = await runCli(dir, ['status', runId, '--json'])
      seenWhileDown = (JSON.parse(status.stdout).tasks as { state: string; jobState: string | null }[]).filter(
        (t) => t.state === 'succeeded' || ['running', 'completing', 'succeeded'].includes(t.jobState ?? ''),
      ).length
    } finally {
      await startDaemon('slurmdbd')
    }
    const result = await finishAndCheck(dir, cli as SpawnedCli)
    const report = await runCli(dir, ['budget', 'report', '--json', '--by', 'task'])
    const breakdown = (JSON.parse(report.stdout).breakdown ?? []) as {
      project: string
      key: string
      cpuHours: number
    }[]
    const charged = breakdown.filter((b) => b.project === 'vision' && b.cpuHours > 0)
    printFigures('slurmdbd-down', {
      tasks: result.tasks,
      downFor: `${Math.round(downFor / 1000)}s`,
      notSucceeded: result.notSucceeded.length,
      duplicates: result.duplicates,
      seenWhileDown: seenWhileDown,
      charged: charged.length,
      wall: wallSince(started),
    })
    expect(result.code, result.said.slice(-3000)).toBe(0)
    expect(result.notSucceeded).toEqual([])
    expect(result.duplicates).toBe(0)
    expect(result.said).not.toMatch(/internal error:/)
    // while sacct failed rpo said so (a degraded poll, not a failed one), and went on from squeue:
    // it saw the sweep after prep start; no job was taken as lost for want of accounting
    expect(result.said).toMatch(/! accounting \(sacct\) is unavailable.*database.*\(accounting-unavailable\)/i)
    expect(result.said).not.toMatch(/could not poll the scheduler/)
    expect(result.said).not.toMatch(/lost: the scheduler stopped reporting/)
    // (the jobs take seconds and Slurm runs them all in the minute: rpo must have seen most of them)
    expect(seenWhileDown, 'tasks rpo saw start or end while slurmdbd was down').toBeGreaterThan(result.tasks / 2)
    // every task's use was charged once accounting came back: each runs at least a second, so sacct's
    // ElapsedRaw (whole seconds) is never 0 and every job costs something
    expect(charged.length, report.stdout.slice(0, 2000)).toBe(result.tasks)
  }, 300_000)

  it('sshd restarted and rpo connection cut mid-submission of a large batch: each key submitted once', async () => {
    const started = Date.now()
    const { dir } = testbedWorkspace()
    writePipeline(dir, 'pipeline.yaml', pipeline('sshd-cut', 150))
    const cli = spawnCli(dir, ['run', 'pipeline.yaml'])
    spawned.push(cli)
    let cut = 0
    let submittedAtCut = 0
    try {
      // the moment the first job of the batch reaches slurmctld, the batch script is still
      // running sbatch for the others: cut every connection of the test user right then
      // (by pid), from one shell loop so the cut follows within milliseconds
      const cutAt = execFileSync(
        'bash',
        [
          '-c',
          `until squeue -h -o %j | grep -q '^rpo\\.sshd-cut-'; do :; done
           for pid in $(pgrep -f '^sshd: ${testbed().user}'); do kill -KILL "$pid" && echo cut; done
           squeue -h -o %j | grep -c '^rpo\\.sshd-cut-'`,
        ],
        { encoding: 'utf8', timeout: 120_000 },
      )
        .trim()
        .split('\n')
      cut = cutAt.filter((l) => l === 'cut').length
      submittedAtCut = Number(cutAt.at(-1))
      stopDaemon('sshd')
      await new Promise((r) => setTimeout(r, 3000))
    } finally {
      await startDaemon('sshd')
    }
    const result = await finishAndCheck(dir, cli)
    printFigures('sshd-cut', {
      tasks: result.tasks,
      connectionsCut: cut,
      jobsAtCut: submittedAtCut,
      notSucceeded: result.notSucceeded.length,
      duplicates: result.duplicates,
      wall: wallSince(started),
    })
    expect(cut).toBeGreaterThan(0)
    expect(result.code, result.said.slice(-3000)).toBe(0)
    expect(result.notSucceeded).toEqual([])
    expect(result.duplicates).toBe(0)
    // rpo said the connection dropped mid-submission, and its recovery raised no internal error
    expect(result.said).toMatch(/! .*connection dropped/i)
    expect(result.said).not.toMatch(/\((internal)\)|internal error:/)
  }, 300_000)
})
