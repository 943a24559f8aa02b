/**
 * planCluster: the runs of one cluster planned together. Their ready work is admitted in one order
 * (run rank, then the run's critical path, then run and task id) against the cluster's shared
 * capacity, cap on work in flight and budgets; `maxParallel` still counts within a run.
 */
import { describe, expect, it } from 'vitest'
import { BudgetBook } from '../../../src/core/budget/budget-admission.js'
import { budgetRulesOf } from '../../../src/core/budget/budget-rules.js'
import { computeBudgetStatus } from '../../../src/core/budget/budget-status.js'
import { requestedWorstCase } from '../../../src/core/budget/requested-tres.js'
import type { ClusterPlanOptions } from '../../../src/core/scheduling/plan-cluster.js'
import { attemptResources } from '../../../src/core/scheduling/run-snapshot.js'
import { ClusterWorld, runOf, submitted } from './cluster-fixtures.js'

const THREE = 'name: demo\ntasks:\n  t: { command: "x {{params.i}}", matrix: { i: [1, 2, 3] } }\n'
const cpus = (n: number) => ({ cpus: n, memoryMb: 1_000_000, gpus: {} })

describe('one order across runs', () => {
  it("admits the higher-ranked run's work first when capacity runs short", () => {
    // run ids sort against the ranks: the rank decides
    const world = new ClusterWorld([runOf('alpha', THREE, 'hpc', 1), runOf('zulu', THREE, 'hpc', 5)])
    const plans = world.tick('hpc', [], { capacity: cpus(4) })
    expect(submitted(plans)).toEqual(['alpha/t.0', 'zulu/t.0', 'zulu/t.1', 'zulu/t.2'])
    expect(world.taskState('alpha', 't.1')).toBe('pending')
    // as capacity frees, the rest of the lower-ranked run follows
    const next = world.tick('hpc', [world.observe('zulu', 't.0', 'succeeded')], { capacity: cpus(4) })
    expect(submitted(next)).toEqual(['alpha/t.1'])
  })

  it('breaks a tie in rank by run id, whatever order the runs come in', () => {
    for (const order of [
      ['beta', 'alpha'],
      ['alpha', 'beta'],
    ]) {
      const world = new ClusterWorld(order.map((id) => runOf(id, THREE)))
      expect(submitted(world.tick('hpc', [], { capacity: cpus(4) })).sort()).toEqual([
        'alpha/t.0',
        'alpha/t.1',
        'alpha/t.2',
        'beta/t.0',
      ])
    }
  })

  it('within one rank, the longer critical path goes first, across runs as within one', () => {
    const long = 'name: demo\ntasks:\n  big: { command: big, expected: 2h }\n'
    const world = new ClusterWorld([runOf('a', THREE), runOf('b', long)])
    expect(submitted(world.tick('hpc', [], { capacity: cpus(2) }))).toEqual(['a/t.0', 'b/big'])
  })

  it('asks budget admission in the one order: rank first', () => {
    const asked: string[] = []
    const world = new ClusterWorld([runOf('alpha', THREE, 'hpc', 0), runOf('zulu', THREE, 'hpc', 2)])
    world.tick('hpc', [], {
      admit: (run, task) => {
        asked.push(`${run.id}/${task.id}`)
        return { kind: 'admit' }
      },
    })
    expect(asked).toEqual(['zulu/t.0', 'zulu/t.1', 'zulu/t.2', 'alpha/t.0', 'alpha/t.1', 'alpha/t.2'])
  })
})

describe('limits shared by the runs of a cluster', () => {
  it('maxActive caps attempts in flight on the cluster across runs', () => {
    const world = new ClusterWorld([runOf('a', THREE), runOf('b', THREE)])
    expect(submitted(world.tick('hpc', [], { maxActive: 4 }))).toEqual(['a/t.0', 'a/t.1', 'a/t.2', 'b/t.0'])
    // full: nothing more until something ends, whichever run it belongs to
    expect(submitted(world.tick('hpc', [world.observe('b', 't.0', 'running')], { maxActive: 4 }))).toEqual([])
    expect(submitted(world.tick('hpc', [world.observe('a', 't.1', 'succeeded')], { maxActive: 4 }))).toEqual(['b/t.1'])
  })

  it('capacity is one pool: GPUs taken by one run are not free for another', () => {
    const gpu =
      'name: demo\ntasks:\n  g: { command: "g {{params.i}}", matrix: { i: [1, 2] }, resources: { gpus: 1 } }\n'
    const world = new ClusterWorld([runOf('a', gpu, 'hpc', 0), runOf('b', gpu, 'hpc', 1)])
    const capacity = { cpus: 64, memoryMb: 1_000_000, gpus: { a100: 3 } }
    expect(submitted(world.tick('hpc', [], { capacity }))).toEqual(['a/g.0', 'b/g.0', 'b/g.1'])
    expect(submitted(world.tick('hpc', [], { capacity }))).toEqual([])
    expect(submitted(world.tick('hpc', [world.observe('b', 'g.1', 'succeeded')], { capacity }))).toEqual(['a/g.1'])
  })

  it('maxParallel counts the instances of its own run only', () => {
    const throttled =
      'name: demo\ntasks:\n  t: { command: "x {{params.i}}", matrix: { i: [1, 2, 3] }, maxParallel: 2 }\n'
    const world = new ClusterWorld([runOf('a', throttled), runOf('b', throttled)])
    expect(submitted(world.tick('hpc'))).toEqual(['a/t.0', 'a/t.1', 'b/t.0', 'b/t.1'])
  })
})

