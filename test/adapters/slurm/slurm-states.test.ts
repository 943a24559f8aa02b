import { describe, expect, it } from 'vitest'
import {
  mapSlurmState,
  normalizeSlurmStateName,
  SLURM_COMPACT_JOB_STATES,
  SLURM_JOB_STATES,
} from '../../../adapters/slurm/slurm-states.js'
import { JOB_STATES } from '../../../src/core/job/job-state.js'

// the JOB STATE CODES sections of https://slurm.schedmd.com/squeue.html and sacct.html (Slurm 24.11)
const DOCUMENTED_LONG_NAMES = [
  'BOOT_FAIL',
  'CANCELLED',
  'COMPLETED',
  'CONFIGURING',
  'COMPLETING',
  'DEADLINE',
  'FAILED',
  'NODE_FAIL',
  'OUT_OF_MEMORY',
  'PENDING',
  'PREEMPTED',
  'RUNNING',
  'RESV_DEL_HOLD',
  'REQUEUE_FED',
  'REQUEUE_HOLD',
  'REQUEUED',
  'RESIZING',
  'REVOKED',
  'SIGNALING',
  'SPECIAL_EXIT',
  'STAGE_OUT',
  'STOPPED',
  'SUSPENDED',
  'TIMEOUT',
]
const DOCUMENTED_COMPACT_CODES = [
  'BF',
  'CA',
  'CD',
  'CF',
  'CG',
  'DL',
  'F',
  'NF',
  'OOM',
  'PD',
  'PR',
  'R',
  'RD',
  'RF',
  'RH',
  'RQ',
  'RS',
  'RV',
  'SE',
  'SI',
  'SO',
  'ST',
  'S',
  'TO',
]

describe('Slurm state tables', () => {
  it('map every documented long state name to an rpo state', () => {
    for (const name of DOCUMENTED_LONG_NAMES) {
      expect(Object.hasOwn(SLURM_JOB_STATES, name), name).toBe(true)
      expect(JOB_STATES).toContain(mapSlurmState(name))
    }
    expect(Object.keys(SLURM_JOB_STATES).sort()).toEqual([...DOCUMENTED_LONG_NAMES].sort())
  })

  it('map every documented compact code to the long name it abbreviates', () => {
    expect(Object.keys(SLURM_COMPACT_JOB_STATES).sort()).toEqual([...DOCUMENTED_COMPACT_CODES].sort())
    for (const code of DOCUMENTED_COMPACT_CODES) {
      expect(mapSlurmState(code)).toBe(SLURM_JOB_STATES[normalizeSlurmStateName(code)!])
    }
  })

  it('give the obvious rows their obvious meaning', () => {
    expect(mapSlurmState('COMPLETED')).toBe('succeeded')
    expect(mapSlurmState('CD')).toBe('succeeded')
    expect(mapSlurmState('FAILED')).toBe('failed')
    expect(mapSlurmState('TIMEOUT')).toBe('timeout')
    expect(mapSlurmState('OUT_OF_MEMORY')).toBe('out_of_memory')
    expect(mapSlurmState('OOM')).toBe('out_of_memory')
    expect(mapSlurmState('NODE_FAIL')).toBe('node_fail')
    expect(mapSlurmState('PREEMPTED')).toBe('preempted')
    expect(mapSlurmState('REQUEUED')).toBe('requeued')
    expect(mapSlurmState('CG')).toBe('completing')
  })
})

describe('mapSlurmState', () => {
  it('reads sacct "CANCELLED by <uid>" as cancelled', () => {
    expect(mapSlurmState('CANCELLED by 0')).toBe('cancelled')
    expect(mapSlurmState('CANCELLED by 10304007')).toBe('cancelled')
  })

  it('reads names cut short by a fixed-width column', () => {
    expect(mapSlurmState('CANCELLED+')).toBe('cancelled')
    expect(mapSlurmState('OUT_OF_ME+')).toBe('out_of_memory')
    expect(mapSlurmState('REQUEUE_H+')).toBe('held')
    // "RE+" could be several states: not guessed
    expect(mapSlurmState('RE+')).toBe('unknown')
  })

  it('tells a held pending job from a queued one by its reason', () => {
    expect(mapSlurmState('PENDING', 'JobHeldUser')).toBe('held')
    expect(mapSlurmState('PD', 'JobHeldAdmin')).toBe('held')
    expect(mapSlurmState('PENDING', '(JobHeldUser)')).toBe('held')
    expect(mapSlurmState('PENDING', 'Dependency')).toBe('pending')
    expect(mapSlurmState('PENDING', null)).toBe('pending')
    // a stale hold reason on a finished job does not make it held
    expect(mapSlurmState('COMPLETED', 'JobHeldUser')).toBe('succeeded')
  })

  it('returns unknown for states it does not know, never throws', () => {
    expect(mapSlurmState('POWER_UP_NODE')).toBe('unknown')
    expect(mapSlurmState('')).toBe('unknown')
    expect(mapSlurmState('constructor')).toBe('unknown')
    expect(mapSlurmState('__proto__')).toBe('unknown')
  })

  it('accepts lower case and surrounding spaces', () => {
    expect(mapSlurmState('  running ')).toBe('running')
  })
})
