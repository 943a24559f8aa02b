/**
 * Properties over random histories: the ledger always balances whatever mix of charges, grants,
 * revokes and expiries it holds, and admission never lets used + committed cross a hard cap.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { admit } from '../../../src/core/budget/budget-admission.js'
import {
  computeGrantStatuses,
  planGrant,
  planGrantExpiries,
  planRevoke,
} from '../../../src/core/budget/budget-grants.js'
import {
  chargedByUsageKey,
  checkLedger,
  type LedgerEntry,
  ledgerTotal,
  planCharges,
} from '../../../src/core/budget/budget-ledger.js'
import { periodWindow } from '../../../src/core/budget/budget-period.js'
import { type BudgetRule, budgetRulesOf } from '../../../src/core/budget/budget-rules.js'
import { type Commitment, computeBudgetStatus } from '../../../src/core/budget/budget-status.js'
import { indexUsage } from '../../../src/core/budget/budget-usage.js'
import { isZeroTresHours, scaleTresHours, tresHoursOf } from '../../../src/core/budget/tres-hours.js'
import { BudgetError } from '../../../src/core/errors.js'

const START = Date.parse('2026-11-01T00:00:00Z')
const PROJECTS = ['vision', 'nlp', 'audio'] as const
const USERS = [null, 'u1', 'u2'] as const
const A100 = { resource: 'gpu-hours', gpuType: 'a100' } as const

const op = fc.oneof(
  fc.record({
    kind: fc.constant('charge' as const),
    project: fc.constantFrom(...PROJECTS),
    user: fc.constantFrom(...USERS),
    run: fc.integer({ min: 0, max: 4 }),
    gpus: fc.integer({ min: 1, max: 8 }),
    hours: fc.double({ min: 0, max: 10, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant('grant' as const),
    lender: fc.constantFrom(...PROJECTS),
    borrower: fc.constantFrom(...PROJECTS),
    amount: fc.double({ min: 0.1, max: 40, noNaN: true }),
    days: fc.integer({ min: 1, max: 10 }),
  }),
  fc.record({
    kind: fc.constant('revoke' as const),
    grant: fc.nat(),
    amount: fc.option(fc.double({ min: 0.1, max: 20, noNaN: true })),
  }),
  fc.constant({ kind: 'expire' as const }),
)

function grantStatuses(rules: readonly BudgetRule[], entries: readonly LedgerEntry[], now: number) {
  const windows = new Map(rules.map((r) => [r.id, periodWindow(r.period, now)]))
  return computeGrantStatuses(entries, { rules, usage: indexUsage(entries), windows, gpuWeights: {}, now })
}

describe('ledger', () => {
  it('always balances: every meter sums to zero and no invariant breaks, whatever happens', () => {
    const seen = { grant: 0, revoke: 0, expire: 0 }
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 10, max: 200 }), { minLength: 3, maxLength: 3 }),
        fc.array(op, { maxLength: 40 }),
        (amounts, ops) => {
          const rules = PROJECTS.flatMap((p, i) =>
            budgetRulesOf(p, [{ resource: 'gpu-hours', gpuType: 'a100', amount: amounts[i] as number }]),
          )
          const entries: LedgerEntry[] = []
          const cumulative = new Map<string, number>()
          ops.forEach((o, step) => {
            const now = START + step * 3_600_000 * 12
            const at = new Date(now).toISOString()
            try {
              if (o.kind === 'charge') {
                const usageKey = `${o.project}.${o.user}.${o.run}#0`
                const total = (cumulative.get(usageKey) ?? 0) + o.hours
                cumulative.set(usageKey, total)
                const hours = tresHoursOf(
                  { 'gres/gpu': o.gpus, 'gres/gpu:a100': o.gpus, cpu: o.gpus * 4 },
                  total * 3600,
                )
                entries.push(
                  ...planCharges(
                    [{ usageKey, project: o.project, user: o.user, at, hours }],
                    chargedByUsageKey(entries),
                  ),
                )
              } else if (o.kind === 'grant') {
                const statuses = computeBudgetStatus({ rules, entries, commitments: [], gpuWeights: {}, now })
                const expiresAt = new Date(now + o.days * 86_400_000).toISOString()
                const key = `grant-${step}`
                entries.push(
                  planGrant(
                    {
                      key,
                      at,
                      lender: o.lender,
                      borrower: o.borrower,
                      scope: A100,
                      amount: o.amount,
                      expiresAt,
                      actor: 'a',
                    },
                    statuses,
                  ),
                )
              } else if (o.kind === 'revoke') {
                const grants = grantStatuses(rules, entries, now)
                const grant = grants[o.grant % Math.max(1, grants.length)]
                if (!grant) return
                const request = { key: `revoke-${step}`, at, grantId: grant.grantId, actor: 'a' }
                entries.push(planRevoke(o.amount === null ? request : { ...request, amount: o.amount }, grants))
              } else {
                entries.push(...planGrantExpiries(grantStatuses(rules, entries, now)))
              }
            } catch (error) {
              // a refused grant or revoke is a value the user sees, not a broken ledger
              if (!(error instanceof BudgetError)) throw error
            }
            expect(checkLedger(entries)).toEqual([])
          })
          for (const e of entries) {
            if (e.kind === 'grant') seen.grant++
            else if (e.kind === 'revoke') seen[e.actor === 'rpo' ? 'expire' : 'revoke']++
          }
          expect(isZeroTresHours(ledgerTotal(entries), 1e-6)).toBe(true)
          const end = START + ops.length * 3_600_000 * 12
          for (const g of grantStatuses(rules, entries, end)) {
            expect(g.used + g.unused + g.returnedAtExpiry).toBeCloseTo(g.net, 6)
            expect(g.used).toBeGreaterThanOrEqual(0)
            expect(g.unused).toBeGreaterThanOrEqual(0)
          }
        },
      ),
      { numRuns: 150 },
    )
    // the histories did exercise every kind of movement
    expect(Math.min(seen.grant, seen.revoke, seen.expire)).toBeGreaterThan(0)
  })
})

/** An admitted job as the model tracks it: a commitment whose elapsed time moves on. */
interface LiveJob extends Omit<Commitment, 'elapsedSeconds'> {
  readonly key: string
  live: boolean
  elapsedSeconds: number
}

