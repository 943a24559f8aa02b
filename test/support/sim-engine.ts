/**
 * The real engine and SQLite store on the simulated cluster, on one virtual clock: what the
 * scenario tests drive tick by tick (see adapters/sim and test/budget/contention-sim.test.ts).
 */
import { SimAdapter } from '../../adapters/sim/sim-adapter.js'
import { SimClock } from '../../adapters/sim/sim-clock.js'
import { SimCluster, type SimClusterOptions } from '../../adapters/sim/sim-cluster.js'
import type { BudgetGate } from '../../src/budget/budget-service.js'
import { Engine } from '../../src/engine/engine.js'
import { openDatabase } from '../../src/store/open-store.js'
import { RunStore } from '../../src/store/run-store.js'

export interface SimEngineOptions extends Omit<SimClusterOptions, 'clock'> {
  readonly start: number
  readonly signalsBeforeLimit?: boolean
  /** Built with the store, e.g. `(store) => new BudgetService(config, store)`. */
  readonly budget?: (store: RunStore) => BudgetGate
  /** A SimAdapter subclass that misbehaves on purpose (a dropped connection, accounting down). */
  readonly adapter?: (cluster: SimCluster) => SimAdapter
}

export interface SimEngine {
  readonly clock: SimClock
  readonly cluster: SimCluster
  readonly store: RunStore
  readonly engine: Engine
  close(): Promise<void>
}

export async function simEngine(options: SimEngineOptions): Promise<SimEngine> {
  const { start, signalsBeforeLimit, budget, adapter, ...clusterOptions } = options
  const clock = new SimClock(start)
  const cluster = new SimCluster({ ...clusterOptions, clock })
  const store = new RunStore(await openDatabase({ kind: 'sqlite', path: ':memory:', busyTimeoutMs: 1000 }))
  const simAdapter =
    adapter?.(cluster) ??
    new SimAdapter({ cluster, ...(signalsBeforeLimit === undefined ? {} : { signalsBeforeLimit }) })
  const engine = new Engine({
    store,
    adapter: simAdapter,
    commands: simAdapter,
    changes: simAdapter,
    clusterName: 'sim',
    jobsRoot: '/sim/jobs',
    runsRoot: '/sim/runs',
    readFile: async () => null,
    capacity: null,
    clock: () => clock.now(),
    ...(budget ? { budget: budget(store) } : {}),
  })
  return {
    clock,
    cluster,
    store,
    engine,
    async close() {
      await engine.close()
      await store.close()
    },
  }
}
