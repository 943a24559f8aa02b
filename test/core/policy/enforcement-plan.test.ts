/**
 * decideEnforcement rule by rule — (a) hold what would cross a hard cap, (b) release what fits
 * again in priority order, (c) stop running work at a hard cap, (d) give back over-soft capacity
 * under contention, (e) nice from rank — and the scenarios the budget design promises.
 */
import { describe, expect, it } from 'vitest'
import { planGrant, planRevoke } from '../../../src/core/budget/budget-grants.js'
import { checkLedger, ledgerTotal } from '../../../src/core/budget/budget-ledger.js'
import { budgetRulesOf } from '../../../src/core/budget/budget-rules.js'
import { computeBudgetStatus } from '../../../src/core/budget/budget-status.js'
import { isZeroTresHours, tresHoursOf } from '../../../src/core/budget/tres-hours.js'
import { decideEnforcement } from '../../../src/core/policy/enforcement-plan.js'
import {
  actionsOf,
  chargeOf,
  DAY_MS,
  explanationOf,
  gpuRate,
  HOUR,
  jobOf,
  NOW,
  projectOf,
  snapshotOf,
} from './enforcement-fixtures.js'

describe('(a) holding pending work that would cross a hard cap', () => {
  const snapshot = snapshotOf({
    budgets: { vision: [{ resource: 'gpu-hours', amount: 15 }] },
    entries: [chargeOf('vision', 10)],
    jobs: [
      jobOf('vision', { jobId: 'run', state: 'running', elapsedSeconds: 2 * HOUR, timeLimitSeconds: 4 * HOUR }),
      jobOf('vision', { jobId: 'big', readySince: '2026-11-20T09:00:00.000Z', timeLimitSeconds: 4 * HOUR }),
      jobOf('vision', { jobId: 'small', readySince: '2026-11-20T10:00:00.000Z', timeLimitSeconds: HOUR }),
    ],
  })

  it('holds the job whose worst case crosses the cap, and lets a smaller one that fits wait', () => {
    const plan = decideEnforcement(snapshot, NOW)
    expect(actionsOf(plan, 'hold')).toEqual([
      {
        kind: 'hold',
        jobId: 'big',
        attemptKey: 'rpo.big.1',
        ruleId: 'vision.budgets[0]',
        reason:
          'project vision would exceed its hard gpu-hours cap: used 10.0 + committed 2.0 + this job 4.0 > 15.0 (month 2026-11): hold',
      },
    ])
    expect(explanationOf(plan, 'small')).toMatchObject({
      decision: 'wait',
      reason:
        "fits project vision's hard gpu-hours cap: used 10.0 + committed 2.0 + this job 1.0 <= 15.0 (month 2026-11)",
      nice: 0,
    })
    expect(explanationOf(plan, 'run').decision).toBe('run')
    // a held job is never reniced (a renice releases a Slurm hold)
    expect(actionsOf(plan, 'setNice').map((a) => a.jobId)).toEqual(['small'])
  })
})

describe('(b) releasing rpo-held work that fits again', () => {
  it('releases in priority order, reserving as it goes, and never releases a user hold', () => {
    const held = { state: 'held', heldByRpo: true } as const
    const plan = decideEnforcement(
      snapshotOf({
        budgets: { vision: [{ resource: 'gpu-hours', amount: 20 }] },
        entries: [chargeOf('vision', 10)],
        jobs: [
          jobOf('vision', { jobId: 'h1', ...held, criticalPathSeconds: 100 }),
          jobOf('vision', { jobId: 'h2', ...held, criticalPathSeconds: 50, timeLimitSeconds: 7 * HOUR }),
          jobOf('vision', { jobId: 'h3', ...held, criticalPathSeconds: 10, timeLimitSeconds: HOUR }),
          jobOf('vision', { jobId: 'mine', state: 'held', heldByRpo: false, timeLimitSeconds: HOUR }),
        ],
      }),
      NOW,
    )
    expect(plan.actions.map((a) => [a.kind, a.jobId])).toEqual([
      ['release', 'h1'],
      ['release', 'h3'],
      ['setNice', 'h1'],
      ['setNice', 'h3'],
    ])
    expect(explanationOf(plan, 'h2')).toMatchObject({
      decision: 'keep-held',
      reason:
        'project vision would exceed its hard gpu-hours cap: used 10.0 + committed 4.0 + this job 7.0 > 20.0 (month 2026-11): stays held',
    })
    expect(explanationOf(plan, 'mine')).toMatchObject({ decision: 'user-held', nice: null })
    expect(actionsOf(plan, 'setNice').map((a) => a.nice)).toEqual([0, 2500])
  })
})

