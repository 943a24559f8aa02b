// The one takeover rule of every rpo lease, on an injected clock and a real SQLite store: a lease is
// free when it has expired or when its holder is a process on this host that no longer exists;
// a live holder — here or on another host — keeps it until it expires. And what it means for a
// cluster tick: a cluster held by a live process is left to it, and taken over once its lease ends.
import { spawnSync } from 'node:child_process'
import os from 'node:os'
import { afterEach, describe, expect, it } from 'vitest'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { CLUSTER_LEASE_MS, clusterLease, Leases, leaseIsFree } from '../../src/engine/leases.js'
import { openDatabase } from '../../src/store/open-store.js'
import { RunStore } from '../../src/store/run-store.js'
import { simEngine } from '../support/sim-engine.js'

const START = Date.parse('2026-11-02T08:00:00Z')
const closing: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closing.splice(0)) await close()
})

async function store(): Promise<RunStore> {
  const s = new RunStore(await openDatabase({ kind: 'sqlite', path: ':memory:', busyTimeoutMs: 1000 }))
  closing.push(() => s.close())
  return s
}

/** A pid that existed a moment ago and does not any more. */
function deadPid(): number {
  const child = spawnSync('true')
  return child.pid as number
}

const here = os.hostname()
const iso = (ms: number) => new Date(ms).toISOString()

describe('the lease takeover rule', () => {
  it('is free when absent, expired, or held by a dead process of this host', () => {
    const live = `${here}:${process.pid}:x`
    const dead = `${here}:${deadPid()}:x`
    expect(leaseIsFree(null, START)).toBe(true)
    expect(leaseIsFree({ owner: live, expiresAt: iso(START + 1) }, START)).toBe(false)
    expect(leaseIsFree({ owner: live, expiresAt: iso(START) }, START)).toBe(true)
    expect(leaseIsFree({ owner: dead, expiresAt: iso(START + 60_000) }, START)).toBe(true)
    // a process on another host is never judged dead from here: it is waited out
    expect(leaseIsFree({ owner: `elsewhere.example:${deadPid()}:x`, expiresAt: iso(START + 1) }, START)).toBe(false)
  })

  it('keeps a live holder elsewhere until its lease expires on the clock, then hands it over', async () => {
    const s = await store()
    let now = START
    const other = new Leases(s, { owner: 'elsewhere.example:1:daemon', clock: () => now })
    const mine = new Leases(s, { clock: () => now })
    expect(await other.take('cluster:gpu', CLUSTER_LEASE_MS)).toBeNull()
    now += CLUSTER_LEASE_MS - 1
    expect(await mine.take('cluster:gpu', CLUSTER_LEASE_MS)).toBe('elsewhere.example:1:daemon')
    expect(await mine.expiresAt('cluster:gpu')).toBe(START + CLUSTER_LEASE_MS)
    now += 1
    expect(await mine.take('cluster:gpu', CLUSTER_LEASE_MS)).toBeNull()
    expect(await other.take('cluster:gpu', CLUSTER_LEASE_MS)).toBe(mine.owner)
  })

  it('takes over at once from a dead holder on this host, and never from a live one', async () => {
    const s = await store()
    const now = START
    const dead = new Leases(s, { owner: `${here}:${deadPid()}:daemon`, clock: () => now })
    const live = new Leases(s, { owner: `${here}:${process.pid}:other`, clock: () => now })
    const mine = new Leases(s, { clock: () => now })
    expect(await dead.take('cluster:a', CLUSTER_LEASE_MS)).toBeNull()
    expect(await live.take('cluster:b', CLUSTER_LEASE_MS)).toBeNull()
    expect(await mine.take('cluster:a', CLUSTER_LEASE_MS)).toBeNull()
    expect(await mine.take('cluster:b', CLUSTER_LEASE_MS)).toBe(live.owner)
  })
})

describe('a cluster tick and the cluster lease', () => {
  it('leaves a cluster held by a live process to it, and ticks it once that lease has expired', async () => {
    const sim = await simEngine({ start: START, nodes: [{ name: 'c1', cpus: 8, memoryMb: 16_000 }] })
    closing.push(() => sim.close())
    const { clock, cluster, store: s, engine } = sim
    const runId = (await engine.startRun(loadPipelineText('/sim/p.yaml', 'name: p\ntasks:\n  a: { command: x }\n'))).run
      .id
    const daemon = new Leases(s, { owner: 'elsewhere.example:7:daemon', clock: () => clock.now() })
    expect(await daemon.take(clusterLease('sim'), CLUSTER_LEASE_MS)).toBeNull()
    const held = await engine.tickCluster()
    expect(held).toMatchObject({ heldBy: 'elsewhere.example:7:daemon', runs: [], submitted: 0 })
    // not an error for a follower: the run's state, as the holder left it
    expect(await engine.tick(runId)).toMatchObject({ runId, state: 'running', submitted: 0 })
    cluster.advanceTo(START + CLUSTER_LEASE_MS)
    const taken = await engine.tickCluster()
    expect(taken).toMatchObject({ heldBy: null, submitted: 1 })
    expect(await daemon.take(clusterLease('sim'), CLUSTER_LEASE_MS)).toBe(engine.owner)
  })
})

describe('a holder paused past its lease', () => {
  it('stands down when it resumes: the successor sends the work, once', async () => {
    const sim = await simEngine({ start: START, nodes: [{ name: 'c1', cpus: 8, memoryMb: 16_000 }] })
    closing.push(() => sim.close())
    const { engine, store: s, cluster } = sim
    const submits: string[] = []
    const adapter = engine.adapter
    const submit = adapter.submit.bind(adapter)
    adapter.submit = async (jobs) => {
      submits.push(...jobs.map((j) => j.submissionKey))
      return submit(jobs)
    }
    await engine.startRun(loadPipelineText('/sim/p.yaml', 'name: p\ntasks:\n  a: { command: x }\n'))
    const successor = new Leases(s, { owner: 'elsewhere.example:9:daemon', clock: () => sim.clock.now() })
    // the holder is frozen while it loads its round, for longer than its lease
    const load = s.loadSnapshot.bind(s)
    let paused = false
    s.loadSnapshot = async (runId) => {
      if (!paused) {
        paused = true
        cluster.advanceTo(START + CLUSTER_LEASE_MS + 1)
        expect(await successor.take(clusterLease('sim'), CLUSTER_LEASE_MS)).toBeNull()
      }
      return load(runId)
    }
    const errors: string[] = []
    engine.events.on('tick:error', (e) => errors.push(e.cause.code))
    const resumed = await engine.tickCluster()
    expect(resumed).toMatchObject({ heldBy: 'elsewhere.example:9:daemon', submitted: 0, runs: [] })
    expect(submits).toEqual([])
    expect(errors).toEqual(['lease-lost'])
    // and the lease stays the successor's
    expect(await engine.tickCluster()).toMatchObject({ heldBy: 'elsewhere.example:9:daemon' })
  })
})
