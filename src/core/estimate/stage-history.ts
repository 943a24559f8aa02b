/**
 * `rpo history`'s rows: per stage (pipeline + task name, sweep instances together) what its past
 * attempts took and how they ended. Pure: the history's attempt rows in, one row per stage out.
 *
 *   duration    = median and p90 of successful attempts' started → ended (sample-summary.ts)
 *   queue wait  = median and p90 of the attempts' wait from when they could start to their start
 *   failure rate = failed attempts / attempts that ended (failed: failed, timeout, out_of_memory,
 *                  node_fail, preempted, lost)
 *   retry rate  = retries / task instances, resume rate = resumes / task instances (a task's
 *                 retries and resumes are its whole count, also for attempts outside the window)
 *   GPU-hours   = allocated GPUs × elapsed of every attempt that ran (efficiency.ts)
 */
import { attemptEfficiency, type EfficiencyAttempt } from './efficiency.js'
import { type SampleSummary, summarizeSamples } from './sample-summary.js'

export interface StageHistoryAttempt extends EfficiencyAttempt {
  /** From when it could start (submitted, or its upstreams' end) to its start; null until it started. */
  readonly eligibleWaitSeconds: number | null
  /** The task's attempts and resumes so far (all of them, not only those in the window). */
  readonly taskAttempts: number
  readonly taskResumes: number
}

export interface StageHistoryRow {
  readonly pipeline: string
  readonly stage: string
  readonly tasks: number
  readonly attempts: number
  readonly succeeded: number
  readonly failed: number
  readonly cancelled: number
  readonly retries: number
  readonly resumes: number
  readonly failureRate: number
  readonly retryRate: number
  readonly resumeRate: number
  readonly duration: SampleSummary | null
  readonly queueWait: SampleSummary | null
  readonly gpuHours: number
}

export const FAILED_ENDINGS: ReadonlySet<string> = new Set([
  'failed',
  'timeout',
  'out_of_memory',
  'node_fail',
  'preempted',
  'lost',
])

/** One row per pipeline and stage, sorted by pipeline then stage. */
export function summarizeStageHistory(attempts: readonly StageHistoryAttempt[]): StageHistoryRow[] {
  const groups = new Map<string, StageHistoryAttempt[]>()
  for (const a of attempts) {
    const key = `${a.pipeline}\u0000${a.stage}`
    const list = groups.get(key)
    if (list) list.push(a)
    else groups.set(key, [a])
  }
  const rows: StageHistoryRow[] = []
  for (const list of groups.values()) {
    const first = list[0] as StageHistoryAttempt
    const tasks = new Map<string, StageHistoryAttempt>()
    for (const a of list) tasks.set(`${a.runId}\u0000${a.taskId}`, a)
    let retries = 0
    let resumes = 0
    for (const t of tasks.values()) {
      resumes += t.taskResumes
      retries += Math.max(0, t.taskAttempts - 1 - t.taskResumes)
    }
    const succeeded = list.filter((a) => a.state === 'succeeded')
    const failed = list.filter((a) => FAILED_ENDINGS.has(a.state)).length
    rows.push({
      pipeline: first.pipeline,
      stage: first.stage,
      tasks: tasks.size,
      attempts: list.length,
      succeeded: succeeded.length,
      failed,
      cancelled: list.filter((a) => a.state === 'cancelled').length,
      retries,
      resumes,
      failureRate: failed / list.length,
      retryRate: retries / tasks.size,
      resumeRate: resumes / tasks.size,
      duration: summarizeSamples(succeeded.flatMap((a) => (a.durationSeconds === null ? [] : [a.durationSeconds]))),
      queueWait: summarizeSamples(list.flatMap((a) => (a.eligibleWaitSeconds === null ? [] : [a.eligibleWaitSeconds]))),
      gpuHours: list.reduce((sum, a) => sum + attemptEfficiency(a).gpuHours, 0),
    })
  }
  return rows.sort((a, b) =>
    a.pipeline === b.pipeline ? (a.stage < b.stage ? -1 : 1) : a.pipeline < b.pipeline ? -1 : 1,
  )
}
