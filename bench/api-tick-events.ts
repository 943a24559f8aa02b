/**
 * What the event log costs a tick: a round's write (RunStore.applyPlan) moving N pending tasks to
 * active with a new attempt each — 2N events (task.state, attempt.state) written in the same
 * transaction — timed whole; then the same 2N events inserted alone in a transaction of their own
 * (insertEvents, as applyPlan calls it), less an empty transaction, on the same 1M-event store.
 */
import type { NewRpoEvent } from '../src/events/event-schemas.js'
import { attemptStateEvents, taskStateEvents } from '../src/events/store-events.js'
import { insertEvents } from '../src/store/event-rows.js'
import type { PlanWrite } from '../src/store/run-records.js'
import { fmt, timing } from './api-bench.js'
import type { FilledStore } from './api-fill.js'

export async function benchTickEvents(filled: FilledStore): Promise<void> {
  const pending = new Map<string, string[]>()
  for (const runId of filled.runningRunIds) {
    const rows = await filled.db
      .selectFrom('tasks')
      .select('id')
      .where('run_id', '=', runId)
      .where('state', '=', 'pending')
      .orderBy('seq')
      .execute()
    pending.set(
      runId,
      rows.map((r) => r.id),
    )
  }
  console.log(
    'event write cost per tick (SQLite, the filled store; a round: N tasks pending → active, a new attempt each)',
  )
  const rounds = Math.max(3, Math.min(15, Math.floor(filled.runningRunIds.length / 2)))
  for (const n of [10, 40]) {
    const plans: number[] = []
    const inserts: number[] = []
    const empties: number[] = []
    for (let round = 0; round < rounds; round++) {
      const runId = [...pending.keys()].find((id) => (pending.get(id)?.length ?? 0) >= n)
      if (!runId) break
      const tasks = (pending.get(runId) as string[]).splice(0, n)
      const now = new Date().toISOString()
      const plan: PlanWrite = {
        taskUpdates: new Map(tasks.map((id) => [id, { state: 'active' as const, attempts: 1 }])),
        attemptUpdates: new Map(),
        newTasks: [],
        newAttempts: tasks.map((taskId) => ({
          taskId,
          attempt: 1,
          submissionKey: `rpo.${runId}.${taskId}.1`,
          jobId: null,
          state: 'submitting' as const,
          nativeState: null,
          exitCode: null,
          reason: null,
          submittedAt: now,
          startedAt: null,
          endedAt: null,
          missedPolls: 0,
          nodes: [],
        })),
        events: [],
        runState: 'running',
        now,
      }
      let start = performance.now()
      const applied = await filled.app.store.applyPlan(runId, 'running', plan)
      plans.push(performance.now() - start)
      if (!applied) throw new Error(`run ${runId} was not running`)

      // the same events again, alone: what applyPlan's transaction spent on them
      const context = { at: now, project: null, runId }
      const events: NewRpoEvent[] = tasks.flatMap((taskId) => [
        ...taskStateEvents(context, taskId, 'pending', 'active', null),
        ...attemptStateEvents(context, {
          taskId,
          attempt: 1,
          submissionKey: `rpo.${runId}.${taskId}.1`,
          jobId: null,
          from: null,
          to: 'submitting',
          exitCode: null,
          reason: null,
          nodes: [],
        }),
      ])
      start = performance.now()
      await filled.db.transaction().execute((trx) => insertEvents(trx, filled.dialect, events))
      inserts.push(performance.now() - start)
      start = performance.now()
      await filled.db.transaction().execute(async () => undefined)
      empties.push(performance.now() - start)
    }
    if (plans.length === 0) {
      console.log(`  N=${n}: no run has ${n} pending tasks left at this scale`)
      continue
    }
    const p = timing(plans)
    const i = timing(inserts)
    const e = timing(empties)
    const eventMs = Math.max(0, i.median - e.median)
    console.log(
      `  N=${String(n).padStart(2)} (${2 * n} events), ${plans.length} rounds: applyPlan median ${fmt(p.median)} ms  p95 ${fmt(p.p95)} ms; ` +
        `its ${2 * n} events alone ${fmt(eventMs)} ms a round (insert txn ${i.median.toFixed(2)} − empty txn ${e.median.toFixed(2)}) = ` +
        `${((eventMs / (2 * n)) * 1000).toFixed(0)} µs an event, ${((eventMs / p.median) * 100).toFixed(0)}% of the round's write`,
    )
  }
}
