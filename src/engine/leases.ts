/**
 * Every named store lease rpo takes, on the engine's clock, under one takeover rule: a lease is free
 * when it has expired, or when its holder is a process on this host that no longer exists (killed,
 * crashed: it would never renew it, and waiting for it to expire blocks everyone else). Holders are
 * named `<host>:<pid>:<tag>`.
 *
 * The names: `cluster:<name>` (one cluster tick at a time per cluster: short, renewed by a heartbeat
 * while a round runs, so a holder killed on another host frees it within one lease period),
 * `run:<id>` (a run whose tasks span clusters, for the round that plans it), `budget:<project>`
 * (admission and the plan's write as one step across processes).
 */
import { randomUUID } from 'node:crypto'
import os from 'node:os'
import { StoreError } from '../core/errors.js'
import type { LeaseRows } from '../store/lease-rows.js'

/** What Leases needs of a store: its lease rows (a RunStore has them). */
export interface LeaseStore {
  readonly leases: Pick<LeaseRows, 'acquire' | 'holder' | 'release'> & Partial<Pick<LeaseRows, 'record'>>
}

/** A cluster tick's lease: short, so a killed holder's clusters are taken over within this long. */
export const CLUSTER_LEASE_MS = 20_000

export const clusterLease = (cluster: string) => `cluster:${cluster}`
export const runLease = (runId: string) => `run:${runId}`
export const budgetLease = (project: string) => `budget:${project}`

/** A holder name for this process; `tag` tells its purposes apart (a random one by default). */
export function localOwner(tag: string = randomUUID().slice(0, 8)): string {
  return `${os.hostname()}:${process.pid}:${tag}`
}

/** A holder on this machine whose process no longer exists. Holders elsewhere are never judged dead. */
export function isDeadLocalOwner(owner: string): boolean {
  const [host, pid] = owner.split(':')
  if (host !== os.hostname() || !pid || !/^\d+$/.test(pid)) return false
  try {
    process.kill(Number(pid), 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

/** The takeover rule, alone: may `now` claim a lease held by `holder` until `expiresAt`? */
export function leaseIsFree(
  lease: { readonly owner: string; readonly expiresAt: string } | null,
  now: number,
  isDead: (owner: string) => boolean = isDeadLocalOwner,
): boolean {
  return lease === null || Date.parse(lease.expiresAt) <= now || isDead(lease.owner)
}

export class Leases {
  readonly owner: string
  readonly #store: LeaseStore
  readonly #clock: () => number
  readonly #held = new Set<string>()

  constructor(store: LeaseStore, options: { owner?: string; clock?: () => number } = {}) {
    this.#store = store
    this.owner = options.owner ?? localOwner()
    this.#clock = options.clock ?? Date.now
  }

  /**
   * Claim (or renew) `name` for `leaseMs`, taking it over when the takeover rule says it is free.
   * Returns null when claimed, else who holds it.
   */
  async take(name: string, leaseMs: number): Promise<string | null> {
    const now = this.#clock()
    const claim = () => this.#store.leases.acquire(name, this.owner, iso(now), iso(now + leaseMs))
    if (await claim()) return this.#claimed(name)
    const holder = await this.#store.leases.holder(name, iso(now))
    // expired leases are claimed by LeaseRows.acquire itself; what is left to judge is a dead holder
    if (holder !== null && isDeadLocalOwner(holder)) await this.#store.leases.release(name, holder)
    if (await claim()) return this.#claimed(name)
    return holder ?? 'unknown'
  }

  /** When `name`'s current lease expires by this clock (ms), or null when nobody holds it. */
  async expiresAt(name: string): Promise<number | null> {
    const record = await this.#store.leases.record?.(name)
    if (!record) return null
    const at = Date.parse(record.expiresAt)
    return at > this.#clock() ? at : null
  }

  /**
   * Claim `name`, waiting while a live holder has it. The wait is in real time whatever the clock:
   * it is another process's work being waited for.
   */
  async wait(
    name: string,
    leaseMs: number,
    options: { timeoutMs: number; busy: (holder: string) => string },
  ): Promise<void> {
    const deadline = Date.now() + options.timeoutMs
    for (;;) {
      const holder = await this.take(name, leaseMs)
      if (holder === null) return
      if (Date.now() > deadline) throw new StoreError('lease-held', options.busy(holder))
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  /**
   * Keep renewing `names` every third of `leaseMs` (real time) until the returned stop is called:
   * a long round keeps its claims, and a holder that dies stops renewing them.
   */
  heartbeat(names: () => readonly string[], leaseMs: number): () => void {
    const timer = setInterval(
      () => {
        for (const name of names()) void this.take(name, leaseMs).catch(() => undefined)
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    )
    timer.unref()
    return () => clearInterval(timer)
  }

  /**
   * Renew `names` now and say whether they are still ours: null when all are, else who holds the
   * first one lost. A holder that was paused (SIGSTOP, a stalled VM, a long GC) past its lease may
   * have been taken over meanwhile; a round asks this before it writes or sends anything, so a
   * resumed holder stands down instead of acting beside its successor.
   */
  async confirm(names: readonly string[], leaseMs: number): Promise<string | null> {
    for (const name of names) {
      const holder = await this.take(name, leaseMs)
      if (holder !== null) {
        this.#held.delete(name)
        return holder
      }
    }
    return null
  }

  holds(name: string): boolean {
    return this.#held.has(name)
  }

  async release(name: string): Promise<void> {
    this.#held.delete(name)
    await this.#store.leases.release(name, this.owner)
  }

  /** Give up every lease this holder took (best effort: closing must not fail on a store hiccup). */
  async releaseAll(): Promise<void> {
    for (const name of [...this.#held]) await this.release(name).catch(() => undefined)
  }

  #claimed(name: string): null {
    this.#held.add(name)
    return null
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}
