/**
 * The scheduler's own priority knob from rpo's ranking: Slurm-style `nice` (0 = first, larger =
 * later), bounded to 0..10000 in steps of 100 so that jobs of nearly the same rank share a value
 * (one `scontrol update` per value) and small reorderings move few jobs. In-budget work gets
 * 0..5000 and over-soft-cap work 5100..10000, so no over-soft job ever shares a nice value with
 * in-budget work. PBS's `-p` (−1024..1023, larger = first) is the adapter's translation.
 */
import type { EnforcementAction, EnforcementJob, JudgedJobs } from './enforcement-snapshot.js'

export const NICE_MAX = 10_000
export const NICE_STEP = 100
/** The first nice value of over-soft-cap work. */
export const NICE_OVER_SOFT = 5_100

/**
 * nice of the job at `rank` (0-based, equal scores share the rank of the first of them) among
 * `count` jobs of its tier: in-budget 100·⌊51·rank/count⌋, over-soft 5100 + 100·⌊50·rank/count⌋.
 */
export function niceForRank(rank: number, count: number, overSoft: boolean): number {
  const levels = overSoft ? (NICE_MAX - NICE_OVER_SOFT) / NICE_STEP + 1 : NICE_OVER_SOFT / NICE_STEP
  const level = count <= 0 ? 0 : Math.min(levels - 1, Math.floor((Math.max(0, rank) * levels) / count))
  return (overSoft ? NICE_OVER_SOFT : 0) + level * NICE_STEP
}

/**
 * (e) nice values for the jobs left pending (waiting or released this tick), by rank within their
 * tier; equal scores share the rank of the first of them, so they get one nice value. A setNice
 * only where the value differs from the job's current one, and never for a held job (a renice
 * releases a Slurm hold, see slurm-commands.ts).
 */
export function planNice(judged: JudgedJobs): EnforcementAction[] {
  const { jobs, ranking, decision, nice } = judged
  const actions: EnforcementAction[] = []
  for (const overSoft of [0, 1]) {
    const tier: number[] = []
    for (let r = 0; r < ranking.order.length; r++) {
      const i = ranking.order[r] as number
      if ((decision[i] === 'wait' || decision[i] === 'release') && ranking.overSoft[i] === overSoft) tier.push(i)
    }
    let shared = 0
    tier.forEach((i, position) => {
      const previous = tier[position - 1]
      if (previous !== undefined && ranking.score[i] !== ranking.score[previous]) shared = position
      const value = niceForRank(shared, tier.length, overSoft === 1)
      nice[i] = value
      const job = jobs[i] as EnforcementJob
      if (job.currentNice === value) return
      actions.push({
        kind: 'setNice',
        nice: value,
        jobId: job.jobId,
        attemptKey: job.attemptKey,
        reason: `rank ${shared + 1} of ${tier.length} ${overSoft ? 'over-soft-cap' : 'in-budget'} pending jobs (score ${(ranking.score[i] as number).toFixed(3)}): nice ${value}`,
      })
    })
  }
  return actions
}
