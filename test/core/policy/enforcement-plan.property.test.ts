/** decideEnforcement is deterministic: the same snapshot gives the same plan, in whatever order jobs and projects come. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { BudgetRuleConfig } from '../../../src/core/budget/budget-rules.js'
import { type Commitment, computeBudgetStatus } from '../../../src/core/budget/budget-status.js'
import { decideEnforcement, type EnforcementJob } from '../../../src/core/policy/enforcement-plan.js'
import { chargeOf, gpuRate, HOUR, NOW, projectOf, snapshotOf } from './enforcement-fixtures.js'

const PROJECTS = ['vision', 'nlp', 'audio', 'bio'] as const
const TYPES = ['a100', 'v100', 'h100'] as const

const jobArb = fc.record({
  project: fc.constantFrom(...PROJECTS),
  user: fc.constantFrom(null, 'u1', 'u2'),
  state: fc.constantFrom('pending', 'held', 'running') as fc.Arbitrary<EnforcementJob['state']>,
  heldByRpo: fc.boolean(),
  gpuType: fc.constantFrom(...TYPES),
  gpus: fc.integer({ min: 0, max: 8 }),
  limitHours: fc.integer({ min: 1, max: 48 }),
  elapsedHours: fc.integer({ min: 0, max: 48 }),
  checkpointable: fc.boolean(),
  criticalPathSeconds: fc.integer({ min: 0, max: 100_000 }),
  readyMinutesAgo: fc.integer({ min: 0, max: 100 }),
  currentNice: fc.option(fc.constantFrom(0, 100, 2500, 5100)),
})

const budgetArb = fc.record({
  resource: fc.constantFrom('gpu-hours', 'cpu-hours') as fc.Arbitrary<BudgetRuleConfig['resource']>,
  gpuType: fc.option(fc.constantFrom(...TYPES), { nil: undefined }),
  amount: fc.integer({ min: 0, max: 300 }),
  cap: fc.constantFrom('hard', 'soft') as fc.Arbitrary<'hard' | 'soft'>,
  user: fc.option(fc.constantFrom('u1', 'u2'), { nil: undefined }),
})

const snapshotArb = fc
  .record({
    jobs: fc.array(jobArb, { maxLength: 40 }),
    budgets: fc.dictionary(fc.constantFrom(...PROJECTS), fc.array(budgetArb, { maxLength: 3 })),
    usage: fc.array(fc.record({ project: fc.constantFrom(...PROJECTS), hours: fc.integer({ min: 1, max: 200 }) }), {
      maxLength: 8,
    }),
    importance: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 4, maxLength: 4 }),
    free: fc.option(fc.integer({ min: 0, max: 8 })),
  })
  .map((r) =>
    snapshotOf({
      jobs: r.jobs.map((j, i) => ({
        jobId: `job-${i}`,
        attemptKey: `rpo.${i}.1`,
        runId: `run-${j.project}`,
        taskId: `t${i}`,
        project: j.project,
        user: j.user,
        state: j.state,
        heldByRpo: j.heldByRpo,
        currentNice: j.currentNice,
        gpuType: j.gpus > 0 ? j.gpuType : null,
        gpus: j.gpus,
        rate: j.gpus > 0 ? gpuRate(j.gpuType, j.gpus) : gpuRate(j.gpuType, 0),
        elapsedSeconds: j.state === 'running' ? j.elapsedHours * HOUR : 0,
        timeLimitSeconds: j.limitHours * HOUR,
        checkpointable: j.checkpointable,
        readySince: new Date(NOW - j.readyMinutesAgo * 60_000).toISOString(),
        criticalPathSeconds: j.criticalPathSeconds,
      })),
      budgets: r.budgets,
      entries: r.usage.map((u, i) => chargeOf(u.project, u.hours, { usageKey: `u${i}#0` })),
      projects: PROJECTS.map((p, i) => projectOf(p, { importance: r.importance[i] ?? 1, share: 1, usage: i * 10 })),
      ...(r.free === null ? {} : { freeGpus: { a100: r.free, v100: 0 } }),
    }),
  )

describe('decideEnforcement', () => {
  it('is deterministic and independent of the order of jobs and projects', () => {
    fc.assert(
      fc.property(snapshotArb, fc.nat(), (snapshot, seed) => {
        const first = decideEnforcement(snapshot, NOW)
        expect(decideEnforcement(snapshot, NOW)).toEqual(first)
        // a fixed permutation from the seed: reversed, rotated
        const rotate = <T>(items: readonly T[]) => {
          const k = items.length === 0 ? 0 : seed % items.length
          return [...items.slice(k), ...items.slice(0, k)].reverse()
        }
        const shuffled = { ...snapshot, jobs: rotate(snapshot.jobs), projects: rotate(snapshot.projects) }
        const second = decideEnforcement(shuffled, NOW)
        expect(second.actions).toEqual(first.actions)
        expect(second.explanations).toEqual(first.explanations)
      }),
      { numRuns: 200 },
    )
  })

  it('never releases a user hold, never renices a held job, and gives every job one explanation', () => {
    fc.assert(
      fc.property(snapshotArb, (snapshot) => {
        const plan = decideEnforcement(snapshot, NOW)
        const byId = new Map(snapshot.jobs.map((j) => [j.jobId, j]))
        const released = new Set(plan.actions.filter((a) => a.kind === 'release').map((a) => a.jobId))
        for (const action of plan.actions) {
          const job = byId.get(action.jobId) as EnforcementJob
          if (action.kind === 'release') expect(job.heldByRpo && job.state === 'held').toBe(true)
          if (action.kind === 'setNice') expect(job.state === 'pending' || released.has(job.jobId)).toBe(true)
          if (action.kind === 'hold') expect(job.state).toBe('pending')
          if (action.kind === 'requeue' || action.kind === 'cancel') expect(job.state).toBe('running')
        }
        expect(plan.explanations.map((e) => e.jobId).sort()).toEqual([...byId.keys()].sort())
      }),
      { numRuns: 200 },
    )
  })

  it('leaves no hard cap crossed by what it lets run, unless running work alone already crosses it', () => {
    fc.assert(
      fc.property(snapshotArb, (snapshot) => {
        const plan = decideEnforcement(snapshot, NOW)
        const budget = snapshot.budget
        if (budget.kind !== 'ledger') throw new Error('expected a ledger snapshot')
        const decisions = new Map(plan.explanations.map((e) => [e.jobId, e.decision]))
        const commitment = (j: EnforcementJob): Commitment => ({
          project: j.project,
          user: j.user,
          rate: j.rate,
          elapsedSeconds: j.elapsedSeconds,
          timeLimitSeconds: j.timeLimitSeconds,
        })
        const running = snapshot.jobs.filter((j) => ['run', 'finish'].includes(decisions.get(j.jobId) as string))
        const queued = snapshot.jobs.filter((j) => ['wait', 'release'].includes(decisions.get(j.jobId) as string))
        const statusWith = (jobs: EnforcementJob[]) =>
          computeBudgetStatus({ ...budget, commitments: jobs.map(commitment), now: NOW })
        const runningOnly = statusWith(running)
        const all = statusWith([...running, ...queued])
        all.forEach((s, i) => {
          const before = runningOnly[i]
          if (s.cap !== 'hard' || !before || before.used + before.committed > before.effective) return
          expect(s.used + s.committed).toBeLessThanOrEqual(s.effective + 1e-6)
        })
      }),
      { numRuns: 200 },
    )
  })
})
