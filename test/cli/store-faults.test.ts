// What the user sees from the real rpo when the store cannot be used: a full disk or a store that
// turns read-only in the middle of a run, a corrupted row, a store written by a newer rpo, a store URL
// of a database rpo does not speak. Each is exit 3 (2 for the URL) with the cause, at once, and
// never a stack trace, a "cannot rollback" or a crash by signal.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { makeWorkDir, runCli, spawnCli, writePipeline } from '../support/cli-harness.js'

const SLOW_PIPELINE = 'name: slow\ntasks:\n  a: { command: "sleep 1" }\n  b: { command: "sleep 1", after: [a] }\n'

const dirs: string[] = []

function workspace(storeFile = 'state/rpo.sqlite'): { dir: string; store: string } {
  const dir = makeWorkDir('rpo-store-faults-')
  dirs.push(dir)
  writeFileSync(
    path.join(dir, 'rpo.config.yaml'),
    `store: { url: "sqlite:${storeFile}" }\nclusters:\n  local: { kind: local, cpus: 2, memory: 2G, pollInterval: 100ms }\n`,
  )
  writePipeline(dir, 'slow.yaml', SLOW_PIPELINE)
  return { dir, store: path.resolve(dir, storeFile) }
}

const immutable: string[] = []
const mounts: string[] = []
afterEach(() => {
  for (const file of immutable.splice(0)) execFileSync('chattr', ['-i', file])
})
afterAll(() => {
  for (const mount of mounts.splice(0)) execFileSync('umount', [mount])
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function expectNoCrash(result: { code: number | null; stderr: string }): void {
  expect(result.stderr).not.toMatch(/cannot rollback/)
  expect(result.stderr).not.toMatch(/\(retrying\)/)
  expect(result.stderr).not.toMatch(/\n\s+at /)
}

describe('a store that turns unwritable while rpo runs', () => {
  it.each(['-shm', '-wal', ''])(
    'an immutable store file%s ends the run with exit 3 "the store is read-only", not a crash or minutes of retries',
    async (suffix) => {
      const { dir, store } = workspace()
      const rpo = spawnCli(dir, ['run', 'slow.yaml'])
      await rpo.waitFor('a started')
      expect(existsSync(`${store}${suffix}`)).toBe(true)
      execFileSync('chattr', ['+i', `${store}${suffix}`])
      immutable.push(`${store}${suffix}`)
      const result = await rpo.closed()
      expect(result.code, result.stderr).toBe(3)
      expect(result.stderr).toContain(`the store is read-only: ${store}`)
      expectNoCrash(result)
    },
  )

  it('a full disk ends the run with exit 3 "the store\'s disk is full", at once', async () => {
    const { dir } = workspace()
    const disk = path.join(dir, 'disk')
    mkdirSync(disk)
    // a real full disk needs a small tmpfs, so root (as CI and `sudo npm run test:all` run): a
    // failed mount fails the test, it never skips it
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', disk], { stdio: 'ignore' })
    mounts.push(disk)
    const store = path.join(disk, 'rpo.sqlite')
    writeFileSync(
      path.join(dir, 'rpo.config.yaml'),
      `store: { url: "sqlite:${store}" }\nclusters:\n  local: { kind: local, cpus: 2, memory: 2G, pollInterval: 100ms }\n`,
    )
    const rpo = spawnCli(dir, ['run', 'slow.yaml'])
    await rpo.waitFor('a started')
    const free = statfsSync(disk)
    try {
      writeFileSync(path.join(disk, 'filler'), Buffer.alloc(Number(free.bavail * free.bsize)))
    } catch {
      // full to the last block either way
    }
    const result = await rpo.closed()
    expect(result.code, result.stderr).toBe(3)
    expect(result.stderr).toContain(`the store's disk is full: ${store}`)
    expectNoCrash(result)
  })
})

describe('a damaged store', () => {
  it('rpo status names the run and the column of a corrupted row, exit 3, no stack trace', async () => {
    const { dir, store } = workspace()
    writePipeline(dir, 'quick.yaml', 'name: quick\ntasks:\n  a: { command: "true", matrix: { x: [1, 2] } }\n')
    const run = await runCli(dir, ['run', 'quick.yaml', '--json', '--quiet'])
    expect(run.code, run.stderr).toBe(0)
    const { runId } = JSON.parse(run.stdout)
    const db = new Database(store)
    db.prepare("update tasks set params_json = '{\"x\": 1' where run_id = ? and id = 'a.0'").run(runId)
    db.close()
    for (const args of [['status'], ['status', runId]]) {
      const result = await runCli(dir, args)
      expect(result.code, result.stderr).toBe(3)
      expect(result.stderr).toContain(`store corrupted: run ${runId}, column params_json of task a.0 (not JSON`)
      expectNoCrash(result)
    }
  })

  it('a store written by a newer rpo is refused with both schema versions, exit 3, and left unchanged', async () => {
    const { dir, store } = workspace()
    expect((await runCli(dir, ['status'])).code).toBe(0)
    const db = new Database(store)
    db.prepare("insert into rpo_migrations (name, timestamp) values ('099-later', '2030-01-01T00:00:00.000Z')").run()
    db.close()
    const result = await runCli(dir, ['status'])
    expect(result.code, result.stderr).toBe(3)
    expect(result.stderr).toContain('written by a newer rpo (schema version 99; this rpo knows up to 12)')
    expect(result.stderr).not.toMatch(/corrupt/)
    const after = new Database(store, { readonly: true })
    expect(after.prepare('select count(*) as n from rpo_migrations').get()).toEqual({ n: 13 })
    after.close()
  })
})

describe('a store URL rpo does not speak', () => {
  it.each([
    ['RPO_STORE', 'mysql://rpo:s3cret@db.example/rpo'],
    ['RPO_STORE', 'sqlite://relative.db'],
    ['store.url', 'mongodb://db.example/rpo'],
  ])('%s=%s is refused with exit 2, naming the accepted forms, and creates nothing', async (where, url) => {
    const dir = makeWorkDir('rpo-store-url-')
    if (where === 'store.url') writeFileSync(path.join(dir, 'rpo.config.yaml'), `store: { url: "${url}" }\n`)
    const rpo = spawnCli(dir, ['status'], where === 'RPO_STORE' ? { RPO_STORE: url } : {})
    const result = await rpo.closed()
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr).toContain(where)
    expect(result.stderr).toContain('expected sqlite:<path>, a file path, postgres://… or postgresql://…')
    expect(result.stderr).not.toContain('s3cret')
    expect(readdirSync(dir)).toEqual(where === 'store.url' ? ['rpo.config.yaml'] : [])
    rmSync(dir, { recursive: true, force: true })
  })
})
