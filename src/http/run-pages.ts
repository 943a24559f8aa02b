/**
 * A run's tasks and attempts a page at a time (GET /v1/runs/:runId/tasks and /attempts), so a
 * sweep of 10,000 instances is not one answer. Tasks come in the run's order (the order GET
 * /v1/runs/:runId lists them in) and page after a task id: the tasks after it in that order, which
 * stays right while the run goes on (tasks a run adds come last). Attempts come by task id, then
 * attempt number, and page after `<taskId>:<attempt>`. Each page says the cursor of the next, or
 * null when nothing matching is left.
 *
 * The run is read whole, as for GET /v1/runs/:runId (a task's expected vs actual needs the
 * projection of the whole run): a page bounds the answer, not the reading.
 */
import { RpoError } from '../core/errors.js'
import type { App } from '../create-app.js'
import type { TaskProgress } from '../monitor/run-progress.js'
import type { AttemptRecord } from '../store/run-store.js'
import type { ApiToken } from '../store/token-store.js'
import { requireProject } from './auth.js'
import { runProgress } from './run-views.js'

export interface TaskPageQuery {
  readonly state?: readonly string[] | undefined
  readonly stage?: readonly string[] | undefined
  readonly prefix?: string | undefined
  readonly after?: string | undefined
  readonly limit: number
}

/** Up to `limit` of the matching items, and the cursor of the next page (null: none left). */
function pageOf<T>(matching: readonly T[], limit: number, cursor: (item: T) => string) {
  const items = matching.slice(0, limit)
  const last = items.at(-1)
  return { items, next: matching.length > limit && last !== undefined ? cursor(last) : null }
}

const given = (list: readonly string[] | undefined) => list !== undefined && list.length > 0

export async function taskPage(
  app: App,
  token: ApiToken,
  runId: string,
  query: TaskPageQuery,
): Promise<{ runId: string; tasks: readonly TaskProgress[]; next: string | null }> {
  const { run, snapshot, progress } = await runProgress(app, runId)
  requireProject(token, run.project)
  // every task of the run has a place, listed or not (a foreach template that has since expanded)
  const order = new Map(snapshot.tasks.map((task, index) => [task.id, index]))
  let from = -1
  if (query.after !== undefined) {
    const at = order.get(query.after)
    if (at === undefined)
      throw new RpoError(
        'usage',
        `query parameter "after": run ${run.id} has no task ${JSON.stringify(query.after.slice(0, 80))} (pass \`next\` as it is)`,
      )
    from = at
  }
  const { state, stage, prefix } = query
  const matching = progress.tasks.filter(
    (task) =>
      (order.get(task.id) ?? -1) > from &&
      (!given(state) || state?.includes(task.state)) &&
      (!given(stage) || stage?.includes(task.group)) &&
      (prefix === undefined || task.id.startsWith(prefix)),
  )
  const { items, next } = pageOf(matching, query.limit, (task) => task.id)
  return { runId: run.id, tasks: items, next }
}

export interface AttemptPageQuery {
  readonly task?: readonly string[] | undefined
  readonly state?: readonly string[] | undefined
  readonly after?: string | undefined
  readonly limit: number
}

const CURSOR = /^(.+):(\d{1,9})$/

/** Why `text` is not an attempt cursor (`<taskId>:<attempt>`), or null. */
export function attemptCursorProblem(text: string): string | null {
  return CURSOR.test(text)
    ? null
    : `expected <taskId>:<attempt> (the \`next\` of the previous page), got ${JSON.stringify(text.slice(0, 40))}`
}

const attemptCursor = (a: AttemptRecord) => `${a.taskId}:${a.attempt}`

/** By task id (code unit order, the same in every store), then attempt number. */
function byTaskThenAttempt(a: { taskId: string; attempt: number }, b: { taskId: string; attempt: number }): number {
  if (a.taskId !== b.taskId) return a.taskId < b.taskId ? -1 : 1
  return a.attempt - b.attempt
}

export async function attemptPage(
  app: App,
  token: ApiToken,
  runId: string,
  query: AttemptPageQuery,
): Promise<{ runId: string; attempts: readonly AttemptRecord[]; next: string | null }> {
  const run = await app.store.getRun(runId)
  requireProject(token, run.project)
  const { task, state } = query
  // one task asked for: only its attempts are read
  const only = task?.length === 1 ? task[0] : undefined
  const all = (await app.store.listAttempts(run.id, only)).sort(byTaskThenAttempt)
  const match = query.after === undefined ? null : CURSOR.exec(query.after)
  const after = match ? { taskId: match[1] as string, attempt: Number(match[2]) } : null
  const matching = all.filter(
    (attempt) =>
      (after === null || byTaskThenAttempt(attempt, after) > 0) &&
      (!given(task) || task?.includes(attempt.taskId)) &&
      (!given(state) || state?.includes(attempt.state)),
  )
  const { items, next } = pageOf(matching, query.limit, attemptCursor)
  return { runId: run.id, attempts: items, next }
}
