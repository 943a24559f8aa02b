/**
 * The decision for fixed seeded snapshots (bench/policy-bench.ts's generator), pinned as digests of
 * every action and every explanation: the speed work on decideEnforcement must not change what it
 * decides, what it says, or in which order. A digest that moves means a behaviour changed; update
 * it only with a reason in the commit message.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { policySnapshot } from '../../../bench/policy-bench.js'
import { judgeBudgets } from '../../../src/core/budget/budget-judgement.js'
import { decideEnforcement, type EnforcementSnapshot } from '../../../src/core/policy/enforcement-plan.js'

const NOW = Date.parse('2026-11-20T12:00:00.000Z')

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16)
}

function pinned(snapshot: EnforcementSnapshot) {
  const plan = decideEnforcement(snapshot, NOW)
  const count = (kind: string) => plan.actions.filter((a) => a.kind === kind).length
  return {
    counts: ['hold', 'release', 'requeue', 'cancel', 'setNice'].map((kind) => `${kind} ${count(kind)}`).join(', '),
    actions: digest(plan.actions),
    explanations: digest(plan.explanations),
    projectScores: digest(plan.projectScores),
  }
}

function precomputed(snapshot: EnforcementSnapshot): EnforcementSnapshot {
  if (snapshot.budget.kind !== 'ledger') throw new Error('expected a ledger snapshot')
  const judged = judgeBudgets({ ...snapshot.budget, commitments: [], now: NOW })
  return { ...snapshot, budget: { kind: 'statuses', statuses: judged.statuses, problems: judged.problems } }
}

describe('decideEnforcement on seeded snapshots', () => {
  it('decides 10 projects with 500 jobs as pinned', () => {
    const snapshot = policySnapshot(10, 500)
    expect(pinned(snapshot)).toEqual({
      counts: 'hold 258, release 13, requeue 72, cancel 0, setNice 52',
      actions: 'de77440fca7d3606',
      explanations: '65035dc8049d05c6',
      projectScores: 'a90e13ff89dbd685',
    })
    expect(pinned(precomputed(snapshot))).toEqual(pinned(snapshot))
  })

  it('decides 100 projects with 10,000 jobs (the bench) as pinned', () => {
    const snapshot = policySnapshot()
    expect(pinned(snapshot)).toEqual({
      counts: 'hold 5635, release 64, requeue 1536, cancel 0, setNice 389',
      actions: '93ecc031a23078ac',
      explanations: 'ee44291e4f650e20',
      projectScores: '31994302bd40cabd',
    })
    expect(pinned({ ...snapshot, runningAtHardCap: 'cancel' })).toEqual({
      counts: 'hold 5586, release 69, requeue 1536, cancel 640, setNice 445',
      actions: 'a454df496398009d',
      explanations: '0f4821b20e30e7e4',
      projectScores: '31994302bd40cabd',
    })
  })
})
