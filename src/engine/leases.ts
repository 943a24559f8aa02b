/**
 * Named store leases — a run's tick (`run:<id>`), a project's budget decision (`budget:<project>`),
 * the daemons' `sync` — claimed on the engine's clock. Every holder is named `<host>:<pid>:<tag>`,
 * so a lease left by an rpo process on this machine that is gone (killed, crashed) is recognised and
 * taken over at once: it would never be renewed, and waiting for it to expire blocks everyone else.
 */
import { randomUUID } from 'node:crypto'
import os from 'node:os'
import { StoreError } from '../core/errors.js'
import type { RunStore } from '../store/run-store.js'

export type LeaseStore = Pick<RunStore, 'acquireLease' | 'leaseHolder' | 'releaseLease'>

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
   * Claim (or renew) `name` for `leaseMs`, taking it over from a dead local holder.
   * Returns null when claimed, else who holds it.
   */
  async take(name: string, leaseMs: number): Promise<string | null> {
    const now = this.#clock()
    const claim = () => this.#store.acquireLease(name, this.owner, iso(now), iso(now + leaseMs))
    if (await claim()) return this.#claimed(name)
    const holder = await this.#store.leaseHolder(name, iso(now))
    if (holder !== null && isDeadLocalOwner(holder)) await this.#store.releaseLease(name, holder)
    if (await claim()) return this.#claimed(name)
    return holder ?? 'unknown'
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

  async release(name: string): Promise<void> {
    this.#held.delete(name)
    await this.#store.releaseLease(name, this.owner)
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
