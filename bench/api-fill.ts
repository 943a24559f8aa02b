/**
 * The API bench's store: 100 runs × 100 tasks started through rpo's engine (the real rows), their
 * attempts and task states written in bulk, budgets with charges, and 1,000,000 events made by the
 * database itself (a recursive CTE on SQLite, generate_series on PostgreSQL) in one statement, so
 * filling takes seconds, not the hours a million round trips would. Every event is one rpo writes
 * (its payload passes the event schemas: the API validates each one it reads back).
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type Kysely, sql } from 'kysely'
import { loadPipelineText } from '../src/config/load-pipeline.js'
import { chargedByUsageKey, planCharges } from '../src/core/budget/budget-ledger.js'
import { tresHoursOf } from '../src/core/budget/tres-hours.js'
import { type App, createApp } from '../src/create-app.js'
import type { AttemptTable, Database } from '../src/store/database.js'
import { openDatabase } from '../src/store/open-store.js'

export interface FillScale {
  readonly runs: number
  readonly tasksPerRun: number
  readonly events: number
}

export interface FilledStore {
  readonly app: App
  readonly dir: string
  /** A second connection to the same store, for the bench's own bulk writes and EXPLAINs. */
  readonly db: Kysely<Database>
  readonly dialect: 'sqlite' | 'postgres'
  readonly runIds: readonly string[]
  /** Runs left `running` with pending tasks (the tick bench moves those). */
  readonly runningRunIds: readonly string[]
  readonly projects: readonly string[]
  readonly fillSeconds: Record<string, number>
  close(): Promise<void>
}

export const PROJECTS = 10
const DAY = 86_400_000
const T0 = Date.parse('2026-11-01T00:00:00.000Z')

function config(storeUrl: string, dir: string): string {
  const projects = Array.from(
    { length: PROJECTS },
    (_, p) =>
      `  p${p}:\n    budgets:\n      - { resource: cpu-hours, amount: 5000, cap: hard }\n      - { resource: gpu-hours, amount: 800, cap: soft }\n`,
  ).join('')
  return `store: { url: "${storeUrl}" }\nstateDir: ${path.join(dir, 'state')}\ndefaultCluster: box\nclusters:\n  box: { kind: local, cpus: 64, memory: 256G }\nprojects:\n${projects}`
}

function pipeline(i: number, tasks: number): string {
  return `name: api-bench-${i}\nproject: p${i % PROJECTS}\ntasks:\n  train:\n    matrix: { seed: [${Array.from({ length: tasks }, (_, k) => k).join(', ')}] }\n    command: train.sh --seed {{params.seed}}\n    resources: { cpus: 1, memory: 1G, time: 1h }\n`
}

/** What a run's tasks became: most runs done, some running (half their tasks pending), some failed. */
function runShape(r: number, runs: number): 'succeeded' | 'running' | 'failed' {
  const share = r / runs
  return share < 0.6 ? 'succeeded' : share < 0.9 ? 'running' : 'failed'
}

const iso = (ms: number) => new Date(ms).toISOString()

export async function fillStore(
  scale: FillScale,
  target: { kind: 'sqlite' } | { kind: 'postgres'; url: string },
): Promise<FilledStore> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rpo-api-bench-'))
  const storeUrl = target.kind === 'sqlite' ? `sqlite:${path.join(dir, 'rpo.sqlite')}` : target.url
  writeFileSync(path.join(dir, 'rpo.config.yaml'), config(storeUrl, dir))
  const app = await createApp({ cwd: dir, env: {}, eventPollIntervalMs: 1000 })
  const opened = await openDatabase(app.config.store)
  const db = opened.db
  const seconds: Record<string, number> = {}
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const start = performance.now()
    const result = await fn()
    seconds[name] = (performance.now() - start) / 1000
    return result
  }

  const engine = await app.engineFor('box')
  const runIds = await timed('runs', async () => {
    const ids: string[] = []
    for (let i = 0; i < scale.runs; i++) {
      const { run } = await engine.startRun(
        loadPipelineText(path.join(dir, `p${i}.yaml`), pipeline(i, scale.tasksPerRun)),
        { resume: false },
      )
      ids.push(run.id)
    }
    return ids
  })

  await timed('attempts', () => fillAttempts(db, runIds, scale))
  await timed('charges', () => fillCharges(app, runIds))
  await timed('events', () => fillEvents(db, opened.dialect, scale.events))
  if (opened.dialect === 'sqlite') await timed('analyze', () => sql`analyze`.execute(db))
  else await timed('analyze', () => sql`analyze`.execute(db))

  return {
    app,
    dir,
    db,
    dialect: opened.dialect,
    runIds,
    runningRunIds: runIds.filter((_, r) => runShape(r, runIds.length) === 'running'),
    projects: Array.from({ length: PROJECTS }, (_, p) => `p${p}`),
    fillSeconds: seconds,
    async close() {
      await db.destroy()
      await app.close()
    },
  }
}