describe('(c) a project crossing its hard cap mid-run', () => {
  const jobs = [
    // charged 14 so far; 1.5 more accrued since the last charge takes it over 15
    jobOf('vision', { jobId: 'ckpt', state: 'running', elapsedSeconds: HOUR, unchargedHours: gpuRate('a100', 1.5) }),
    jobOf('vision', { jobId: 'plain', state: 'running', checkpointable: false, elapsedSeconds: HOUR }),
    jobOf('vision', { jobId: 'cpu', state: 'running', gpus: 0, gpuType: null, rate: tresHoursOf({ cpu: 4 }, 3600) }),
    jobOf('vision', { jobId: 'next' }),
    jobOf('nlp', { jobId: 'other', state: 'running' }),
  ]
  const parts = {
    budgets: { vision: [{ resource: 'gpu-hours' as const, amount: 15 }] },
    entries: [chargeOf('vision', 14)],
    jobs,
  }

  it('checkpoints and requeues its running jobs on hold, holds its pending work, and leaves the rest', () => {
    const plan = decideEnforcement(snapshotOf(parts), NOW)
    expect(actionsOf(plan, 'requeue')).toEqual([
      {
        kind: 'requeue',
        hold: true,
        checkpoint: true,
        jobId: 'ckpt',
        attemptKey: 'rpo.ckpt.1',
        ruleId: 'vision.budgets[0]',
        reason:
          'project vision reached its hard gpu-hours cap: used 15.5 >= 15.0 (month 2026-11): checkpoint and requeue on hold',
      },
    ])
    expect(explanationOf(plan, 'plain')).toMatchObject({
      decision: 'finish',
      reason:
        'project vision reached its hard gpu-hours cap: used 15.5 >= 15.0 (month 2026-11): it cannot checkpoint, and the policy at a hard cap is to let it finish',
    })
    expect(actionsOf(plan, 'hold').map((a) => a.jobId)).toEqual(['next'])
    expect(explanationOf(plan, 'cpu').decision).toBe('run')
    expect(explanationOf(plan, 'other').decision).toBe('run')
    expect(actionsOf(plan, 'cancel')).toEqual([])
  })

  it('cancels what cannot checkpoint when the policy says cancel', () => {
    const plan = decideEnforcement({ ...snapshotOf(parts), runningAtHardCap: 'cancel' }, NOW)
    expect(
      plan.actions.filter((a) => a.kind === 'cancel' || a.kind === 'requeue').map((a) => [a.kind, a.jobId]),
    ).toEqual([
      ['requeue', 'ckpt'],
      ['cancel', 'plain'],
    ])
  })

  it('does the same after a budget cut, with nothing accrued', () => {
    const cut = snapshotOf({
      ...parts,
      budgets: { vision: [{ resource: 'gpu-hours', amount: 12 }] },
      jobs: jobs.slice(0, 1).map((j) => ({ ...j, unchargedHours: undefined })),
    })
    expect(decideEnforcement(cut, NOW).actions.map((a) => [a.kind, a.jobId])).toEqual([['requeue', 'ckpt']])
  })
})