describe('admission', () => {
  const request = fc.oneof(
    fc.record({
      kind: fc.constant('submit' as const),
      project: fc.constantFrom('vision', 'nlp'),
      user: fc.constantFrom(...USERS),
      gpus: fc.integer({ min: 1, max: 4 }),
      type: fc.constantFrom('a100', 'v100'),
      limitHours: fc.double({ min: 0.1, max: 12, noNaN: true }),
    }),
    fc.record({
      kind: fc.constant('advance' as const),
      job: fc.nat(),
      hours: fc.double({ min: 0, max: 6, noNaN: true }),
    }),
    fc.record({ kind: fc.constant('finish' as const), job: fc.nat() }),
  )

  it('never lets used + committed exceed a hard cap over any sequence of requests and charges', () => {
    const decisions = { admit: 0, refuse: 0 }
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 300 }),
        fc.array(request, { maxLength: 60 }),
        (projectCap, userCap, cpuCap, ops) => {
          const rules = [
            ...budgetRulesOf('vision', [
              { resource: 'gpu-hours', gpuType: 'a100', amount: projectCap },
              { resource: 'gpu-hours', amount: userCap, user: 'u1' },
              { resource: 'cpu-hours', amount: cpuCap },
              { resource: 'gpu-hours', amount: projectCap / 2, cap: 'soft' },
            ]),
            ...budgetRulesOf('nlp', [{ resource: 'gpu-hours', amount: projectCap + userCap }]),
          ]
          const gpuWeights = { vision: { a100: 2, v100: 0.5 }, nlp: { v100: 3 } }
          const jobs: LiveJob[] = []
          const entries: LedgerEntry[] = []
          ops.forEach((o, step) => {
            const now = START + step * 60_000
            const at = new Date(now).toISOString()
            if (o.kind === 'submit') {
              const rate = tresHoursOf({ 'gres/gpu': o.gpus, [`gres/gpu:${o.type}`]: o.gpus, cpu: 4 * o.gpus }, 3600)
              const statuses = computeBudgetStatus({
                rules,
                entries,
                commitments: jobs.filter((j) => j.live),
                gpuWeights,
                now,
              })
              const decision = admit(statuses, {
                project: o.project,
                user: o.user,
                worstCase: scaleTresHours(rate, o.limitHours),
              })
              decisions[decision.kind]++
              if (decision.kind === 'admit') {
                jobs.push({
                  key: `job${step}#0`,
                  live: true,
                  project: o.project,
                  user: o.user,
                  rate,
                  elapsedSeconds: 0,
                  timeLimitSeconds: o.limitHours * 3600,
                })
              }
            } else {
              const job = jobs.filter((j) => j.live)[o.job % Math.max(1, jobs.filter((j) => j.live).length)]
              if (!job) return
              if (o.kind === 'finish') job.live = false
              else {
                job.elapsedSeconds = Math.min(job.timeLimitSeconds, job.elapsedSeconds + o.hours * 3600)
                const hours = scaleTresHours(job.rate, job.elapsedSeconds / 3600)
                entries.push(
                  ...planCharges(
                    [{ usageKey: job.key, project: job.project, user: job.user, at, hours }],
                    chargedByUsageKey(entries),
                  ),
                )
              }
            }
            const statuses = computeBudgetStatus({
              rules,
              entries,
              commitments: jobs.filter((j) => j.live),
              gpuWeights,
              now,
            })
            for (const s of statuses.filter((x) => x.cap === 'hard')) {
              expect(s.used + s.committed).toBeLessThanOrEqual(s.effective + 1e-6)
            }
          })
        },
      ),
      { numRuns: 150 },
    )
    expect(Math.min(decisions.admit, decisions.refuse)).toBeGreaterThan(0)
  })
})