/** Task states and their attempts, as the runs' shapes say: one attempt each, every tenth task retried once. */
async function fillAttempts(db: Kysely<Database>, runIds: readonly string[], scale: FillScale): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const rows: AttemptTable[] = []
    for (const [r, runId] of runIds.entries()) {
      const shape = runShape(r, runIds.length)
      const tasks = await trx.selectFrom('tasks').select(['id', 'seq']).where('run_id', '=', runId).execute()
      const start = T0 + r * 3_600_000
      const byState = new Map<string, string[]>()
      for (const task of tasks) {
        const s = task.seq
        const state =
          shape === 'running' && s > scale.tasksPerRun / 2
            ? 'pending'
            : shape === 'running' && s > scale.tasksPerRun * 0.4
              ? 'active'
              : shape === 'failed' && s % 10 === 5
                ? 'failed'
                : 'succeeded'
        byState.set(state, [...(byState.get(state) ?? []), task.id])
        if (state === 'pending') continue
        const tries = s % 10 === 0 || state === 'failed' ? 2 : 1
        for (let attempt = 1; attempt <= tries; attempt++) {
          const submitted = start + s * 60_000 + (attempt - 1) * 1_800_000
          const last = attempt === tries
          const attemptState = !last ? 'failed' : state === 'active' ? 'running' : state
          const ended = attemptState === 'running' ? null : iso(submitted + 600_000 + (s % 7) * 300_000)
          rows.push({
            run_id: runId,
            task_id: task.id,
            attempt,
            submission_key: `rpo.${runId}.${task.id}.${attempt}`,
            job_id: String(100_000 + r * 1000 + s * 3 + attempt),
            state: attemptState,
            native_state: attemptState.toUpperCase(),
            exit_code: attemptState === 'failed' ? 1 : attemptState === 'succeeded' ? 0 : null,
            reason: attemptState === 'failed' ? 'exit code 1' : null,
            submitted_at: iso(submitted),
            started_at: iso(submitted + 120_000),
            ended_at: ended,
            missed_polls: 0,
            usage_json: null,
            nodes_json: JSON.stringify([`node${s % 16}`]),
            held_reason: null,
            nice: null,
            expected_start_at: null,
          })
        }
      }
      for (const [state, ids] of byState) {
        if (state === 'pending') continue
        await trx
          .updateTable('tasks')
          .set({
            state,
            attempts: 1,
            started_at: iso(start),
            ended_at: state === 'active' ? null : iso(start + 3_600_000),
          })
          .where('run_id', '=', runId)
          .where('id', 'in', ids)
          .execute()
      }
      if (shape !== 'running')
        await trx
          .updateTable('runs')
          .set({ state: shape, finished_at: iso(start + DAY), updated_at: iso(start + DAY) })
          .where('id', '=', runId)
          .execute()
    }
    // 18 columns a row: 500 rows stay under SQLite's 32,766 parameters a statement
    for (let i = 0; i < rows.length; i += 500)
      await trx
        .insertInto('attempts')
        .values(rows.slice(i, i + 500))
        .execute()
  })
}

/** What the runs' jobs used, charged to their projects as the ledger records it (200 charges a project). */
async function fillCharges(app: App, runIds: readonly string[]): Promise<void> {
  const observations = runIds.flatMap((runId, r) =>
    Array.from({ length: 200 / (runIds.length / PROJECTS) }, (_, n) => ({
      usageKey: `rpo.${runId}.train.${n}.1#0`,
      project: `p${r % PROJECTS}`,
      user: `u${n % 3}`,
      at: iso(T0 + r * 3_600_000 + n * 60_000),
      hours: tresHoursOf({ cpu: 8, 'gres/gpu': 1, 'gres/gpu:a100': 1 }, 3600 * (1 + (n % 5))),
    })),
  )
  await app.store.budgets.appendEntries(planCharges(observations, chargedByUsageKey([])))
}

/**
 * One statement: row i is a tick error (every 20th, of no run), a task's state change or an
 * attempt's, of run (i mod runs)'s task (i / runs mod tasks) — found through a numbered copy of
 * the tasks that is dropped afterwards.
 */
async function fillEvents(db: Kysely<Database>, dialect: 'sqlite' | 'postgres', count: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`create temporary table bench_tasks (k integer primary key, run_id text, project text, task_id text)`.execute(
      trx,
    )
    await sql`insert into bench_tasks (k, run_id, project, task_id)
      select row_number() over (order by t.run_id, t.seq) - 1, t.run_id, r.project, t.id
      from tasks t join runs r on r.id = t.run_id`.execute(trx)
    const n = Number(
      ((await sql<{ n: number | string }>`select count(*) as n from bench_tasks`.execute(trx)).rows[0] as { n: number })
        .n,
    )
    const t0 = T0 / 1000
    const at =
      dialect === 'sqlite'
        ? sql`strftime('%Y-%m-%dT%H:%M:%fZ', ${t0} + g.i * 2, 'unixepoch')`
        : sql`to_char(to_timestamp(${t0} + g.i * 2) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
    const series =
      dialect === 'sqlite'
        ? sql`with recursive g(i) as (select 0 union all select i + 1 from g where i + 1 < ${count})`
        : sql`with g(i) as (select generate_series(0, ${count - 1}))`
    const tickError = JSON.stringify({ cluster: 'box', step: 'observe', code: 'transport', message: 'ssh timed out' })
    await sql`${series}
      insert into events (at, type, project, run_id, task_id, payload)
      select ${at},
        case when g.i % 20 = 0 then 'tick.error' when g.i % 2 = 1 then 'task.state' else 'attempt.state' end,
        case when g.i % 20 = 0 then null else b.project end,
        case when g.i % 20 = 0 then null else b.run_id end,
        case when g.i % 20 = 0 then null else b.task_id end,
        case when g.i % 20 = 0 then ${tickError}
          when g.i % 2 = 1 then '{"from":"pending","to":"active","reason":null}'
          else '{"attempt":1,"submissionKey":"rpo.' || b.run_id || '.' || b.task_id || '.1","jobId":"' || g.i || '","from":"pending","to":"running","exitCode":null,"reason":null}'
        end
      from g join bench_tasks b on b.k = g.i % ${n}
      order by g.i`.execute(trx)
    await sql`drop table bench_tasks`.execute(trx)
  })
}
