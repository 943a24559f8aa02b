/**
 * What past runs say: attempts by time window and by project, pipeline, task (stage), user and
 * cluster, with their durations (started → ended) and queue waits (submitted → started); samples for
 * the duration and queue-wait models (src/core/estimate); failure, retry and resume counts. Read
 * only. Timestamps are compared as the ISO text the store keeps (one format: `toISOString()`), so
 * a window is a range on an indexed column (migration 007).
 *
 * The cluster and the resources of an attempt are its task's in the run's stored pipeline (a task
 * may name its own cluster); the pipeline JSON is read once per run, not per attempt row.
 */
import type { Kysely } from 'kysely'
import { RpoError } from '../core/errors.js'
import { type DurationSample, taskShape } from '../core/estimate/duration-model.js'
import type { AskedResources } from '../core/estimate/efficiency.js'
import { type QueueWaitSample, queueKeyOf } from '../core/estimate/queue-wait-model.js'
import type { ResourceUsage } from '../core/job/job-observation.js'
import type { ResolvedPipeline, ResolvedTask } from '../core/pipeline/resolved-pipeline.js'
import type { AttemptState } from '../core/scheduling/run-snapshot.js'
import type { Database } from './database.js'
import { rowLimit } from './row-limit.js'
import { storeRead } from './store-calls.js'
import { parseStoredJson } from './stored-values.js'

export interface HistoryFilter {
  /** ISO; attempts that ended (queue waits: started) at or after this. */
  readonly since?: string
  /** ISO; … before this. */
  readonly until?: string
  readonly project?: string
  /** One run's attempts only. */
  readonly runId?: string
  /** One pipeline name, or any of several. */
  readonly pipeline?: string | readonly string[]
  /** The task name in the pipeline file (`train` covers `train.0`, `train.1`, …). */
  readonly stage?: string
  readonly user?: string
  /** The cluster the task ran on. */
  readonly cluster?: string
  /** Newest first; default 10,000. */
  readonly limit?: number
}

export interface AttemptHistory {
  readonly runId: string
  readonly pipeline: string
  readonly project: string | null
  readonly user: string | null
  readonly cluster: string
  readonly taskId: string
  readonly stage: string
  readonly attempt: number
  readonly state: AttemptState
  readonly exitCode: number | null
  readonly submittedAt: string
  readonly startedAt: string | null
  readonly endedAt: string | null
  /** started → ended; null until both are known. */
  readonly durationSeconds: number | null
  /** submitted → started; null until it started. */
  readonly queueWaitSeconds: number | null
  /**
   * From when it could start (its submission, or its upstreams' end when it was queued behind them)
   * to its start: the wait the queue-wait model samples. null until it started.
   */
  readonly eligibleWaitSeconds: number | null
  readonly submissionKey: string
  readonly jobId: string | null
  /** What the scheduler's accounting said it used (sacct, PBS resources_used); null before any figure. */
  readonly usage: ResourceUsage | null
  /** What its task asked for in the run's pipeline, per node; null when the task is not in it. */
  readonly asked: AskedResources | null
  /** The task's attempts and resumes so far (all of them, not only those in the window). */
  readonly taskAttempts: number
  readonly taskResumes: number
}

const DEFAULT_LIMIT = 10_000
const RUNS_PER_READ = 500

interface Row {
  run_id: string
  task_id: string
  submission_key: string
  job_id: string | null
  usage_json: string | null
  attempt: number
  state: string
  exit_code: number | null
  submitted_at: string
  started_at: string | null
  ended_at: string | null
  group_name: string
  task_attempts: number
  task_resumes: number
  pipeline_name: string
  project: string | null
  user_name: string | null
  run_cluster: string
}

type TimeColumn = 'a.ended_at' | 'a.started_at'

export class HistoryQueries {
  readonly #db: Kysely<Database>
  readonly #description: string
  readonly #pipelines = new Map<string, ResolvedPipeline>()

  constructor(db: Kysely<Database>, description: string) {
    this.#db = db
    this.#description = description
  }

