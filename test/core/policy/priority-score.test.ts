/** Priority scores: each term's value, the formula, tiers and tie-breaks, and monotonicity over random inputs. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { renderExplanation, type TaskExplanation } from '../../../src/budget/explain-task.js'
import { RpoError } from '../../../src/core/errors.js'
import {
  DEADLINE_TRIAGE,
  type ProjectPriorityInput,
  type ProjectScore,
  type ScoreTerms,
  scoreProjects,
  scoreTasks,
} from '../../../src/core/policy/priority-score.js'

const NOW = Date.parse('2026-11-20T00:00:00Z')
const DAY = 86_400

function input(project: string, overrides: Partial<ProjectPriorityInput> = {}): ProjectPriorityInput {
  return {
    project,
    importance: 1,
    deadline: null,
    share: null,
    usage: 0,
    remainingCriticalPathSeconds: 0,
    expectedWorkSeconds: 0,
    doneWorkSeconds: 0,
    startedAt: null,
    overSoft: false,
    ...overrides,
  }
}

const order = (scores: { project: string }[]) => scores.map((s) => s.project)

describe('terms', () => {
  it('urgency: critical path over time left while it fits; the triage value once it cannot; 0 without a deadline', () => {
    const [far, just, tight, late, none] = ['far', 'just', 'tight', 'late', 'none'].map(
      (p) =>
        scoreProjects(
          [
            input(p, {
              deadline:
                {
                  far: '2026-11-30T00:00:00Z',
                  just: '2026-11-22T00:00:00Z',
                  tight: '2026-11-21T00:00:00Z',
                  late: '2026-11-19T00:00:00Z',
                  none: null,
                }[p] ?? null,
              remainingCriticalPathSeconds: 2 * DAY,
            }),
          ],
          NOW,
        )[0],
    )
    expect(far?.terms).toMatchObject({ urgency: 0.2, slackSeconds: 8 * DAY, deadlineUnreachable: false })
    // a path that exactly fits can still make it
    expect(just?.terms).toMatchObject({ urgency: 1, slackSeconds: 0, deadlineUnreachable: false })
    // 2 days of path, 1 day left: 1 day late at best = 1/8 of the catch-up span (4 × path)
    expect(tight?.terms).toMatchObject({ slackSeconds: -DAY, deadlineUnreachable: true })
    expect(tight?.terms.urgency).toBeCloseTo(0.75 + 0.25 / 8, 12)
    // past the deadline by a day: 3 days late at best
    expect(late?.terms).toMatchObject({ slackSeconds: -3 * DAY, deadlineUnreachable: true })
    expect(late?.terms.urgency).toBeCloseTo(0.75 + (0.25 * 3) / 8, 12)
    expect(none?.terms).toMatchObject({ urgency: 0, slackSeconds: null, deadlineUnreachable: false })
  })

  it('progress lag is 0 once the deadline cannot be met: being behind plan no longer helps it', () => {
    const [lost] = scoreProjects(
      [
        input('lost', {
          deadline: '2026-11-21T00:00:00Z',
          remainingCriticalPathSeconds: 2 * DAY,
          startedAt: '2026-11-10T00:00:00Z',
          expectedWorkSeconds: 100,
          doneWorkSeconds: 10,
        }),
      ],
      NOW,
    )
    expect(lost?.terms).toMatchObject({ progressLag: 0, deadlineUnreachable: true })
  })

  it('fair share: (target − actual) ÷ target, targets normalised over the projects that have a share', () => {
    const scores = scoreProjects(
      [input('a', { share: 1, usage: 50 }), input('b', { share: 3, usage: 50 }), input('c')],
      NOW,
    )
    const byName = new Map(scores.map((s) => [s.project, s.terms]))
    expect(byName.get('a')).toMatchObject({ targetShare: 0.25, actualShare: 0.5, fairShare: -1 })
    expect(byName.get('b')?.fairShare).toBeCloseTo(1 / 3, 12)
    expect(byName.get('c')).toMatchObject({ targetShare: null, actualShare: 0, fairShare: 0 })
  })

  it('progress lag: time elapsed to the deadline minus work done, as fractions', () => {
    const [s] = scoreProjects(
      [
        input('a', {
          deadline: '2026-11-25T00:00:00Z',
          startedAt: '2026-11-15T00:00:00Z',
          expectedWorkSeconds: 100,
          doneWorkSeconds: 20,
        }),
      ],
      NOW,
    )
    expect(s?.terms.progressLag).toBeCloseTo(0.3, 12)
  })

  it('combines them as importance × (1 + 2·urgency + 0.4·fairShare + 0.4·progressLag)', () => {
    const [s] = scoreProjects(
      [
        input('a', {
          importance: 2,
          deadline: '2026-11-30T00:00:00Z',
          remainingCriticalPathSeconds: 2 * DAY,
          startedAt: '2026-11-10T00:00:00Z',
          expectedWorkSeconds: 100,
          doneWorkSeconds: 20,
        }),
      ],
      NOW,
    )
    // urgency 0.2, progress lag 0.5 − 0.2 = 0.3
    expect(s?.score).toBeCloseTo(2 * (1 + 0.4 + 0.12), 12)
  })

  it('refuses a deadline that is not a timestamp, naming it', () => {
    expect(() => scoreProjects([input('a', { deadline: 'soon' })], NOW)).toThrow(RpoError)
    expect(() => scoreProjects([input('a', { deadline: 'soon' })], NOW)).toThrow('project a deadline "soon"')
  })
})

describe('order', () => {
  it('flips two projects when a deadline approaches, and back once it cannot be met: same inputs, a later now', () => {
    const projects = [
      input('steady', { importance: 2.7 }),
      input('paper', { deadline: '2026-12-20T00:00:00Z', remainingCriticalPathSeconds: 1.9 * DAY }),
    ]
    expect(order(scoreProjects(projects, NOW))).toEqual(['steady', 'paper'])
    // 2 days left for 1.9 days of work: urgency 0.95, score 2.9
    expect(order(scoreProjects(projects, Date.parse('2026-12-18T00:00:00Z')))).toEqual(['paper', 'steady'])
    // 1 day left: lost, urgency 0.75 + 0.25 × 0.9 / 7.6, score 2.56
    expect(order(scoreProjects(projects, Date.parse('2026-12-19T00:00:00Z')))).toEqual(['steady', 'paper'])
  })

  it('triage: work whose deadline is lost ranks below work that is at risk but can still make it', () => {
    const at = Date.parse('2026-11-20T00:00:00Z')
    const scores = scoreProjects(
      [
        // the earlier deadline, already past: the old rule put it first (urgency 1)
        input('lost', { deadline: '2026-11-19T23:00:00Z', remainingCriticalPathSeconds: 6 * 3600 }),
        // 11 h of work, 12 h left: can still make it if it goes now
        input('at-risk', { deadline: '2026-11-20T12:00:00Z', remainingCriticalPathSeconds: 11 * 3600 }),
        // 2 h of work, 3 days left: room to spare
        input('relaxed', { deadline: '2026-11-23T00:00:00Z', remainingCriticalPathSeconds: 2 * 3600 }),
        input('no-deadline'),
      ],
      at,
    )
    expect(order(scores)).toEqual(['at-risk', 'lost', 'relaxed', 'no-deadline'])
    expect(scores.find((s) => s.project === 'lost')?.terms.deadlineUnreachable).toBe(true)
  })

  it('triage: lost work climbs back to the top as it falls further behind, so it is not starved', () => {
    const projects = [
      input('lost', { deadline: '2026-11-19T00:00:00Z', remainingCriticalPathSeconds: DAY }),
      // urgency 0.9 at every now below: 0.9 days of path for each day left
      input('tight', { deadline: '2026-11-30T00:00:00Z', remainingCriticalPathSeconds: 0.9 * 10 * DAY }),
    ]
    // 2 days late at best (half the catch-up span of 4 days): urgency 0.875 < 0.9
    expect(order(scoreProjects(projects, NOW))).toEqual(['tight', 'lost'])
    // 5 days late at best: urgency 1
    const later = Date.parse('2026-11-23T00:00:00Z')
    const moved = [
      projects[0] as ProjectPriorityInput,
      { ...(projects[1] as ProjectPriorityInput), remainingCriticalPathSeconds: 0.9 * 7 * DAY },
    ]
    const scores = scoreProjects(moved, later)
    expect(scores.find((s) => s.project === 'lost')?.terms.urgency).toBe(1)
    expect(order(scores)).toEqual(['lost', 'tight'])
  })

  it('triage: importance still counts for lost work, and lost work ranks above work without a deadline', () => {
    const lost = { deadline: '2026-11-19T00:00:00Z', remainingCriticalPathSeconds: DAY }
    const atRisk = { deadline: '2026-11-21T00:00:00Z', remainingCriticalPathSeconds: 0.95 * DAY }
    expect(order(scoreProjects([input('lost', { ...lost, importance: 2 }), input('at-risk', atRisk)], NOW))).toEqual([
      'lost',
      'at-risk',
    ])
    expect(order(scoreProjects([input('free', { importance: 1.5 }), input('lost', lost)], NOW))).toEqual([
      'lost',
      'free',
    ])
  })

  it('restores fair share: whoever used less than its share goes first, and the order turns as usage turns', () => {
    const at = (a: number, b: number) =>
      order(scoreProjects([input('a', { share: 1, usage: a }), input('b', { share: 1, usage: b })], NOW))
    expect(at(90, 10)).toEqual(['b', 'a'])
    expect(at(10, 90)).toEqual(['a', 'b'])
    expect(at(50, 50)).toEqual(['a', 'b'])
  })

  it('ranks over-soft-cap work below any in-budget work, whatever the scores', () => {
    const scores = scoreProjects(
      [input('big', { importance: 100, overSoft: true }), input('small', { importance: 0.1 })],
      NOW,
    )
    expect(order(scores)).toEqual(['small', 'big'])
    expect(scores.map((s) => s.rank)).toEqual([0, 1])
  })

  it('orders tasks by project score, then critical path, then time ready, then id', () => {
    const projects = scoreProjects([input('a', { importance: 2 }), input('b')], NOW)
    const tasks = scoreTasks(
      [
        { id: 'b1', project: 'b', criticalPathSeconds: 100, readySince: '2026-11-19T00:00:00Z' },
        { id: 'a-short', project: 'a', criticalPathSeconds: 10, readySince: '2026-11-19T00:00:00Z' },
        { id: 'a-long', project: 'a', criticalPathSeconds: 100, readySince: '2026-11-19T00:00:00Z' },
        { id: 'b3', project: 'b', criticalPathSeconds: 50, readySince: '2026-11-19T00:00:00Z' },
        { id: 'b2', project: 'b', criticalPathSeconds: 50, readySince: '2026-11-18T00:00:00Z' },
        { id: 'b0', project: 'b', criticalPathSeconds: 50, readySince: '2026-11-18T00:00:00Z' },
      ],
      projects,
    )
    expect(tasks.map((t) => t.id)).toEqual(['a-long', 'a-short', 'b1', 'b0', 'b2', 'b3'])
    expect(tasks[0]).toMatchObject({ score: 2 * 1.1, projectScore: 2, pathFraction: 1, rank: 0 })
    expect(tasks[1]?.score).toBeCloseTo(2 * 1.01, 12)
  })
})

interface RandomProject {
  readonly importance: number
  readonly deadlineDays: number | null
  readonly share: number | null
  readonly usage: number
  readonly pathDays: number
  readonly startedDaysAgo: number | null
  readonly expected: number
  readonly doneFraction: number
}

describe('monotonicity', () => {
  const project: fc.Arbitrary<RandomProject> = fc.record({
    importance: fc.double({ min: 0.1, max: 10, noNaN: true }),
    deadlineDays: fc.option(fc.double({ min: -5, max: 60, noNaN: true })),
    share: fc.option(fc.double({ min: 0.1, max: 5, noNaN: true })),
    usage: fc.double({ min: 0, max: 1000, noNaN: true }),
    pathDays: fc.double({ min: 0, max: 30, noNaN: true }),
    startedDaysAgo: fc.option(fc.double({ min: 0, max: 30, noNaN: true })),
    expected: fc.double({ min: 0, max: 1000, noNaN: true }),
    doneFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  const toInput = (p: RandomProject): ProjectPriorityInput =>
    input('p', {
      importance: p.importance,
      deadline: p.deadlineDays === null ? null : new Date(NOW + p.deadlineDays * DAY * 1000).toISOString(),
      share: p.share,
      usage: p.usage,
      remainingCriticalPathSeconds: p.pathDays * DAY,
      startedAt: p.startedDaysAgo === null ? null : new Date(NOW - p.startedDaysAgo * DAY * 1000).toISOString(),
      expectedWorkSeconds: p.expected,
      doneWorkSeconds: p.expected * p.doneFraction,
    })
  const other = input('other', { share: 1, usage: 100 })
  const scoreOf = (p: ProjectPriorityInput, now = NOW) =>
    scoreProjects([p, other], now).find((s) => s.project === 'p')?.score as number
  const termsOf = (p: ProjectPriorityInput, now = NOW) =>
    scoreProjects([p, other], now).find((s) => s.project === 'p')?.terms as ScoreTerms

  it('rises strictly with importance and never falls with a longer remaining path, less usage or less work done', () => {
    fc.assert(
      fc.property(project, fc.double({ min: 1.01, max: 3, noNaN: true }), (p, factor) => {
        const base = toInput(p)
        expect(scoreOf({ ...base, importance: base.importance * factor })).toBeGreaterThan(scoreOf(base))
        const longer = { ...base, remainingCriticalPathSeconds: base.remainingCriticalPathSeconds * factor + 1 }
        // a longer path raises the score while the deadline can still be met with it
        if (!termsOf(longer).deadlineUnreachable) expect(scoreOf(longer)).toBeGreaterThanOrEqual(scoreOf(base))
        expect(scoreOf({ ...base, usage: base.usage / factor })).toBeGreaterThanOrEqual(scoreOf(base) - 1e-12)
        expect(scoreOf({ ...base, doneWorkSeconds: base.doneWorkSeconds / factor })).toBeGreaterThanOrEqual(
          scoreOf(base),
        )
        expect(scoreOf(base)).toBeGreaterThan(0)
      }),
    )
  })

  it('never falls as a deadline comes closer while it can be met, nor as lost work falls further behind', () => {
    fc.assert(
      fc.property(project, fc.double({ min: 0, max: 20, noNaN: true }), (p, laterDays) => {
        const base = toInput({ ...p, startedDaysAgo: null })
        const later = NOW + laterDays * DAY * 1000
        // the one drop: reachable now, lost later
        if (termsOf(base, later).deadlineUnreachable && !termsOf(base).deadlineUnreachable) return
        expect(scoreOf(base, later)).toBeGreaterThanOrEqual(scoreOf(base))
      }),
    )
  })

  it('lost deadlines: exactly when the path no longer fits; urgency in [0.75, 1], no progress lag', () => {
    fc.assert(
      fc.property(project, (p) => {
        const input = toInput(p)
        const terms = termsOf(input)
        // from the deadline as stored (whole ms), not the drawn number of days
        const left = input.deadline === null ? null : (Date.parse(input.deadline) - NOW) / 1000
        const lost = left !== null && (left <= 0 || input.remainingCriticalPathSeconds > left)
        expect(terms.deadlineUnreachable).toBe(lost)
        if (!lost) return
        expect(terms.urgency).toBeGreaterThanOrEqual(DEADLINE_TRIAGE.floor)
        expect(terms.urgency).toBeLessThanOrEqual(1)
        expect(terms.progressLag).toBe(0)
      }),
    )
  })
})

describe('what rpo explain prints', () => {
  const explanation = (projectScore: ProjectScore): TaskExplanation => ({
    runId: 'r1',
    taskId: 'train',
    project: projectScore.project,
    state: 'queued',
    reason: null,
    attempt: null,
    waitingFor: [],
    job: null,
    placement: null,
    projectScore,
    budgets: [],
    budgetProblems: [],
    checkpoints: [],
  })

  it('says when a deadline cannot be met any more, and not before', () => {
    const [lost, fits] = ['lost', 'fits'].map(
      (p) =>
        scoreProjects(
          [
            input(p, {
              deadline: p === 'lost' ? '2026-11-21T00:00:00Z' : '2026-11-23T00:00:00Z',
              remainingCriticalPathSeconds: 2 * DAY,
            }),
          ],
          NOW,
        )[0] as ProjectScore,
    )
    const lostText = renderExplanation(explanation(lost as ProjectScore))
    expect(lostText).toContain(
      'urgency 0.78 (slack -24 h; deadline cannot be met any more: ranks below work still at risk)',
    )
    expect(renderExplanation(explanation(fits as ProjectScore))).toMatch(/urgency 0\.67 \(slack 24 h\),/)
  })
})
