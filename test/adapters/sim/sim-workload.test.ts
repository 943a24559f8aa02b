import { describe, expect, it } from 'vitest'
import { normalizeSignal, resolveWorkload, workloadFromEnv } from '../../../adapters/sim/sim-workload.js'
import { submission } from './sim-submissions.js'

const fromEnv = (env: Record<string, string>, attempt = 1) => {
  const job = submission('k', { env, attempt })
  return resolveWorkload(job, workloadFromEnv(job))
}

describe('the default workload model (environment)', () => {
  it('reads duration and exit code, with defaults', () => {
    expect(fromEnv({})).toMatchObject({ durationSeconds: 60, exitCode: 0, checkpointEverySeconds: null })
    expect(fromEnv({ RPO_SIM_DURATION: '2h', RPO_SIM_EXIT: '3' })).toMatchObject({ durationSeconds: 7200, exitCode: 3 })
    expect(fromEnv({ RPO_SIM_DURATION: '01:30:00' }).durationSeconds).toBe(5400)
  })

  it('crashes only on the attempts it is told to', () => {
    const env = { RPO_SIM_FAIL_AT: '30', RPO_SIM_FAIL_ATTEMPTS: '2' }
    expect(fromEnv(env, 1).failAtSeconds).toBe(30)
    expect(fromEnv(env, 2).failAtSeconds).toBe(30)
    expect(fromEnv(env, 3).failAtSeconds).toBeNull()
  })

  it('speaks the checkpoint protocol when rpo gives it a checkpoint directory', () => {
    const w = fromEnv({
      RPO_CHECKPOINT_DIR: '/runs/r/train/ckpt',
      RPO_CHECKPOINT_EVERY: '500steps,10m',
      RPO_CHECKPOINT_SIGNAL: 'SIGUSR1',
      RPO_CHECKPOINT_LEAD_SECONDS: '300',
      RPO_RESUME: '1',
    })
    expect(w).toMatchObject({
      checkpointEverySeconds: 600,
      checkpointOnSignal: true,
      checkpointSignal: 'USR1',
      signalLeadSeconds: 300,
      resume: true,
      requeueable: true,
      checkpointKey: '/runs/r/train/ckpt',
    })
    // protocol default: every 600 s; `never` still answers the signal
    expect(fromEnv({ RPO_CHECKPOINT_DIR: '/c' }).checkpointEverySeconds).toBe(600)
    expect(fromEnv({ RPO_CHECKPOINT_DIR: '/c', RPO_CHECKPOINT_EVERY: 'never' })).toMatchObject({
      checkpointEverySeconds: null,
      checkpointOnSignal: true,
    })
  })

  it('lets RPO_SIM_* override the protocol and defaults', () => {
    expect(
      fromEnv({ RPO_SIM_CHECKPOINT_EVERY: '30s', RPO_SIM_CHECKPOINT_ON_SIGNAL: '0', RPO_SIM_REQUEUE: '0' }),
    ).toMatchObject({
      checkpointEverySeconds: 30,
      checkpointOnSignal: false,
      requeueable: false,
      checkpointKey: 'run1/k',
    })
    expect(fromEnv({ RPO_SIM_CHECKPOINT_SAVE: '5' }).checkpointSaveSeconds).toBe(5)
  })

  it('refuses values it cannot read, naming the variable', () => {
    expect(() => fromEnv({ RPO_SIM_DURATION: 'soon' })).toThrow(/RPO_SIM_DURATION="soon" is not a duration/)
    expect(() => fromEnv({ RPO_SIM_EXIT: '-1' })).toThrow(/RPO_SIM_EXIT/)
    expect(() => fromEnv({ RPO_SIM_REQUEUE: 'maybe' })).toThrow(/RPO_SIM_REQUEUE/)
    expect(() => fromEnv({ RPO_SIM_EXIT: '300' })).toThrow(expect.objectContaining({ code: 'spec-invalid' }))
  })

  it('normalizes signal names and numbers', () => {
    expect(['SIGUSR2', 'usr2', '12', ' USR2 '].map(normalizeSignal)).toEqual(['USR2', 'USR2', 'USR2', 'USR2'])
    expect(normalizeSignal('SIGTERM')).toBe('TERM')
  })
})
