// Daemons sharing clusters on one PostgreSQL store, as real processes (`bin/rpo.js daemon`, a
// schedule of one round a second, the local executor):
// - two daemons, one killed with SIGKILL mid-work: the other takes the cluster over within one
//   lease period (≤ 30 s; the figure is printed) and finishes every run, no task started twice;
// - a daemon frozen (SIGSTOP) past its lease: the other takes over when the lease expires (the
//   holder's pid is alive, so only expiry frees it), and the frozen one, resumed, stands down;
// - `rpo run` while a daemon ticks the same cluster follows its run to the end, without errors.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeWorkDir, runCli, spawnCli, writePipeline } from '../support/cli-harness.js'
import { postgresHarness } from '../support/store-dialects.js'

const harness = postgresHarness()
let url = ''
beforeAll(async () => {
  const target = await harness.setUp()
  if (target.kind !== 'postgres') throw new Error('expected a PostgreSQL target')
  url = target.url
})
afterAll(() => harness.tearDown())

const RUNS = 4

function workDir(): { dir: string; go: string; log: string } {
  const dir = makeWorkDir('rpo-daemons-')
  writeFileSync(
    path.join(dir, 'rpo.config.yaml'),
    `store: { url: "${url}" }
defaultCluster: box
clusters:
  box: { kind: local, cpus: 8, memory: 8G, killGrace: 200ms, pollInterval: 50ms }
sync: { schedule: "* * * * * *" }
`,
  )
  const go = path.join(dir, 'go')
  const log = path.join(dir, 'started.log')
  // every start of a task is a line: a task started twice would be two
  writePipeline(
    dir,
    'p.yaml',
    `name: shared
tasks:
  a: { command: 'echo "$RPO_RUN_ID/$RPO_TASK_ID" >> ${log}; while [ ! -e ${go} ]; do sleep 0.05; done' }
  b: { command: 'echo "$RPO_RUN_ID/$RPO_TASK_ID" >> ${log}', after: [a] }
`,
  )
  return { dir, go, log }
}

type Daemon = ReturnType<typeof spawnCli>

/** RUNS runs submitted, a first daemon holding the cluster, and a second one waiting for it. */
async function twoDaemons(dir: string): Promise<{ runIds: string[]; first: Daemon; taker: Daemon }> {
  const runIds: string[] = []
  for (let i = 0; i < RUNS; i++) {
    const submitted = await runCli(dir, ['submit', 'p.yaml', '--new', '--json'])
    expect(submitted.code, submitted.stderr).toBe(0)
    runIds.push(JSON.parse(submitted.stdout).runId)
  }
  // the second daemon starts once the first holds the cluster: started together, either may win
  // the lease, and its winner keeps it (renewed every round) for as long as it lives
  const first = spawnCli(dir, ['daemon'])
  await first.waitFor(new RegExp(`cluster box: ${RUNS} run\\(s\\)`), 30_000)
  const taker = spawnCli(dir, ['daemon'])
  try {
    await taker.waitFor(new RegExp(`cluster box: ticked by [^:]+:${first.child.pid}:\\S+; retrying in \\d+s`), 30_000)
  } catch (error) {
    first.child.kill('SIGKILL')
    taker.child.kill('SIGKILL')
    throw error
  }
  return { runIds, first, taker }
}

/** Milliseconds from now until `taker` logs a round of its own, failing after `limitMs`. */
async function takeoverMs(taker: Daemon, limitMs: number): Promise<number> {
  const since = Date.now()
  const before = taker.stderr().length
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (/cluster box: \d+ run\(s\)/.test(taker.stderr().slice(before))) {
        clearInterval(timer)
        resolve()
      } else if (Date.now() - since > limitMs) {
        clearInterval(timer)
        reject(new Error(`no takeover within ${limitMs} ms:\n${taker.stderr()}`))
      }
    }, 20)
  })
  return Date.now() - since
}

function expectEachTaskOnce(log: string, runIds: readonly string[]): void {
  const starts = readFileSync(log, 'utf8').trim().split('\n').sort()
  expect(starts).toEqual(runIds.flatMap((id) => [`${id}/a`, `${id}/b`]).sort())
}

describe('daemons on one PostgreSQL store', () => {
  it('a killed daemon’s cluster is taken over within one lease period and every run finishes, no task twice', async () => {
    const { dir, go, log } = workDir()
    const { runIds, first, taker } = await twoDaemons(dir)
    try {
      first.child.kill('SIGKILL')
      await first.exited()
      const ms = await takeoverMs(taker, 30_000)
      console.log(`takeover of a SIGKILLed daemon's cluster: ${ms} ms (bound: one lease period, 30 s)`)
      writeFileSync(go, '')
      for (const runId of runIds) await taker.waitFor(`${runId}: succeeded`, 30_000)
      expectEachTaskOnce(log, runIds)
    } finally {
      // the tasks wait for this file: without it a failed test would leave them running
      writeFileSync(go, '')
      first.child.kill('SIGKILL')
      taker.child.kill('SIGTERM')
      await taker.exited()
    }
  }, 120_000)

  it('a frozen daemon’s cluster is taken over when its lease expires; resumed, it stands down', async () => {
    const { dir, go, log } = workDir()
    const { runIds, first, taker } = await twoDaemons(dir)
    try {
      first.child.kill('SIGSTOP')
      // its pid lives: only the lease's expiry (20 s) frees the cluster
      const ms = await takeoverMs(taker, 30_000)
      console.log(`takeover of a frozen daemon's cluster by lease expiry: ${ms} ms (lease 20 s, bound 30 s)`)
      const frozenLog = first.stderr().length
      first.child.kill('SIGCONT')
      writeFileSync(go, '')
      for (const runId of runIds) await taker.waitFor(`${runId}: succeeded`, 30_000)
      expectEachTaskOnce(log, runIds)
      // resumed, the frozen daemon sent nothing (a round frozen past its last check may only finish
      // reporting) and then found the cluster held
      await first.waitFor(new RegExp(`cluster box: ticked by [^:]+:${taker.child.pid}:`), 30_000)
      expect(first.stderr().slice(frozenLog)).not.toMatch(/cluster box: \d+ run\(s\), [1-9]\d* submitted/)
    } finally {
      writeFileSync(go, '')
      first.child.kill('SIGCONT')
      first.child.kill('SIGKILL')
      taker.child.kill('SIGTERM')
      await taker.exited()
    }
  }, 120_000)

  it('`rpo run` while a daemon ticks the same cluster follows its run to the end without errors', async () => {
    const { dir, go } = workDir()
    const other = await runCli(dir, ['submit', 'p.yaml', '--new', '--json'])
    const otherId = JSON.parse(other.stdout).runId
    const daemon = spawnCli(dir, ['daemon'])
    try {
      await daemon.waitFor(`${otherId}: running`, 30_000)
      const follower = spawnCli(dir, ['run', 'p.yaml', '--new', '--json'])
      await follower.waitFor(/started run/, 30_000)
      writeFileSync(go, '')
      const result = await follower.closed()
      expect(result.code, result.stderr).toBe(0)
      expect(JSON.parse(result.stdout)).toMatchObject({ state: 'succeeded' })
      // neither a held lease nor anything else was an error to it
      expect(result.stderr).not.toMatch(/^\S+\s+! /m)
      await daemon.waitFor(`${otherId}: succeeded`, 30_000)
    } finally {
      writeFileSync(go, '')
      daemon.child.kill('SIGTERM')
      await daemon.exited()
    }
  }, 120_000)
})
