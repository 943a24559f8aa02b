// The planner updates an attempt only when the scheduler said something new about it: a round in
// which every job is where it was plans no attempt write and no change, so the engine writes
// nothing for it and a follower can tell an idle round from a busy one.
import { describe, expect, it } from 'vitest'
import type { AttemptObservation } from '../../../src/core/scheduling/run-snapshot.js'
import { ClusterWorld, runOf } from './cluster-fixtures.js'

const TWO_STEPS = `
name: demo
tasks:
  train: { command: train }
  eval: { command: eval, after: [train] }
`

/** Two runs, each with its `train` job running since T0 - 1 s on node n1. */
function runningWorld(): { world: ClusterWorld; running: (runId: string) => AttemptObservation } {
  const world = new ClusterWorld([runOf('a', TWO_STEPS), runOf('b', TWO_STEPS)])
  world.tick('hpc')
  const started = world.now - 1000
  const running = (runId: string): AttemptObservation => {
    const observed = world.observe(runId, 'train', 'running')
    if (observed.kind !== 'observed') throw new Error('unreachable')
    return { ...observed, job: { ...observed.job, startedAt: new Date(started), nodes: ['n1'], reason: 'None' } }
  }
  world.tick('hpc', [running('a'), running('b')])
  return { world, running }
}

describe('attempt updates', () => {
  it('are none for jobs polled again as they were: no attempt, no task, no change', () => {
    const { world, running } = runningWorld()
    expect(world.attempt('a', 'train')).toMatchObject({ state: 'running', nodes: ['n1'], reason: 'None' })
    world.now += 60_000
    const plans = world.tick('hpc', [running('a'), running('b')])
    for (const runId of ['a', 'b']) {
      const plan = plans.get(runId)
      expect(plan?.attemptUpdates.size).toBe(0)
      expect(plan?.taskUpdates.size).toBe(0)
      expect(plan?.events).toEqual([])
      expect(plan?.submissions).toEqual([])
    }
  })

  it('carry the attempt whose job said something new, and only that one', () => {
    const { world, running } = runningWorld()
    world.now += 60_000
    const moved = running('b')
    if (moved.kind !== 'observed') throw new Error('unreachable')
    // the same job, now on another node list (requeued in place) with another reason
    const plans = world.tick('hpc', [
      running('a'),
      { ...moved, job: { ...moved.job, nodes: ['n1', 'n2'], reason: 'Prolog' } },
    ])
    expect(plans.get('a')?.attemptUpdates.size).toBe(0)
    const b = plans.get('b')?.attemptUpdates
    expect([...(b?.keys() ?? [])]).toEqual([world.attempt('b', 'train').submissionKey])
    expect(world.attempt('b', 'train')).toMatchObject({ nodes: ['n1', 'n2'], reason: 'Prolog' })
  })

  it('still count a job missing from a poll, and still record its ending', () => {
    const { world, running } = runningWorld()
    world.now += 60_000
    const key = world.attempt('a', 'train').submissionKey
    const missed = world.tick('hpc', [{ kind: 'missing', submissionKey: key }, running('b')])
    expect(missed.get('a')?.attemptUpdates.get(key)).toEqual({ missedPolls: 1 })
    expect(missed.get('b')?.attemptUpdates.size).toBe(0)
    world.now += 60_000
    const ended = world.tick('hpc', [world.observe('a', 'train', 'succeeded'), running('b')])
    expect(ended.get('a')?.attemptUpdates.get(key)).toMatchObject({ state: 'succeeded', missedPolls: 0 })
    expect(ended.get('a')?.submissions.map((s) => s.taskId)).toEqual(['eval'])
    expect(ended.get('b')?.attemptUpdates.size).toBe(0)
  })
})
