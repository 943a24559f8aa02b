// Hostile strings in every pipeline value, run through sbatch on the testbed (job arrays for the
// sweep, heredoc batch scripts, the remote shell over SSH): nothing executed, nothing escaped,
// every value intact in the job, no raw control characters printed. The testbed's jobs run on
// this machine as its test user, so what they wrote is read here directly.
import { randomUUID } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { testbedSsh, testbedWorkspace } from '../../cluster/testbed.js'
import { spawnCli, writePipeline } from '../../support/cli-harness.js'
import { printFigures, rawControlIn } from '../support/fault-figures.js'
import { expectedFiles, injectionPipeline, payloads } from '../support/injection-payloads.js'
import { cancelRunJobs, duplicatesIn, submissionsOf } from '../support/slurm-submissions.js'

const ssh = testbedSsh()
const runIds: string[] = []
afterAll(async () => {
  for (const id of runIds) await cancelRunJobs(ssh, id)
  await ssh.close()
})

describe('injection through pipeline values (Slurm, over SSH)', () => {
  it('executes nothing, escapes nothing, delivers every value intact and prints no raw control characters', async () => {
    const { dir, remoteDir } = testbedWorkspace()
    const canary = `/tmp/rpo-canary-${randomUUID()}`
    const values = payloads(canary)
    const got = `${remoteDir}/got`
    writePipeline(
      dir,
      'pipeline.yaml',
      injectionPipeline(values, got, '{ partition: all, cpus: 1, memory: 20M, time: 1m }'),
    )
    const ran = await spawnCli(dir, ['run', 'pipeline.yaml']).closed()
    expect(ran.code, ran.stderr).toBe(0)
    const runId = /started run (\S+)/.exec(ran.stderr)?.[1] as string
    runIds.push(runId)
    const printed: string[] = [ran.stdout + ran.stderr]
    for (const args of [['status'], ['status', runId], ['status', runId, '--json']]) {
      const status = await spawnCli(dir, args).closed()
      expect(status.code, status.stderr).toBe(0)
      printed.push(status.stdout + status.stderr)
    }

    const expected = expectedFiles(values)
    const received = new Map(readdirSync(got).map((f) => [f, readFileSync(path.join(got, f), 'utf8')]))
    const mismatched = [...expected].filter(([file, value]) => received.get(file) !== value)
    const control = printed.flatMap(rawControlIn)
    const duplicates = duplicatesIn(await submissionsOf(ssh, runId))
    const outside = readdirSync(remoteDir).filter((f) => !['got', 'runs', 'jobs', '.rpo'].includes(f))
    printFigures('injection-slurm', {
      values: values.length,
      checked: expected.size,
      mismatched: mismatched.length,
      executed: existsSync(canary) ? 1 : 0,
      escaped: existsSync('/tmp/rpo-escape') ? 1 : 0,
      duplicates: duplicates.size,
      rawControlPrinted: control.length,
    })

    expect(existsSync(canary), 'a planted command ran').toBe(false)
    expect(existsSync('/tmp/rpo-escape')).toBe(false)
    expect(mismatched.map(([file, value]) => ({ file, planted: value, got: received.get(file) }))).toEqual([])
    expect(outside, `unexpected entries in ${remoteDir}`).toEqual([])
    expect(Object.fromEntries(duplicates)).toEqual({})
    // the CLI strips ESC/BEL/CSI from what it prints (the lead's change; fails until it is merged)
    expect(control, 'raw control characters printed by rpo run / rpo status').toEqual([])
  }, 180_000)
})
