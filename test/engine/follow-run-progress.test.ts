// The progress callback of followRun reads the store too (`rpo run` prints a status line after each
// tick): when that read fails, the failure is followRun's, handled like a tick's — a read-only store
// ends `rpo run` with its message and exit 3, never as an unhandled rejection with a stack trace.
import { describe, expect, it } from 'vitest'
import { StoreError } from '../../src/core/errors.js'
import type { Engine, TickResult } from '../../src/engine/engine.js'
import { followRun } from '../../src/engine/follow-run.js'

function engineTicking(states: TickResult['state'][]): Engine {
  let ticks = 0
  return {
    adapter: {},
    async tick(runId: string): Promise<TickResult> {
      const state = states[Math.min(ticks++, states.length - 1)] ?? 'running'
      return { runId, state, submitted: 0, changes: 0, schedulerCommands: 0 }
    },
  } as unknown as Engine
}

describe('followRun with a progress callback that reads the store', () => {
  it('rejects with the callback’s error when the store cannot be read', async () => {
    const readOnly = new StoreError('store-read-only', 'the store is read-only: /x/rpo.sqlite')
    const followed = followRun(engineTicking(['succeeded']), 'run-1', {
      pollIntervalMs: 1,
      onTick: async () => {
        throw readOnly
      },
    })
    await expect(followed).rejects.toBe(readOnly)
  })

  it('waits out a locked store in the callback like a locked store in the tick', async () => {
    let calls = 0
    const transient: Error[] = []
    const state = await followRun(engineTicking(['running', 'succeeded']), 'run-1', {
      pollIntervalMs: 1,
      onTick: async () => {
        calls++
        if (calls === 1) throw new StoreError('store-locked', 'locked')
      },
      onTransientError: (error) => transient.push(error),
    })
    expect(state).toBe('succeeded')
    expect(transient.map((e) => (e as StoreError).code)).toEqual(['store-locked'])
  })
})
