import { describe, expect, it } from 'vitest'
import {
  decidePbsFinalState,
  isPbsFinishedState,
  mapPbsState,
  PBS_FINISHED,
  PBS_JOB_STATES,
  PBSPRO_SPECIAL_EXIT_STATUSES,
  TORQUE_SPECIAL_EXIT_STATUSES,
} from '../../../adapters/pbs/pbs-states.js'
import { JOB_STATES } from '../../../src/core/job/job-state.js'

// PBS Pro RG Table 8-1 (job states) and Torque qstat(1) job_state column
const DOCUMENTED_PBSPRO_CODES = ['B', 'E', 'F', 'H', 'M', 'Q', 'R', 'S', 'T', 'U', 'W', 'X']
const DOCUMENTED_TORQUE_CODES = ['C', 'E', 'H', 'Q', 'R', 'T', 'W', 'S']
// OpenPBS src/include/job.h JOB_EXEC_* (negative values); Torque 6.1 "Job exit status"
const DOCUMENTED_PBSPRO_EXIT = [
  -1, -2, -3, -4, -5, -6, -7, -10, -11, -12, -13, -14, -15, -16, -17, -18, -19, -20, -21, -22, -23, -24, -25, -26, -27,
  -28, -29, -30,
]
const DOCUMENTED_TORQUE_EXIT = [-1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14]

describe('PBS state table', () => {
  it('maps every documented job_state letter of PBS Pro and Torque', () => {
    const documented = [...new Set([...DOCUMENTED_PBSPRO_CODES, ...DOCUMENTED_TORQUE_CODES])].sort()
    expect(Object.keys(PBS_JOB_STATES).sort()).toEqual(documented)
    for (const code of documented) {
      const meaning = PBS_JOB_STATES[code as keyof typeof PBS_JOB_STATES]
      if (meaning !== PBS_FINISHED) expect(JOB_STATES).toContain(meaning)
      expect(JOB_STATES).toContain(mapPbsState(code, { exitStatus: 0 }).state)
    }
  })

  it('gives the rows the meaning the brief and the docs give them', () => {
    expect(mapPbsState('Q').state).toBe('pending')
    expect(mapPbsState('H').state).toBe('held')
    expect(mapPbsState('R').state).toBe('running')
    expect(mapPbsState('E').state).toBe('completing')
    expect(mapPbsState('B').state).toBe('running')
    expect(mapPbsState('W').state).toBe('pending')
    expect(mapPbsState('S').state).toBe('running')
    expect(mapPbsState('U').state).toBe('running')
    expect(mapPbsState('T').state).toBe('pending')
    expect(mapPbsState('M').state).toBe('unknown')
    expect(['F', 'X', 'C'].every(isPbsFinishedState)).toBe(true)
    expect(isPbsFinishedState('R')).toBe(false)
    expect(isPbsFinishedState('__proto__')).toBe(false)
  })

  it('decides a finished job by its exit status, never by its letter', () => {
    for (const code of ['F', 'X', 'C']) {
      expect(mapPbsState(code, { exitStatus: 0 }).state).toBe('succeeded')
      expect(mapPbsState(code, { exitStatus: 1 }).state).toBe('failed')
    }
  })

  it('reads a held job that only waits for its dependencies as pending', () => {
    expect(mapPbsState('H', { holdTypes: 's', hasDependency: true }).state).toBe('pending')
    expect(mapPbsState('H', { holdTypes: 's', hasDependency: false }).state).toBe('held')
    expect(mapPbsState('H', { holdTypes: 'us', hasDependency: true }).state).toBe('held')
    expect(mapPbsState('H', { holdTypes: 'u' }).state).toBe('held')
  })

  it('returns unknown for letters it does not know, never throws', () => {
    for (const text of ['Z', '', 'constructor', '__proto__', 'RUNNING']) {
      const decision = mapPbsState(text)
      expect(decision.state).toBe('unknown')
      expect(decision.reason).toContain('unknown PBS job state')
    }
    expect(mapPbsState(' r ').state).toBe('running')
  })
})

