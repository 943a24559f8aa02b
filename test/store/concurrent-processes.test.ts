/**
 * Two rpo processes on one store at the same instant, on SQLite and PostgreSQL: opening a brand-new
 * store (both migrate it) and starting a run of the same pipeline file (one run, not two). Each
 * test spawns two real node processes that load rpo; in each round both start their store work
 * together, on a store of that round's own.
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

/** One child process: lines it printed, and a way to wait for the n-th line that matches. */
class RaceChild {
  readonly #child: ChildProcessWithoutNullStreams
  #output = ''
  #closed = false
  readonly #waiters = new Set<() => void>()

  constructor() {
    this.#child = spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'pipe'] })
    const take = (chunk: Buffer) => {
      this.#output += String(chunk)
      for (const w of this.#waiters) w()
    }
    this.#child.stdout.on('data', take)
    this.#child.stderr.on('data', take)
    this.#child.once('close', () => {
      this.#closed = true
      for (const w of this.#waiters) w()
    })
  }

  send(line: string): void {
    this.#child.stdin.write(`${line}\n`)
  }

  /** The n-th (from 1) line printed that `matches`; rejects if the child ends first. */
  line(matches: (line: string) => boolean, n: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.#output.split('\n').slice(0, -1).filter(matches)
        if (found.length >= n) {
          this.#waiters.delete(check)
          resolve(found[n - 1] as string)
        } else if (this.#closed) {
          this.#waiters.delete(check)
          reject(new Error(`the child ended before its answer:\n${this.#output}`))
        }
      }
      this.#waiters.add(check)
      check()
    })
  }

  async end(): Promise<void> {
    const closed = new Promise((resolve) => this.#child.once('close', resolve))
    if (!this.#closed) {
      this.#child.stdin.end()
      await closed
    }
  }
}

/**
 * Two processes that have loaded rpo, for the rounds of one test: each round, both prepare (and say
 * "ready"), then both are told to go at once. Loading rpo takes a node process about a second of
 * CPU, so the two are loaded once per test, not once per round; every round has its own store.
 */
function racers(): { race(args: readonly string[]): Promise<ChildAnswer[]>; end(): Promise<void> } {
  const children = [new RaceChild(), new RaceChild()]
  let round = 0
  return {
    async race(args) {
      round++
      for (const child of children) child.send(JSON.stringify(args))
      await Promise.all(children.map((child) => child.line((l) => l === 'ready', round)))
      for (const child of children) child.send('go')
      const answers = await Promise.all(children.map((child) => child.line((l) => l.startsWith('{'), round)))
      return answers.map((line) => JSON.parse(line) as ChildAnswer)
    },
    end: () => Promise.all(children.map((child) => child.end())).then(() => undefined),
  }
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
    const two = racers()
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const store = await freshStore(dialect, round)
        const answers = await two.race(['open', store])
        expect(answers, `round ${round}`).toEqual([{ ok: true }, { ok: true }])
      }
    } finally {
      await two.end()
    }
  })

  it(`start one run of the same pipeline file, not two (${ROUNDS} rounds)`, { timeout: 120_000 }, async () => {
    const two = racers()
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const store = await freshStore(dialect, round)
        const work = path.join(dir, `work-${dialect}-${round}`)
        mkdirSync(work, { recursive: true })
        writeFileSync(path.join(work, 'rpo.config.yaml'), 'clusters:\n  local: { kind: local, cpus: 2, memory: 2G }\n')
        const pipeline = path.join(work, 'p.yaml')
        writeFileSync(pipeline, 'name: twice\ntasks:\n  a: { command: "true" }\n')
        const answers = await two.race(['start', store, work, pipeline])
        expect(
          answers.every((a) => a.ok),
          `round ${round}: ${JSON.stringify(answers)}`,
        ).toBe(true)
        expect(answers[0]?.runId, `round ${round}: ${JSON.stringify(answers)}`).toBe(answers[1]?.runId)
        expect(answers.map((a) => a.resumed).sort(), `round ${round}`).toEqual([false, true])
      }
    } finally {
      await two.end()
    }
  })
})