describe('(d) soft caps: over-use while idle, give back under contention', () => {
  const vision = [
    jobOf('vision', { jobId: 'v-nockpt', state: 'running', gpus: 2, checkpointable: false }),
    jobOf('vision', { jobId: 'v1', state: 'running', gpus: 2, criticalPathSeconds: 10 }),
    jobOf('vision', { jobId: 'v2', state: 'running', gpus: 2, criticalPathSeconds: 50 }),
    jobOf('vision', { jobId: 'v3', state: 'running', gpus: 2, criticalPathSeconds: 100 }),
    jobOf('vision', { jobId: 'v-pending', gpus: 1 }),
  ]
  const parts = (waiting: ReturnType<typeof jobOf>[], freeGpus?: Record<string, number>) =>
    snapshotOf({
      budgets: { vision: [{ resource: 'gpu-hours', gpuType: 'a100', amount: 100, cap: 'soft' }] },
      entries: [chargeOf('vision', 120)],
      jobs: [...vision, ...waiting],
      ...(freeGpus ? { freeGpus } : {}),
    })
  const nlpWaits = jobOf('nlp', { jobId: 'n1', gpus: 3 })

  it('lets over-soft work run while capacity idles', () => {
    const plan = decideEnforcement(parts([nlpWaits], { a100: 4 }), NOW)
    expect(actionsOf(plan, 'requeue')).toEqual([])
    expect(explanationOf(plan, 'v1')).toMatchObject({
      decision: 'run',
      overSoft: true,
      reason:
        'project vision is over its soft a100 gpu-hours cap (used 120.0 >= 100.0, month 2026-11): runs while no in-budget work waits for what it holds',
    })
    expect(decideEnforcement(parts([], { a100: 0 }), NOW).actions.filter((a) => a.kind === 'requeue')).toEqual([])
  })

  it('requeues over-soft jobs that can checkpoint, lowest score first, just enough for what waits', () => {
    const plan = decideEnforcement(parts([nlpWaits], { a100: 0 }), NOW)
    expect(actionsOf(plan, 'requeue')).toEqual([
      expect.objectContaining({ jobId: 'v1', hold: false, checkpoint: true, ruleId: 'vision.budgets[0]' }),
      expect.objectContaining({ jobId: 'v2', hold: false, checkpoint: true }),
    ])
    expect(actionsOf(plan, 'requeue')[0]?.reason).toBe(
      'project vision is over its soft a100 gpu-hours cap (used 120.0 >= 100.0, month 2026-11) while in-budget work of nlp waits for 3 a100 GPUs: checkpoint and requeue to give back 2 a100 GPUs',
    )
    expect(explanationOf(plan, 'v-nockpt').reason).toContain('it cannot checkpoint, so it runs on')
    expect(explanationOf(plan, 'v3').decision).toBe('run')
    // one free GPU leaves two to find: one job is enough
    const partly = decideEnforcement(parts([nlpWaits], { a100: 1 }), NOW)
    expect(actionsOf(partly, 'requeue').map((a) => a.jobId)).toEqual(['v1'])
  })

  it('gives back nothing for work waiting on another GPU type', () => {
    const v100 = jobOf('nlp', { jobId: 'n-v100', gpus: 3, gpuType: 'v100' })
    expect(actionsOf(decideEnforcement(parts([v100], { a100: 0, v100: 0 }), NOW), 'requeue')).toEqual([])
  })

  it('without free-capacity figures, counts work as contended once it has waited 5 minutes', () => {
    const fresh = jobOf('nlp', { jobId: 'n-fresh', gpus: 3, readySince: '2026-11-20T11:59:00.000Z' })
    const stale = jobOf('nlp', { jobId: 'n-stale', gpus: 3, readySince: '2026-11-20T11:50:00.000Z' })
    expect(actionsOf(decideEnforcement(parts([fresh]), NOW), 'requeue')).toEqual([])
    expect(actionsOf(decideEnforcement(parts([stale]), NOW), 'requeue').map((a) => a.jobId)).toEqual(['v1', 'v2'])
  })

  it('ranks over-soft pending work in the upper nice range, below all in-budget work', () => {
    const plan = decideEnforcement(parts([nlpWaits], { a100: 4 }), NOW)
    expect(explanationOf(plan, 'n1')).toMatchObject({ nice: 0, overSoft: false, rank: 0 })
    expect(explanationOf(plan, 'v-pending')).toMatchObject({ nice: 5100, overSoft: true })
  })
})