describe('decidePbsFinalState', () => {
  it('covers every documented special exit status of both tables with an rpo state', () => {
    expect(Object.keys(PBSPRO_SPECIAL_EXIT_STATUSES).map(Number).sort()).toEqual([...DOCUMENTED_PBSPRO_EXIT].sort())
    expect(Object.keys(TORQUE_SPECIAL_EXIT_STATUSES).map(Number).sort()).toEqual([...DOCUMENTED_TORQUE_EXIT].sort())
    for (const code of DOCUMENTED_PBSPRO_EXIT) {
      const decision = decidePbsFinalState(code, { family: 'pbspro' })
      expect(JOB_STATES).toContain(decision.state)
      expect(decision.reason).toMatch(new RegExp(`^JOB_EXEC_\\w+ \\(${code}\\)`))
    }
    for (const code of DOCUMENTED_TORQUE_EXIT) {
      expect(JOB_STATES).toContain(decidePbsFinalState(code, { family: 'torque' }).state)
    }
  })

  it('maps the limit kills to timeout and out_of_memory', () => {
    expect(decidePbsFinalState(-29, { family: 'pbspro' })).toMatchObject({ state: 'timeout' })
    expect(decidePbsFinalState(-28, { family: 'pbspro' })).toMatchObject({ state: 'timeout' })
    expect(decidePbsFinalState(-27, { family: 'pbspro' })).toMatchObject({ state: 'out_of_memory' })
    expect(decidePbsFinalState(-26, { family: 'pbspro' })).toMatchObject({ state: 'out_of_memory' })
    expect(decidePbsFinalState(-11, { family: 'torque' })).toMatchObject({ state: 'timeout' })
    expect(decidePbsFinalState(-10, { family: 'torque' })).toMatchObject({ state: 'out_of_memory' })
    // before Torque 6, -10 was any limit: a used-up walltime says which
    expect(decidePbsFinalState(-10, { family: 'torque', walltimeExceeded: true })).toMatchObject({ state: 'timeout' })
  })

  it('reads the same code differently per family: -11 is a rerun on PBS Pro, a walltime kill on Torque', () => {
    expect(decidePbsFinalState(-11, { family: 'pbspro' }).reason).toContain('JOB_EXEC_RERUN')
    expect(decidePbsFinalState(-11, { family: 'pbspro' }).state).toBe('node_fail')
    expect(decidePbsFinalState(-11, { family: 'torque' }).reason).toContain('JOB_EXEC_OVERLIMIT_WT')
    expect(decidePbsFinalState(-12, { family: 'pbspro' }).state).toBe('preempted')
    expect(decidePbsFinalState(-12, { family: 'torque' }).state).toBe('timeout')
  })

  it('reads 256 + n as killed by signal n', () => {
    expect(decidePbsFinalState(271)).toEqual({ state: 'failed', signal: 'SIGTERM', reason: 'killed by SIGTERM' })
    expect(decidePbsFinalState(265).signal).toBe('SIGKILL')
    expect(decidePbsFinalState(271, { walltimeExceeded: true }).state).toBe('timeout')
    expect(decidePbsFinalState(271, { substate: 91 }).state).toBe('cancelled')
    expect(decidePbsFinalState(256 + 40).signal).toBe('SIG40')
  })

  it('reads script exit values as failed, and 128+n after a used-up walltime as timeout', () => {
    expect(decidePbsFinalState(0)).toEqual({ state: 'succeeded', signal: null, reason: null })
    expect(decidePbsFinalState(3).state).toBe('failed')
    expect(decidePbsFinalState(255).state).toBe('failed')
    expect(decidePbsFinalState(143).state).toBe('failed')
    expect(decidePbsFinalState(143, { walltimeExceeded: true }).state).toBe('timeout')
  })

  it('keeps an undocumented code as failed with the raw value', () => {
    expect(decidePbsFinalState(-99, { family: 'pbspro' })).toEqual({
      state: 'failed',
      signal: null,
      reason: 'undocumented pbspro exit status -99',
    })
    expect(decidePbsFinalState(-15, { family: 'torque' }).reason).toBe('undocumented torque exit status -15')
  })

  it('does not call a finished job without an exit status done', () => {
    expect(decidePbsFinalState(null).state).toBe('unknown')
    expect(decidePbsFinalState(null, { substate: 92 }).state).toBe('unknown')
    expect(decidePbsFinalState(null, { substate: 91 }).state).toBe('cancelled')
  })
})
