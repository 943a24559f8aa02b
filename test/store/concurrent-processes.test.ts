/**
 * Two rpo processes on one store at the same instant, on SQLite and PostgreSQL: opening a brand-new
 * store (both migrate it) and starting a run of the same pipeline file (one run, not two). Each
 * round spawns two real node processes that load rpo, then start their store work together.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../support/cli-harness.js'
import { postgresHarness } from '../support/store-dialects.js'

const CHILD = path.join(REPO_ROOT, 'test/support/store-race-child.mjs')
const ROUNDS = 6

interface ChildAnswer {
  readonly ok: boolean
  readonly code?: string | null
  readonly message?: string
  readonly runId?: string
  readonly resumed?: boolean
}

function startChild(args: readonly string[]): { child: ChildProcessWithoutNullStreams; output: () => string } {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => {
    output += String(chunk)
  })
  child.stderr.on('data', (chunk) => {
    output += String(chunk)
  })
  return { child, output: () => output }
}

/** Both processes load rpo first; then both are told to go at once. */
async function race(args: readonly string[]): Promise<ChildAnswer[]> {
  const children = [startChild(args), startChild(args)]
  const exits = children.map(({ child }) => new Promise<number | null>((resolve) => child.once('close', resolve)))
  await Promise.all(
    children.map(
      ({ child, output }) =>
        new Promise<void>((resolve, reject) => {
          const check = () => {
            if (output().includes('ready\n')) resolve()
          }
          child.stdout.on('data', check)
          child.once('close', () => reject(new Error(`the child ended before it was ready:\n${output()}`)))
          check()
        }),
    ),
  )
  for (const { child } of children) child.stdin.end('go\n')
  await Promise.all(exits)
  return children.map(({ output }) => {
    const line = output()
      .split('\n')
      .find((l) => l.startsWith('{'))
    if (!line) throw new Error(`no answer from the child:\n${output()}`)
    return JSON.parse(line) as ChildAnswer
  })
}

let dir: string
const pgHarness = postgresHarness()
let pgUrl = ''

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'rpo-store-race-'))
  const target = await pgHarness.setUp()
  if (target.kind !== 'postgres') throw new Error('expected a PostgreSQL target')
  pgUrl = target.url
})

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await pgHarness.tearDown()
})

/** A brand-new store for each round: a new SQLite file, or an emptied PostgreSQL database. */
async function freshStore(dialect: 'sqlite' | 'postgres', round: number): Promise<string> {
  if (dialect === 'sqlite') return path.join(dir, `round-${round}-${Math.random().toString(36).slice(2)}`, 'rpo.sqlite')
  const client = new pg.Client({ connectionString: pgUrl })
  await client.connect()
  try {
    await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public')
  } finally {
    await client.end()
  }
  return pgUrl
}

describe.each(['sqlite', 'postgres'] as const)('two processes on one %s store at once', (dialect) => {
  it(`both open and migrate a brand-new store (${ROUNDS} rounds)`, { timeout: 120_000 }, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const store = await freshStore(dialect, round)
      const answers = await race(['open', store])
      expect(answers, `round ${round}`).toEqual([{ ok: true }, { ok: true }])
    }
  })

  it(`start one run of the same pipeline file, not two (${ROUNDS} rounds)`, { timeout: 120_000 }, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const store = await freshStore(dialect, round)
      const work = path.join(dir, `work-${dialect}-${round}`)
      mkdirSync(work, { recursive: true })
      writeFileSync(path.join(work, 'rpo.config.yaml'), 'clusters:\n  local: { kind: local, cpus: 2, memory: 2G }\n')
      const pipeline = path.join(work, 'p.yaml')
      writeFileSync(pipeline, 'name: twice\ntasks:\n  a: { command: "true" }\n')
      const answers = await race(['start', store, work, pipeline])
      expect(
        answers.every((a) => a.ok),
        `round ${round}: ${JSON.stringify(answers)}`,
      ).toBe(true)
      expect(answers[0]?.runId, `round ${round}: ${JSON.stringify(answers)}`).toBe(answers[1]?.runId)
      expect(answers.map((a) => a.resumed).sort(), `round ${round}`).toEqual([false, true])
    }
  })
})
