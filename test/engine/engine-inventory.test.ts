// The cluster's nodes as validation sees them: read once, served from the reading for
// INVENTORY_MAX_AGE_MS, read again after it (a daemon outlives node changes), and kept, with a
// tick error, when reading again fails. Real engine on the simulated cluster and virtual clock.
import { describe, expect, it, vi } from 'vitest'
import { TransportError } from '../../src/core/errors.js'
import { INVENTORY_MAX_AGE_MS } from '../../src/engine/engine.js'
import { simEngine } from '../support/sim-engine.js'

const START = Date.parse('2026-12-01T08:00:00Z')

describe('Engine.inventory', () => {
  it('serves one reading for ten minutes, then reads the nodes again; a failed read keeps the last', async () => {
    const { clock, engine, close } = await simEngine({
      start: START,
      nodes: [{ name: 'g1', cpus: 32, memoryMb: 256_000, gpus: [{ type: 'a100', count: 4 }] }],
    })
    try {
      const read = vi.spyOn(engine.adapter, 'inventory')
      const errors: string[] = []
      engine.events.on('tick:error', (e) => errors.push(`${e.step}: ${e.cause.message}`))

      const first = await engine.inventory()
      expect(first.nodes.map((n) => n.name)).toEqual(['g1'])
      clock.advanceBy(INVENTORY_MAX_AGE_MS - 1)
      await engine.inventory()
      expect(read).toHaveBeenCalledTimes(1)

      clock.advanceBy(1)
      await engine.inventory()
      expect(read).toHaveBeenCalledTimes(2)
      expect(errors).toEqual([])

      read.mockRejectedValueOnce(new TransportError('ssh-timeout', 'cannot reach login1:22'))
      clock.advanceBy(INVENTORY_MAX_AGE_MS)
      expect((await engine.inventory()).nodes.map((n) => n.name)).toEqual(['g1'])
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatch(/^inventory: .*cannot reach login1:22/)
      // the kept reading serves its ten minutes again, rather than a read at every validation
      await engine.inventory()
      expect(read).toHaveBeenCalledTimes(3)
    } finally {
      await close()
    }
  })

  it('fails when the first reading cannot be had: there is nothing to validate against', async () => {
    const { engine, close } = await simEngine({
      start: START,
      nodes: [{ name: 'g1', cpus: 32, memoryMb: 256_000 }],
    })
    try {
      vi.spyOn(engine.adapter, 'inventory').mockRejectedValueOnce(new TransportError('ssh-timeout', 'no route'))
      await expect(engine.inventory()).rejects.toThrow('no route')
    } finally {
      await close()
    }
  })
})