describe('budget admission across runs of one project', () => {
  const NOW = Date.parse('2026-11-20T12:00:00Z')
  // three 1-GPU tasks of 2 h each: a worst case of 6 GPU-hours per run
  const TRAIN = (project: string) =>
    `name: demo\nproject: ${project}\ntasks:\n  t: { command: "x {{params.i}}", matrix: { i: [1, 2, 3] }, resources: { gpus: 1, time: 2h } }\n`

  /** The budget service's admission over the pure parts: one book for the whole tick, reserving what it admits. */
  function budgetAdmission(capHours: number, canHold: boolean): ClusterPlanOptions['admit'] {
    const statuses = computeBudgetStatus({
      rules: budgetRulesOf('vision', [{ resource: 'gpu-hours', amount: capHours }]),
      entries: [],
      commitments: [],
      gpuWeights: {},
      now: NOW,
    })
    const book = new BudgetBook(statuses)
    return (run, task, definition) => {
      const project = run.pipeline.project
      if (project === null) return { kind: 'admit' }
      const request = {
        project,
        user: 'alice',
        worstCase: requestedWorstCase(attemptResources(definition, task.overrides)),
      }
      const decision = book.check(request)
      if (decision.kind === 'refuse') {
        const reason = `budget: ${decision.reason}`
        return canHold ? { kind: 'hold', reason } : { kind: 'wait', reason }
      }
      book.reserve(request)
      return { kind: 'admit' }
    }
  }

  function world(lowRank: number, highRank: number): ClusterWorld {
    const w = new ClusterWorld([
      runOf('first', TRAIN('vision'), 'hpc', lowRank),
      runOf('second', TRAIN('vision'), 'hpc', highRank),
      runOf('other', TRAIN('nlp'), 'hpc', 0),
    ])
    w.now = NOW
    return w
  }

  it('admits only what fits the one cap, in rank order; the rest waits with the reason', () => {
    const w = world(1, 2)
    const plans = w.tick('hpc', [], { admit: budgetAdmission(10, false) })
    // 10 GPU-hours: the higher-ranked run's three tasks (6), then two of the other run's (4)
    expect(submitted(plans)).toEqual([
      'first/t.0',
      'first/t.1',
      'second/t.0',
      'second/t.1',
      'second/t.2',
      'other/t.0',
      'other/t.1',
      'other/t.2',
    ])
    expect(w.taskState('first', 't.2')).toBe('pending')
    expect(plans.get('first')?.taskUpdates.get('t.2')?.reason).toBe(
      'budget: project vision would exceed its hard gpu-hours cap: used 0.0 + committed 10.0 + this job 2.0 > 10.0 (month 2026-11)',
    )
  })

  it('the other rank order gives the other run the room', () => {
    const plans = world(2, 1).tick('hpc', [], { admit: budgetAdmission(10, false) })
    expect(plans.get('first')?.submissions.map((s) => s.taskId)).toEqual(['t.0', 't.1', 't.2'])
    expect(plans.get('second')?.submissions.map((s) => s.taskId)).toEqual(['t.0', 't.1'])
  })

  it('where the scheduler can hold, what does not fit is submitted held', () => {
    const plans = world(1, 2).tick('hpc', [], { admit: budgetAdmission(10, true) })
    expect(plans.get('first')?.submissions.map((s) => [s.taskId, s.hold ?? null])).toEqual([
      ['t.0', null],
      ['t.1', null],
      ['t.2', expect.stringContaining('budget: project vision would exceed its hard gpu-hours cap')],
    ])
    expect(plans.get('second')?.submissions.every((s) => s.hold === undefined)).toBe(true)
  })
})