describe('(e) scheduler priority', () => {
  it('sends nice only when it differs from the current one; equal scores share a value', () => {
    const jobs = [
      jobOf('a', { jobId: 'a1', criticalPathSeconds: 100, currentNice: 0 }),
      jobOf('a', { jobId: 'a2', criticalPathSeconds: 50, currentNice: 0 }),
      jobOf('a', { jobId: 'a3', criticalPathSeconds: 50, currentNice: 9000 }),
      jobOf('a', { jobId: 'a4', criticalPathSeconds: 0 }),
    ]
    const plan = decideEnforcement(snapshotOf({ jobs }), NOW)
    expect(plan.explanations.map((e) => [e.jobId, e.nice])).toEqual([
      ['a1', 0],
      ['a2', 1200],
      ['a3', 1200],
      ['a4', 3800],
    ])
    expect(actionsOf(plan, 'setNice').map((a) => [a.jobId, a.nice])).toEqual([
      ['a2', 1200],
      ['a3', 1200],
      ['a4', 3800],
    ])
    expect(actionsOf(plan, 'setNice')[0]?.reason).toBe('rank 2 of 4 in-budget pending jobs (score 1.050): nice 1200')
  })
})

describe('scenarios', () => {
  it('two high-priority projects contending for the same GPUs: the urgent one first, then fair share, then FIFO', () => {
    const jobs = [
      ...[1, 2, 3].map((n) => jobOf('vision', { jobId: `vision-${n}`, readySince: `2026-11-20T0${n}:00:00.000Z` })),
      ...[1, 2, 3].map((n) => jobOf('nlp', { jobId: `nlp-${n}`, readySince: `2026-11-20T0${n}:30:00.000Z` })),
    ]
    const urgent = decideEnforcement(
      snapshotOf({
        jobs,
        freeGpus: { a100: 0 },
        projects: [
          projectOf('vision', { importance: 5 }),
          projectOf('nlp', {
            importance: 5,
            deadline: '2026-11-23T12:00:00.000Z',
            remainingCriticalPathSeconds: 86_400,
          }),
        ],
      }),
      NOW,
    )
    expect(urgent.explanations.map((e) => e.jobId)).toEqual([
      'nlp-1',
      'nlp-2',
      'nlp-3',
      'vision-1',
      'vision-2',
      'vision-3',
    ])
    expect(urgent.explanations.map((e) => e.nice)).toEqual([0, 0, 0, 2500, 2500, 2500])
    expect(urgent.actions.every((a) => a.kind === 'setNice')).toBe(true)

    const even = decideEnforcement(
      snapshotOf({ jobs, projects: [projectOf('vision', { importance: 5 }), projectOf('nlp', { importance: 5 })] }),
      NOW,
    )
    // equal scores: the scheduler sees one nice value, rpo's order is by time ready
    expect(even.explanations.map((e) => e.jobId)).toEqual([
      'vision-1',
      'nlp-1',
      'vision-2',
      'nlp-2',
      'vision-3',
      'nlp-3',
    ])
    expect(new Set(even.explanations.map((e) => e.nice))).toEqual(new Set([0]))
  })

  it('a deadline approaching flips the order of two projects, and flips it back once it cannot be met', () => {
    const snapshot = snapshotOf({
      jobs: [jobOf('steady', { jobId: 's' }), jobOf('paper', { jobId: 'p' })],
      projects: [
        projectOf('steady', { importance: 2.7 }),
        projectOf('paper', { deadline: '2026-12-20T00:00:00.000Z', remainingCriticalPathSeconds: 1.9 * 86_400 }),
      ],
    })
    const early = decideEnforcement(snapshot, NOW)
    expect(early.explanations.map((e) => [e.jobId, e.nice])).toEqual([
      ['s', 0],
      ['p', 2500],
    ])
    const late = decideEnforcement(snapshot, Date.parse('2026-12-18T00:00:00.000Z'))
    expect(late.explanations.map((e) => [e.jobId, e.nice])).toEqual([
      ['p', 0],
      ['s', 2500],
    ])
    expect(late.explanations[0]?.terms).toMatchObject({ urgency: 0.95, deadlineUnreachable: false })
    // one day left, 1.9 days of work: paper's deadline is lost and it drops below steady again
    const lost = decideEnforcement(snapshot, Date.parse('2026-12-19T00:00:00.000Z'))
    expect(lost.explanations.map((e) => [e.jobId, e.nice])).toEqual([
      ['s', 0],
      ['p', 2500],
    ])
    expect(lost.explanations[1]?.terms).toMatchObject({
      progressLag: 0,
      deadlineUnreachable: true,
      slackSeconds: -0.9 * 86_400,
    })
  })

  it('fair share restores balance: the project under its share goes first until usage evens out', () => {
    const at = (visionUsage: number, nlpUsage: number) =>
      decideEnforcement(
        snapshotOf({
          jobs: [jobOf('vision', { jobId: 'v' }), jobOf('nlp', { jobId: 'n' })],
          projects: [
            projectOf('vision', { share: 1, usage: visionUsage }),
            projectOf('nlp', { share: 1, usage: nlpUsage }),
          ],
        }),
        NOW,
      ).explanations.map((e) => e.jobId)
    expect(at(90, 10)).toEqual(['n', 'v'])
    expect(at(10, 90)).toEqual(['v', 'n'])
  })

  it('no budget left and a deadline tomorrow: the hard cap wins, and the reason says so', () => {
    const plan = decideEnforcement(
      snapshotOf({
        budgets: { paper: [{ resource: 'gpu-hours', amount: 50 }] },
        entries: [chargeOf('paper', 50)],
        jobs: [jobOf('paper', { jobId: 'final', timeLimitSeconds: HOUR })],
        projects: [
          projectOf('paper', {
            importance: 10,
            deadline: '2026-11-21T12:00:00.000Z',
            // exactly the time left: tight, but it can still be met
            remainingCriticalPathSeconds: 86_400,
          }),
        ],
      }),
      NOW,
    )
    expect(actionsOf(plan, 'hold')).toEqual([
      expect.objectContaining({
        jobId: 'final',
        reason:
          'project paper would exceed its hard gpu-hours cap: used 50.0 + committed 0.0 + this job 1.0 > 50.0 (month 2026-11); the hard cap wins over its deadline 2026-11-21T12:00:00.000Z: hold',
      }),
    ])
    expect(explanationOf(plan, 'final').terms?.urgency).toBe(1)
  })

  it('a lend grant moves capacity between projects, and revoking the unused part takes it back', () => {
    const budgets = {
      vision: [{ resource: 'gpu-hours' as const, amount: 40 }],
      nlp: [{ resource: 'gpu-hours' as const, amount: 10 }],
    }
    const base = [chargeOf('vision', 5), chargeOf('nlp', 10)]
    const waiting = jobOf('nlp', { jobId: 'nlp-train', state: 'held', heldByRpo: true, timeLimitSeconds: 4 * HOUR })
    const before = decideEnforcement(snapshotOf({ budgets, entries: base, jobs: [waiting] }), NOW)
    expect(explanationOf(before, 'nlp-train').decision).toBe('keep-held')

    const rules = [...budgetRulesOf('vision', budgets.vision), ...budgetRulesOf('nlp', budgets.nlp)]
    const at = new Date(NOW - 60_000).toISOString()
    const statuses = computeBudgetStatus({ rules, entries: base, commitments: [], gpuWeights: {}, now: NOW - 60_000 })
    const grant = planGrant(
      {
        key: 'g1',
        at,
        lender: 'vision',
        borrower: 'nlp',
        scope: { resource: 'gpu-hours', gpuType: null },
        amount: 6,
        expiresAt: new Date(NOW + 7 * DAY_MS).toISOString(),
        actor: 'lead@vision',
      },
      statuses,
    )
    const lent = decideEnforcement(snapshotOf({ budgets, entries: [...base, grant], jobs: [waiting] }), NOW)
    expect(actionsOf(lent, 'release')).toEqual([
      expect.objectContaining({
        jobId: 'nlp-train',
        reason:
          "fits project nlp's hard gpu-hours cap: used 10.0 + committed 0.0 + this job 4.0 <= 16.0 (month 2026-11): release",
      }),
    ])
    expect(lent.statuses.map((s) => [s.project, s.effective])).toEqual([
      ['vision', 34],
      ['nlp', 16],
    ])

    // the job was released and is pending; nothing of the grant was used, so all 6 can come back
    const grants = lent.statuses.find((s) => s.project === 'nlp')?.grants ?? []
    const revoke = planRevoke(
      { key: 'r1', at: new Date(NOW).toISOString(), grantId: 'g1', actor: 'lead@vision' },
      grants,
    )
    const entries = [...base, grant, revoke]
    const back = decideEnforcement(
      snapshotOf({ budgets, entries, jobs: [{ ...waiting, state: 'pending', heldByRpo: false }] }),
      NOW + 1,
    )
    expect(actionsOf(back, 'hold').map((a) => a.jobId)).toEqual(['nlp-train'])
    expect(checkLedger(entries)).toEqual([])
    expect(isZeroTresHours(ledgerTotal(entries))).toBe(true)
  })
})