  /** Attempts that ended in the window (any ending unless `states` says), newest first. */
  async attempts(
    filter: HistoryFilter & { readonly states?: readonly AttemptState[] } = {},
  ): Promise<AttemptHistory[]> {
    const rows = await this.#rows(filter, 'a.ended_at', filter.states ?? null)
    const ends = await this.#taskEndsOf(rows.map(({ row }) => row.run_id))
    return rows.map(({ row, task, cluster }) =>
      toAttemptHistory(row, task, cluster, eligibleAt(row, task, ends), this.#description),
    )
  }

  /** Successful attempts as duration samples (src/core/estimate/duration-model.ts), newest first. */
  async durationSamples(filter: HistoryFilter = {}): Promise<DurationSample[]> {
    const rows = await this.#rows(filter, 'a.ended_at', ['succeeded'])
    const samples: DurationSample[] = []
    for (const { row, task } of rows) {
      const seconds = secondsBetween(row.started_at, row.ended_at)
      if (seconds === null || task === null) continue
      samples.push({
        pipeline: row.pipeline_name,
        stage: row.group_name,
        shape: taskShape(task),
        seconds,
        endedAt: Date.parse(row.ended_at as string),
        runId: row.run_id,
      })
    }
    return samples
  }

  /**
   * Attempts that started in the window as queue-wait samples, newest first. The wait runs from
   * when the job could start: its submission, or its upstreams' end when it was submitted behind
   * them (native dependencies), so time spent waiting for upstream work is not taken for queueing.
   */
  async queueWaitSamples(filter: HistoryFilter = {}): Promise<QueueWaitSample[]> {
    const rows = await this.#rows(filter, 'a.started_at', null)
    const ends = await this.#taskEndsOf(rows.map(({ row }) => row.run_id))
    const samples: QueueWaitSample[] = []
    for (const { row, task, cluster } of rows) {
      if (task === null || row.started_at === null) continue
      const seconds = secondsBetween(eligibleAt(row, task, ends), row.started_at)
      if (seconds === null) continue
      samples.push({ ...queueKeyOf(task, cluster), seconds, startedAt: Date.parse(row.started_at as string) })
    }
    return samples
  }

  /** Rows matching the filter, newest first by `time`, with each attempt's task definition and cluster. */
  async #rows(
    filter: HistoryFilter,
    time: TimeColumn,
    states: readonly string[] | null,
  ): Promise<{ row: Row; task: ResolvedTask | null; cluster: string }[]> {
    const limit = rowLimit(filter.limit ?? DEFAULT_LIMIT)
    const since = filter.since === undefined ? null : canonical(filter.since)
    const until = filter.until === undefined ? null : canonical(filter.until)
    const out: { row: Row; task: ResolvedTask | null; cluster: string }[] = []
    // the cluster is the task's, known only from the run's pipeline: page until enough rows match
    for (let offset = 0; ; offset += limit) {
      const rows = await this.#read((db) => {
        let query = db
          .selectFrom('attempts as a')
          .innerJoin('tasks as t', (join) => join.onRef('t.run_id', '=', 'a.run_id').onRef('t.id', '=', 'a.task_id'))
          .innerJoin('runs as r', 'r.id', 'a.run_id')
          .select([
            'a.run_id',
            'a.task_id',
            'a.submission_key',
            'a.job_id',
            'a.usage_json',
            'a.attempt',
            'a.state',
            'a.exit_code',
            'a.submitted_at',
            'a.started_at',
            'a.ended_at',
            't.group_name',
            't.attempts as task_attempts',
            't.resumes as task_resumes',
            'r.pipeline_name',
            'r.project',
            'r.user_name',
            'r.cluster as run_cluster',
          ])
          .where(time, 'is not', null)
        if (since !== null) query = query.where(time, '>=', since)
        if (until !== null) query = query.where(time, '<', until)
        if (states !== null) query = query.where('a.state', 'in', [...states])
        if (filter.project !== undefined) query = query.where('r.project', '=', filter.project)
        if (filter.runId !== undefined) query = query.where('a.run_id', '=', filter.runId)
        if (typeof filter.pipeline === 'string') query = query.where('r.pipeline_name', '=', filter.pipeline)
        else if (filter.pipeline !== undefined)
          query = query.where('r.pipeline_name', 'in', filter.pipeline.length > 0 ? [...filter.pipeline] : [''])
        if (filter.stage !== undefined) query = query.where('t.group_name', '=', filter.stage)
        if (filter.user !== undefined) query = query.where('r.user_name', '=', filter.user)
        return query
          .orderBy(time, 'desc')
          .orderBy('a.run_id')
          .orderBy('a.task_id')
          .orderBy('a.attempt')
          .limit(limit)
          .offset(offset)
          .execute()
      })
      const pipelines = await this.#pipelinesOf(rows.map((r) => r.run_id))
      for (const row of rows as Row[]) {
        const task = pipelines.get(row.run_id)?.tasks.find((t) => t.name === row.group_name) ?? null
        const cluster = task?.cluster ?? row.run_cluster
        if (filter.cluster !== undefined && cluster !== filter.cluster) continue
        out.push({ row, task, cluster })
        if (out.length >= limit) return out
      }
      if (rows.length < limit || filter.cluster === undefined) return out
    }
  }

  /** When each task of the runs ended, by run and stage (ISO text, as stored). */
  async #taskEndsOf(runIds: readonly string[]): Promise<Map<string, string[]>> {
    const ends = new Map<string, string[]>()
    const unique = [...new Set(runIds)]
    for (let i = 0; i < unique.length; i += RUNS_PER_READ) {
      const chunk = unique.slice(i, i + RUNS_PER_READ)
      const rows = await this.#read((db) =>
        db
          .selectFrom('tasks')
          .select(['run_id', 'group_name', 'ended_at'])
          .where('run_id', 'in', chunk)
          .where('ended_at', 'is not', null)
          .execute(),
      )
      for (const row of rows) {
        const key = `${row.run_id}\u0000${row.group_name}`
        const list = ends.get(key)
        if (list) list.push(row.ended_at as string)
        else ends.set(key, [row.ended_at as string])
      }
    }
    return ends
  }

  /** The stored pipeline of each run, read once per run and kept (a run's pipeline never changes). */
  async #pipelinesOf(runIds: readonly string[]): Promise<Map<string, ResolvedPipeline>> {
    const missing = [...new Set(runIds)].filter((id) => !this.#pipelines.has(id))
    for (let i = 0; i < missing.length; i += RUNS_PER_READ) {
      const chunk = missing.slice(i, i + RUNS_PER_READ)
      const rows = await this.#read((db) =>
        db.selectFrom('runs').select(['id', 'pipeline_json']).where('id', 'in', chunk).execute(),
      )
      if (this.#pipelines.size > 5_000) this.#pipelines.clear()
      for (const row of rows) {
        const at = { runId: row.id, column: 'pipeline_json', description: this.#description }
        this.#pipelines.set(row.id, parseStoredJson<ResolvedPipeline>(row.pipeline_json, 'pipeline', at))
      }
    }
    return new Map(
      runIds.flatMap((id) => (this.#pipelines.has(id) ? [[id, this.#pipelines.get(id) as ResolvedPipeline]] : [])),
    )
  }

  #read<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return storeRead(this.#db, this.#description, fn)
  }
}

/** When the attempt could start: its submission, or the latest end of an upstream it was queued behind. */
function eligibleAt(row: Row, task: ResolvedTask | null, ends: ReadonlyMap<string, string[]>): string {
  let eligible = row.submitted_at
  if (task === null || row.started_at === null) return eligible
  for (const dep of task.after) {
    for (const end of ends.get(`${row.run_id}\u0000${dep.task}`) ?? []) {
      if (end > eligible && end <= row.started_at) eligible = end
    }
  }
  return eligible
}

function toAttemptHistory(
  row: Row,
  task: ResolvedTask | null,
  cluster: string,
  eligible: string,
  description: string,
): AttemptHistory {
  const usage =
    row.usage_json === null
      ? null
      : parseStoredJson<ResourceUsage>(row.usage_json, 'object', {
          runId: row.run_id,
          column: `usage_json of attempt ${row.submission_key}`,
          description,
        })
  const resources = task?.resources
  return {
    runId: row.run_id,
    pipeline: row.pipeline_name,
    project: row.project,
    user: row.user_name,
    cluster,
    taskId: row.task_id,
    stage: row.group_name,
    attempt: Number(row.attempt),
    state: row.state as AttemptState,
    exitCode: row.exit_code === null ? null : Number(row.exit_code),
    submittedAt: row.submitted_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    durationSeconds: secondsBetween(row.started_at, row.ended_at),
    queueWaitSeconds: secondsBetween(row.submitted_at, row.started_at),
    eligibleWaitSeconds: secondsBetween(eligible, row.started_at),
    submissionKey: row.submission_key,
    jobId: row.job_id,
    usage,
    asked: resources
      ? {
          cpus: resources.cpus,
          memoryMb: resources.memoryMb,
          timeLimitSeconds: resources.timeLimitSeconds,
          gpus: resources.gpus?.count ?? 0,
          nodes: resources.nodes,
        }
      : null,
    taskAttempts: Number(row.task_attempts),
    taskResumes: Number(row.task_resumes),
  }
}

function secondsBetween(from: string | null, to: string | null): number | null {
  if (from === null || to === null) return null
  const seconds = (Date.parse(to) - Date.parse(from)) / 1000
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null
}

/** The store's own timestamp form, so text comparison is time comparison. */
function canonical(iso: string): string {
  const ms = Date.parse(iso)
  if (Number.isNaN(ms))
    throw new RpoError(
      'usage',
      `a history window needs ISO dates such as 2026-11-01T00:00Z, got ${JSON.stringify(iso)}`,
    )
  return new Date(ms).toISOString()
}
