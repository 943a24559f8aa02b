/**
 * Accounting's figures for attempts that ended without them. A tick takes a job's ending from the
 * live queue when that says it all (Slurm's COMPLETED), without asking accounting, unless a budget
 * charges it; so a finished job's TotalCPU and MaxRSS may never have been read. Efficiency needs
 * them: before it is computed, the ended attempts of the window that lack a CPU figure are polled
 * once more on their cluster, asking for accounting (`PollOptions.accountingOf`), and what comes
 * back is stored on the attempts (`RunStore.recordEndedUsage`), so each is asked about once.
 *
 * Only Slurm and PBS clusters are asked: the local executor measures no CPU time, so asking again
 * would bring nothing. A cluster that cannot be reached is a problem said to the caller, not an
 * error: efficiency is then computed from what is stored, with the attempts unmeasured.
 */
import { isRpoError } from '../core/errors.js'
import type { ResourceUsage } from '../core/job/job-observation.js'
import type { App } from '../create-app.js'
import { asNativeJobId } from '../scheduler/scheduler-adapter.js'
import type { AttemptHistory } from '../store/history-queries.js'

/** Jobs per poll call: the command lines stay well under a login shell's limits. */
const JOBS_PER_POLL = 500

export interface EndedUsageResult {
  /** The attempts returned with the figures read filled in. */
  readonly attempts: AttemptHistory[]
  /** Jobs asked about, and how many came back with a CPU figure. */
  readonly asked: number
  readonly filled: number
  /** One sentence per cluster that could not be asked. */
  readonly problems: string[]
}

export async function fillEndedUsage(
  app: Pick<App, 'config' | 'engineFor' | 'store'>,
  attempts: readonly AttemptHistory[],
): Promise<EndedUsageResult> {
  const wanted = new Map<string, AttemptHistory[]>()
  for (const a of attempts) {
    if (a.endedAt === null || a.startedAt === null || a.jobId === null) continue
    if (a.usage?.cpuSeconds !== undefined) continue
    const kind = app.config.clusters[a.cluster]?.kind
    if (kind !== 'slurm' && kind !== 'pbs') continue
    const list = wanted.get(a.cluster)
    if (list) list.push(a)
    else wanted.set(a.cluster, [a])
  }
  const read = new Map<string, ResourceUsage>()
  const problems: string[] = []
  let asked = 0
  for (const [cluster, list] of wanted) {
    asked += list.length
    try {
      const engine = await app.engineFor(cluster)
      for (let i = 0; i < list.length; i += JOBS_PER_POLL) {
        const chunk = list.slice(i, i + JOBS_PER_POLL)
        const ids = chunk.map((a) => asNativeJobId(a.jobId as string))
        const observations = await engine.adapter.poll(ids, {
          accountingOf: ids,
          onWarning: (warning) => problems.push(`${cluster}: ${warning.message} (${warning.code})`),
        })
        const byJob = new Map(observations.map((o) => [o.jobId as string, o]))
        for (const a of chunk) {
          const usage = byJob.get(a.jobId as string)?.usage
          if (usage?.cpuSeconds !== undefined) read.set(a.submissionKey, { ...a.usage, ...usage })
        }
      }
    } catch (error) {
      problems.push(
        `accounting of ${list.length} job(s) on ${cluster} not read: ${error instanceof Error ? error.message : String(error)} (${isRpoError(error) ? error.code : 'internal'})`,
      )
    }
  }
  await app.store.recordEndedUsage(read)
  return {
    attempts: attempts.map((a) => {
      const usage = read.get(a.submissionKey)
      return usage === undefined ? a : { ...a, usage }
    }),
    asked,
    filled: read.size,
    problems,
  }
}
