/**
 * Runs' snapshots as the planner and the views read them: each run's tasks in order and the latest
 * attempt of each task. One run or many, read the same way: two queries per 1,000 runs (their
 * tasks, their attempts), not two per run, so a listing page or a scrape that projects every
 * running run costs a few statements.
 */
import type { Kysely } from 'kysely'
import type { RunSnapshot, TaskSnapshot } from '../core/scheduling/run-snapshot.js'
import type { AttemptTable, Database } from './database.js'
import type { RunRecord } from './run-records.js'
import { toAttemptSnapshot, toTaskSnapshot } from './run-rows.js'

// bound parameters per statement: well under SQLite's 32,766 and PostgreSQL's 65,535
export const IDS_PER_QUERY = 1000

/** The snapshot of each run, in the order given. The caller maps driver errors (translateStoreError). */
export async function readSnapshots(
  db: Kysely<Database>,
  runs: readonly RunRecord[],
  description: string,
): Promise<{ run: RunRecord; snapshot: RunSnapshot }[]> {
  const tasks = new Map<string, TaskSnapshot[]>()
  const latest = new Map<string, Map<string, AttemptTable>>()
  for (let i = 0; i < runs.length; i += IDS_PER_QUERY) {
    const ids = runs.slice(i, i + IDS_PER_QUERY).map((run) => run.id)
    const [taskRows, attemptRows] = await Promise.all([
      db.selectFrom('tasks').selectAll().where('run_id', 'in', ids).orderBy('run_id').orderBy('seq').execute(),
      db
        .selectFrom('attempts')
        .selectAll()
        .where('run_id', 'in', ids)
        .orderBy('run_id')
        .orderBy('task_id')
        .orderBy('attempt')
        .execute(),
    ])
    for (const row of taskRows) {
      const list = tasks.get(row.run_id) ?? []
      if (list.length === 0) tasks.set(row.run_id, list)
      list.push(toTaskSnapshot(row, description))
    }
    // ordered by attempt: the last row of a task is its latest attempt
    for (const row of attemptRows) {
      const byTask = latest.get(row.run_id) ?? new Map<string, AttemptTable>()
      if (byTask.size === 0) latest.set(row.run_id, byTask)
      byTask.set(row.task_id, row)
    }
  }
  return runs.map((run) => ({
    run,
    snapshot: {
      id: run.id,
      state: run.state,
      pipeline: run.pipeline,
      tasks: tasks.get(run.id) ?? [],
      latestAttempts: [...(latest.get(run.id)?.values() ?? [])].map((row) => toAttemptSnapshot(row, description)),
    },
  }))
}
