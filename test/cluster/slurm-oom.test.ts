// Out of memory on a Slurm cluster without cgroups, live: the testbed enforces memory the only way it
// can (JobAcctGatherParams=OverMemoryKill, sampled every 5 s), which ends the job FAILED 0:9 with
// slurmstepd's "exceeded memory limit" in its stderr. Through the real CLI, the first attempt must be
// recorded out_of_memory and the second must ask Slurm for oomMemoryFactor times the memory.
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/store/open-store.js'
import { RunStore } from '../../src/store/run-store.js'
import { runCli, writePipeline } from '../support/cli-harness.js'
import { testbedSsh, testbedWorkspace } from './testbed.js'

const ssh = testbedSsh()
afterAll(() => ssh.close())

// ~300 MB touched page by page, then held long enough for two memory samples; exits 0 if not killed
const HOG = `/usr/bin/python3 -c 'import time; b = bytearray(300 * 1024 * 1024); b[::4096] = b"x" * (len(b) // 4096); time.sleep(12)'`

describe('out of memory on Slurm without cgroups (OverMemoryKill)', () => {
  it('records the memory kill as out_of_memory and retries with oomMemoryFactor times the memory', async () => {
    const { dir } = testbedWorkspace()
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: oom
tasks:
  hog:
    command: ${JSON.stringify(`exec ${HOG}`)}
    resources: { partition: cpu, memory: 100M, time: 5m }
    retries: { max: 2, backoff: 1s, oomMemoryFactor: 4 }
`,
    )
    const result = await runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
    expect(result.code, result.stderr + result.stdout).toBe(0)
    const progress = JSON.parse(result.stdout) as { runId: string; tasks: { id: string; state: string }[] }
    expect(progress.tasks.find((t) => t.id === 'hog')?.state).toBe('succeeded')

    const store = new RunStore(
      await openDatabase({ kind: 'sqlite', path: path.join(dir, '.rpo/rpo.sqlite'), busyTimeoutMs: 2000 }),
    )
    const attempts = await store.listAttempts(progress.runId, 'hog').finally(() => store.close())
    expect(attempts.map((a) => a.state)).toEqual(['out_of_memory', 'succeeded'])
    const [first, second] = attempts
    expect(first?.nativeState).toBe('FAILED')
    expect(first?.reason).toMatch(/memory enforcement/)

    // what Slurm was asked for: 100 MB, then four times that
    const asked = await ssh.exec(
      ['sacct', '-X', '--noheader', '--parsable2', `--jobs=${first?.jobId},${second?.jobId}`, '--format=JobID,ReqMem'],
      { idempotent: true },
    )
    const reqMem = new Map(
      asked.stdout
        .trim()
        .split('\n')
        .map((line) => line.split('|') as [string, string]),
    )
    expect(reqMem.get(first?.jobId as string)).toBe('100M')
    expect(reqMem.get(second?.jobId as string)).toBe('400M')
  }, 240_000)
})
