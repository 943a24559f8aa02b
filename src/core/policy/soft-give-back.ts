/**
 * Soft caps under contention: over-soft-cap work may run while capacity would otherwise idle;
 * when in-budget work waits for a GPU type and nothing of that type is free, the over-soft
 * running jobs that can checkpoint are requeued (not held), lowest score first, just enough to
 * free what waits. Without free-capacity figures, in-budget work counts as waiting once it has been
 * ready for `contentionAfterSeconds`.
 */
import type { BookLine } from '../budget/budget-admission.js'
import { describeOwner, formatAmount } from '../budget/budget-rules.js'
import { describeScope } from '../budget/tres-hours.js'
import type { EnforcementAction, EnforcementJob, EnforcementSnapshot, JudgedJobs } from './enforcement-snapshot.js'

/** The demand key of work that accepts any GPU type. */
const ANY_TYPE = '\u0000any'
const DEFAULT_CONTENTION_SECONDS = 300

export function planSoftGiveBack(judged: JudgedJobs, snapshot: EnforcementSnapshot, now: number): EnforcementAction[] {
  const { jobs, ranking, decision, reason, overSoftLine } = judged
  const graceMs = (snapshot.contentionAfterSeconds ?? DEFAULT_CONTENTION_SECONDS) * 1000
  const demand = new Map<string, number>()
  const waiters = new Map<string, Set<string>>()
  for (let r = 0; r < ranking.order.length; r++) {
    const i = ranking.order[r] as number
    const job = jobs[i] as EnforcementJob
    const waits = decision[i] === 'wait' || decision[i] === 'release'
    if (!waits || overSoftLine[i] !== null || job.gpus <= 0) continue
    // ranking.ready: readySince as rankTasks read it (it refuses one that is not a date)
    if (!snapshot.freeGpus && now - (ranking.ready[i] as number) < graceMs) continue
    const key = job.gpuType ?? ANY_TYPE
    demand.set(key, (demand.get(key) ?? 0) + job.gpus)
    waiters.set(key, (waiters.get(key) ?? new Set()).add(job.project))
  }
  if (demand.size === 0) return []

  // what is free covers its own type first; what is left of it covers work that takes any type
  const free = snapshot.freeGpus ?? {}
  let spare = 0
  for (const type in free) spare += Math.max(0, (free[type] ?? 0) - (demand.get(type) ?? 0))
  const need = new Map<string, number>()
  for (const [key, gpus] of demand) need.set(key, key === ANY_TYPE ? gpus - spare : gpus - Math.max(0, free[key] ?? 0))

  // lowest score first
  const candidates: number[] = []
  for (let r = ranking.order.length - 1; r >= 0; r--) {
    const i = ranking.order[r] as number
    if ((jobs[i] as EnforcementJob).state === 'running' && decision[i] === 'run' && overSoftLine[i] !== null) {
      candidates.push(i)
    }
  }
  const actions: EnforcementAction[] = []
  // typed demand first (it can use only its own type), then demand for any type; keys in a fixed order
  const keys = [...need.keys()].sort((a, b) => (a === ANY_TYPE ? 1 : b === ANY_TYPE ? -1 : a < b ? -1 : 1))
  for (const key of keys) {
    let missing = need.get(key) ?? 0
    const who = [...(waiters.get(key) ?? [])].sort().join(', ')
    const what = key === ANY_TYPE ? 'GPUs' : `${key} GPUs`
    for (const i of candidates) {
      if (missing <= 0) break
      const job = jobs[i] as EnforcementJob
      if (decision[i] !== 'run' || job.gpus <= 0 || (key !== ANY_TYPE && job.gpuType !== key)) continue
      const line = overSoftLine[i] as BookLine
      const over = `${softSentence(line)} while in-budget work of ${who} waits for ${Math.ceil(need.get(key) ?? 0)} ${what}`
      if (!job.checkpointable) {
        reason[i] = `${over}: it cannot checkpoint, so it runs on`
        continue
      }
      decision[i] = 'requeue'
      reason[i] = `${over}: checkpoint and requeue to give back ${job.gpus} ${what}`
      actions.push({
        kind: 'requeue',
        hold: false,
        checkpoint: true,
        ruleId: line.status.ruleId,
        jobId: job.jobId,
        attemptKey: job.attemptKey,
        reason: reason[i] as string,
      })
      missing -= job.gpus
    }
  }
  return actions
}

/** "project vision is over its soft a100 gpu-hours cap (used 120.0 >= 100.0, month 2026-11)". */
export function softSentence(line: BookLine): string {
  const s = line.status
  return `${describeOwner(s)} is over its soft ${describeScope(s)} cap (used ${formatAmount(line.used)} >= ${formatAmount(s.effective)}, ${s.window.label})`
}