describe('inputs', () => {
  const parts = {
    budgets: { vision: [{ resource: 'gpu-hours' as const, amount: 15 }] },
    entries: [chargeOf('vision', 10)],
    jobs: [jobOf('vision', { jobId: 'p', timeLimitSeconds: 4 * HOUR })],
  }

  it('decides the same from precomputed statuses as from the ledger (their committed is not counted twice)', () => {
    const fromLedger = decideEnforcement(snapshotOf(parts), NOW)
    const snapshot = snapshotOf(parts)
    if (snapshot.budget.kind !== 'ledger') throw new Error('expected a ledger snapshot')
    const running = {
      project: 'vision',
      user: null,
      rate: gpuRate('a100', 1),
      elapsedSeconds: 0,
      timeLimitSeconds: HOUR,
    }
    const statuses = computeBudgetStatus({ ...snapshot.budget, commitments: [running], now: NOW })
    const fromStatuses = decideEnforcement({ ...snapshot, budget: { kind: 'statuses', statuses } }, NOW)
    expect(fromStatuses.actions).toEqual(fromLedger.actions)
    expect(explanationOf(fromStatuses, 'p').decision).toBe('wait')
  })

  it('takes a job’s own worst case over rate × time left when it is given', () => {
    const big = jobOf('vision', { jobId: 'p', timeLimitSeconds: HOUR, worstCase: gpuRate('a100', 6) })
    const plan = decideEnforcement(snapshotOf({ ...parts, jobs: [big] }), NOW)
    expect(actionsOf(plan, 'hold')[0]?.reason).toContain('this job 6.0 > 15.0')
  })

  it('ranks only the jobs of a user over a per-user soft cap as over-soft', () => {
    const plan = decideEnforcement(
      snapshotOf({
        budgets: { vision: [{ resource: 'gpu-hours', amount: 5, cap: 'soft', user: 'bob' }] },
        entries: [chargeOf('vision', 6, { user: 'bob' })],
        jobs: [jobOf('vision', { jobId: 'bob', user: 'bob' }), jobOf('vision', { jobId: 'alice', user: 'alice' })],
      }),
      NOW,
    )
    expect(plan.explanations.map((e) => [e.jobId, e.overSoft, e.nice])).toEqual([
      ['alice', false, 0],
      ['bob', true, 5100],
    ])
  })

  it('scores a project missing from the projects list as importance 1 with no terms', () => {
    const plan = decideEnforcement({ ...snapshotOf({ jobs: [jobOf('ghost', { jobId: 'g' })] }), projects: [] }, NOW)
    expect(explanationOf(plan, 'g')).toMatchObject({ score: 1, terms: null, decision: 'wait' })
  })

  it('frees GPUs of any type for waiting work that accepts any type, after typed demand', () => {
    const plan = decideEnforcement(
      snapshotOf({
        budgets: { vision: [{ resource: 'gpu-hours', amount: 10, cap: 'soft' }] },
        entries: [chargeOf('vision', 20)],
        jobs: [
          jobOf('vision', { jobId: 'v-a100', state: 'running', gpus: 2, gpuType: 'a100' }),
          jobOf('vision', { jobId: 'v-h100', state: 'running', gpus: 2, gpuType: 'h100', criticalPathSeconds: 100 }),
          jobOf('nlp', { jobId: 'any', gpus: 1, gpuType: null }),
        ],
        freeGpus: { a100: 0, h100: 0 },
      }),
      NOW,
    )
    expect(actionsOf(plan, 'requeue').map((a) => [a.jobId, a.hold])).toEqual([['v-a100', false]])
  })
})
