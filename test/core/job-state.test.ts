/**
 * The one job-state vocabulary and its transition table: terminal states are final (a requeue is a
 * new attempt), `unknown` (a lost job) may be reconciled into any state.
 */
import { describe, expect, it } from 'vitest'
import {
  canTransition,
  isActiveJobState,
  isTerminalJobState,
  JOB_STATES,
  type JobState,
  TERMINAL_JOB_STATES,
} from '../../src/core/job/job-state.js'

const TERMINAL: JobState[] = ['succeeded', 'failed', 'cancelled', 'timeout', 'out_of_memory', 'node_fail', 'preempted']

describe('job states', () => {
  it('has the thirteen states of the design vocabulary', () => {
    expect([...JOB_STATES].sort()).toEqual(
      [
        'pending',
        'held',
        'running',
        'completing',
        'succeeded',
        'failed',
        'cancelled',
        'timeout',
        'out_of_memory',
        'node_fail',
        'preempted',
        'requeued',
        'unknown',
      ].sort(),
    )
  })

  it('treats exactly the endings as terminal; unknown and requeued are not', () => {
    expect([...TERMINAL_JOB_STATES].sort()).toEqual([...TERMINAL].sort())
    expect(isTerminalJobState('unknown')).toBe(false)
    expect(isTerminalJobState('requeued')).toBe(false)
    for (const state of JOB_STATES) expect(isActiveJobState(state)).toBe(!isTerminalJobState(state))
  })
})

describe('canTransition', () => {
  it.each(TERMINAL)('%s is final: it can only stay as it is', (from) => {
    for (const to of JOB_STATES) expect(canTransition(from, to)).toBe(to === from)
  })

  it('lets unknown move to any state', () => {
    for (const to of JOB_STATES) expect(canTransition('unknown', to)).toBe(true)
  })

  it('lets requeued move to any state', () => {
    for (const to of JOB_STATES) expect(canTransition('requeued', to)).toBe(true)
  })

  it('lets every non-terminal state reach every ending and unknown', () => {
    for (const from of JOB_STATES.filter((s) => !isTerminalJobState(s))) {
      for (const to of [...TERMINAL, 'unknown' as const]) expect(canTransition(from, to)).toBe(true)
    }
  })

  it.each([
    ['pending', 'running', true],
    ['pending', 'held', true],
    ['held', 'pending', true],
    ['running', 'completing', true],
    ['running', 'requeued', true],
    ['completing', 'running', false],
    ['completing', 'pending', false],
    ['completing', 'held', false],
    ['succeeded', 'running', false],
    ['failed', 'pending', false],
    ['cancelled', 'succeeded', false],
    ['timeout', 'requeued', false],
  ] as const)('%s → %s is %s', (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed)
  })

  it('allows staying in the same state (a repeated poll)', () => {
    for (const state of JOB_STATES) expect(canTransition(state, state)).toBe(true)
  })
})
