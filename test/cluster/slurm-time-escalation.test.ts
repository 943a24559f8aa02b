// Time escalation on Slurm, live: a task without a checkpoint whose first attempt hits its 1-minute
// limit ends TIMEOUT, and its retry asks Slurm for retries.timeFactor times the time (read back from
// accounting's Timelimit) and finishes. Slurm's limits are whole minutes and slurmctld enforces them
// in its background sweep every 30 s (PERIODIC_TIMEOUT in slurmctld), so a 1-minute job is stopped
// between 60 and 90 s after it starts; the first attempt sleeps past that, so it surely times out.
// What rpo asked Slurm for is read from slurmctld's own job records (`scontrol show job`, kept for
// MinJobAge = 300 s after the end), not from accounting: slurmdbd may create a short job's row from
// its step or completion message when that reaches it before the job's start, and such a row has no
// time limit (sacct prints Timelimit empty) — seen once in CI under load. Accounting still gives the
// states and elapsed times. The retry itself needs only seconds, since Slurm's own enforcement of a
// limit it was given is not rpo's to prove. About 1.5 minutes in all.
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/store/open-store.js'
import { RunStore } from '../../src/store/run-store.js'
import { runCli, writePipeline } from '../support/cli-harness.js'
import { testbedSsh, testbedWorkspace } from './testbed.js'

const ssh = testbedSsh()
afterAll(() => ssh.close())

describe('time escalation on Slurm (retries.timeFactor)', () => {
  it('retries an attempt stopped at its time limit with timeFactor times the time, and it finishes', async () => {
    const { dir } = testbedWorkspace({ pollInterval: '2s' })
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: slow
tasks:
  nap:
    command: 'if [ "$RPO_ATTEMPT" = 1 ]; then exec sleep 300; else exec sleep 2; fi'
    resources: { partition: cpu, time: 1m }
    retries: { max: 2, backoff: 1s, timeFactor: 2, maxTime: 2m }
`,
    )
    const result = await runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
    expect(result.code, result.stderr + result.stdout).toBe(0)
    const progress = JSON.parse(result.stdout) as { runId: string; tasks: { id: string; state: string }[] }
    expect(progress.tasks.find((t) => t.id === 'nap')?.state).toBe('succeeded')

    const store = new RunStore(
      await openDatabase({ kind: 'sqlite', path: path.join(dir, '.rpo/rpo.sqlite'), busyTimeoutMs: 2000 }),
    )
    const attempts = await store.listAttempts(progress.runId, 'nap').finally(() => store.close())
    expect(attempts.map((a) => a.state)).toEqual(['timeout', 'succeeded'])
    const [first, second] = attempts
    expect(first?.nativeState).toBe('TIMEOUT')

    // what Slurm was asked for (its controller's record) and did (accounting): 1 minute and stopped,
    // then 2 minutes and done
    const asked = await Promise.all([first?.jobId, second?.jobId].map((id) => controllerTimeLimit(id as string)))
    expect(asked).toEqual(['00:01:00', '00:02:00'])
    const done = await ssh.exec(
      [
        'sacct',
        '-X',
        '--noheader',
        '--parsable2',
        `--jobs=${first?.jobId},${second?.jobId}`,
        '--format=JobID,State,ElapsedRaw',
      ],
      { idempotent: true },
    )
    const rows = new Map(
      done.stdout
        .trim()
        .split('\n')
        .map((line) => {
          const [jobId, state, elapsed] = line.split('|') as [string, string, string]
          return [jobId, { state, elapsed: Number(elapsed) }] as const
        }),
    )
    const one = rows.get(first?.jobId as string)
    const two = rows.get(second?.jobId as string)
    console.log(`asked ${asked.join(' then ')}; attempt 1: ${JSON.stringify(one)}; attempt 2: ${JSON.stringify(two)}`)
    expect(one?.state).toBe('TIMEOUT')
    expect(one?.elapsed).toBeGreaterThanOrEqual(60)
    expect(two?.state).toBe('COMPLETED')
    expect(two?.elapsed).toBeGreaterThanOrEqual(2)
  }, 300_000)
})

/** The time limit slurmctld holds for a job (`TimeLimit=00:02:00`), as `scontrol show job -o` prints it. */
async function controllerTimeLimit(jobId: string): Promise<string | undefined> {
  const shown = await ssh.exec(['scontrol', 'show', 'job', '-o', jobId], { idempotent: true })
  return /(?:^|\s)TimeLimit=(\S+)/.exec(shown.stdout)?.[1]
}
