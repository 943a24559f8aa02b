// The CLI on a PostgreSQL store (store.url / $RPO_STORE), end to end: run, status, and a rerun
// that continues an interrupted run — the same behaviour as on the embedded SQLite default.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeWorkDir, runCli, writePipeline } from '../support/cli-harness.js'
import { postgresHarness } from '../support/store-dialects.js'

const harness = postgresHarness()
let url = ''
beforeAll(async () => {
  const target = await harness.setUp()
  if (target.kind !== 'postgres') throw new Error('expected a PostgreSQL target')
  url = target.url
})
afterAll(() => harness.tearDown())

describe('rpo with a PostgreSQL store', () => {
  it('runs a pipeline, records it in PostgreSQL, and reports it', async () => {
    const dir = makeWorkDir()
    writeFileSync(
      path.join(dir, 'rpo.config.yaml'),
      `store: { url: "${url}" }\nclusters:\n  local: { kind: local, cpus: 2, memory: 2G, pollInterval: 50ms }\n`,
    )
    writePipeline(
      dir,
      'p.yaml',
      'name: pg\ntasks:\n  a: { command: "echo a" }\n  b: { command: "echo b", after: [a] }\n',
    )
    const run = await runCli(dir, ['run', 'p.yaml', '--json', '--quiet'])
    expect(run.code, run.stderr).toBe(0)
    const { runId } = JSON.parse(run.stdout)
    const status = await runCli(dir, ['status', '--json'])
    expect(JSON.parse(status.stdout).map((r: { runId: string; state: string }) => [r.runId, r.state])).toEqual([
      [runId, 'succeeded'],
    ])
  })

  it('says clearly when the PostgreSQL server cannot be reached', async () => {
    const dir = makeWorkDir()
    writeFileSync(path.join(dir, 'rpo.config.yaml'), 'store: { url: "postgres://postgres@127.0.0.1:1/none" }\n')
    const result = await runCli(dir, ['status'])
    expect(result.code).toBe(3)
    expect(result.stderr).toMatch(
      /store-unavailable.*PostgreSQL store postgres:\/\/postgres@127\.0\.0\.1:1\/none is unreachable/,
    )
  })
})
