// The store fails under rpo: PostgreSQL restarted under `rpo daemon` (a throwaway server of this
// test's own, never the shared one on 5432), and the disk of the SQLite store full (a tiny tmpfs,
// mounted as root). Each time rpo says so clearly, and the run finishes with nothing started twice.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { makeWorkDir, runCli, spawnCli, writePipeline } from '../support/cli-harness.js'
import { printFigures, wallSince } from './support/fault-figures.js'
import { startThrowawayPostgres } from './support/throwaway-postgres.js'

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      cleanup()
    } catch (error) {
      process.stderr.write(`cleanup failed: ${String(error)}\n`)
    }
  }
})

// each task records its start; nothing may start twice
const PIPELINE = `
name: store-faults
defaults:
  resources: { cpus: 1, memory: 20M, time: 2m }
  retries: { max: 0 }
tasks:
  first:
    command: echo "$RPO_TASK_ID $RPO_ATTEMPT" >> starts.log; sleep 1
  sweep:
    after: [first]
    matrix: { i: [0, 1, 2, 3, 4, 5, 6, 7] }
    command: echo "$RPO_TASK_ID $RPO_ATTEMPT" >> starts.log; sleep 2
  last:
    after: [sweep]
    command: echo "$RPO_TASK_ID $RPO_ATTEMPT" >> starts.log; sleep 1
`
const TASKS = 10

function startsIn(dir: string): string[] {
  return readFileSync(path.join(dir, 'starts.log'), 'utf8').trim().split('\n').sort()
}

async function waitForStarts(dir: string, count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!existsSync(path.join(dir, 'starts.log')) || startsIn(dir).length < count) {
    if (Date.now() > deadline) throw new Error(`fewer than ${count} task(s) started within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('store faults', () => {
  it('PostgreSQL restarted under rpo daemon: the daemon says so, carries on, and the run finishes once', async () => {
    const started = Date.now()
    const pg = await startThrowawayPostgres()
    cleanups.push(() => pg.destroy())
    const dir = makeWorkDir('rpo-faults-pg-')
    writeFileSync(
      path.join(dir, 'rpo.config.yaml'),
      `defaultCluster: here
clusters:
  here: { kind: local, cpus: 4, memory: 4G, pollInterval: 200ms }
sync: { schedule: "* * * * * *" }
`,
    )
    writePipeline(dir, 'pipeline.yaml', PIPELINE)
    const env = { RPO_STORE: pg.url }
    const submit = await spawnCli(dir, ['submit', 'pipeline.yaml', '--json'], env).closed()
    expect(submit.code, submit.stderr).toBe(0)
    const runId = JSON.parse(submit.stdout).runId as string

    const daemon = spawnCli(dir, ['daemon'], env)
    cleanups.push(() => daemon.child.kill('SIGKILL'))
    await waitForStarts(dir, 2)
    pg.stop()
    await new Promise((r) => setTimeout(r, 4000))
    const degraded = daemon.stderr()
    pg.start()

    const deadline = Date.now() + 120_000
    let state = 'running'
    while (state === 'running' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000))
      const status = await spawnCli(dir, ['status', runId, '--json'], env).closed()
      if (status.code === 0) state = JSON.parse(status.stdout).state
    }
    daemon.child.kill('SIGTERM')
    const stopped = await daemon.closed()
    const starts = startsIn(dir)
    printFigures('postgres-restart', {
      tasks: TASKS,
      starts: starts.length,
      duplicates: starts.length - new Set(starts.map((s) => s.split(' ')[0])).size,
      wall: wallSince(started),
    })
    expect(state, stopped.stderr.slice(-3000)).toBe('succeeded')
    expect(starts.map((s) => s.split(' ')[0])).toEqual([...new Set(starts.map((s) => s.split(' ')[0]))])
    expect(starts).toHaveLength(TASKS)
    // while PostgreSQL was down the daemon said why its ticks failed, naming the store
    expect(degraded).toMatch(/tick failed: .*(store|PostgreSQL|postgres|connect)/i)
    expect(stopped.stderr).not.toMatch(/internal error:/)
    expect(stopped.code).toBe(0)
  }, 240_000)

  it('disk full under the SQLite store: rpo exits 3 saying the disk is full; once freed, the rerun continues with nothing run twice', async () => {
    const started = Date.now()
    const dir = makeWorkDir('rpo-faults-disk-')
    const mount = path.join(dir, 'store-disk')
    mkdirSync(mount)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount])
    cleanups.push(() => execFileSync('umount', ['-l', mount]))
    writeFileSync(
      path.join(dir, 'rpo.config.yaml'),
      `store: { url: "sqlite:store-disk/rpo.sqlite" }
defaultCluster: here
clusters:
  here: { kind: local, cpus: 4, memory: 4G, pollInterval: 200ms }
`,
    )
    writePipeline(dir, 'pipeline.yaml', PIPELINE)
    const first = spawnCli(dir, ['run', 'pipeline.yaml'])
    cleanups.push(() => first.child.kill('SIGKILL'))
    await waitForStarts(dir, 1)
    // fill the store's disk to the last byte
    const filler = path.join(mount, 'filler')
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' })
    } catch {
      // dd stops with "No space left on device": that is the point
    }
    const ended = await Promise.race([first.closed(), new Promise<null>((r) => setTimeout(() => r(null), 60_000))])
    const said = `${first.stderr()}${first.stdout()}`
    rmSync(filler)
    const rerun = await spawnCli(dir, ['run', 'pipeline.yaml']).closed()
    const starts = startsIn(dir)
    const status = await runCli(dir, ['status', '--json'])
    printFigures('disk-full', {
      exit: ended?.code ?? 'hung',
      rerunExit: rerun.code ?? 'signal',
      tasks: TASKS,
      starts: starts.length,
      duplicates: starts.length - new Set(starts.map((s) => s.split(' ')[0])).size,
      wall: wallSince(started),
    })
    expect(ended, `rpo run did not exit within 60 s of the disk filling up:\n${said.slice(-2000)}`).not.toBeNull()
    expect(ended?.code, said.slice(-2000)).toBe(3)
    expect(said).toMatch(/disk.*full|no space left/i)
    expect(said).not.toMatch(/internal error:/)
    expect(rerun.code, rerun.stderr.slice(-2000)).toBe(0)
    expect(rerun.stderr).toContain('continuing run')
    expect(JSON.parse(status.stdout)).toHaveLength(1)
    expect(starts.map((s) => s.split(' ')[0])).toEqual([...new Set(starts.map((s) => s.split(' ')[0]))])
    expect(starts).toHaveLength(TASKS)
  }, 240_000)
})
