/**
 * `npm run bench -- sim-scaling`: does rpo + the simulated cluster scale linearly with nodes? One
 * fixed workload — a backlog of independent GPU tasks with seeded durations and sizes — goes through
 * the real engine and SQLite store, ticked by `syncOnce(app)` every few virtual minutes, on 1, 8, 32
 * and 128 nodes. Throughput is what rpo recorded as succeeded over a fixed virtual window in which
 * even the largest cluster never runs out of backlog (so the backlog's tail, which no scheduler can
 * spread, does not count), and its deviation from linear is throughput(n) / (n × throughput(1)) − 1.
 */
import { gpuUtilization } from '../adapters/sim/sim-metrics.js'
import type { SimNodeSpec } from '../adapters/sim/sim-placement.js'
import type { SimWorkloadModel } from '../adapters/sim/sim-workload.js'
import { loadPipelineText } from '../src/config/load-pipeline.js'
import { syncOnce } from '../src/sync/sync-runs.js'
import { createSimApp, rssMb, seededUnit } from './sim-harness.js'

const START = Date.parse('2026-06-01T00:00:00Z')
const MINUTE = 60_000
const HOUR = 60 * MINUTE
const SEED = 11
/** RPO_SIM_SCALING_SIZES=128 runs one size (profiling). */
const SIZES = (process.env.RPO_SIM_SCALING_SIZES ?? '1,8,32,128').split(',').map(Number)
const GPUS_PER_NODE = 8
/** The measured window and the sync cadence, virtual. */
const WINDOW_MS = 6 * HOUR
const TICK_MS = 5 * MINUTE
/** Tasks of 20–60 min on 1 GPU (40 min on average): 128 nodes finish ~9,200 in the window. */
const TASKS = 11_000
const node = (i: number): SimNodeSpec => ({
  name: `g${String(i).padStart(3, '0')}`,
  cpus: 64,
  memoryMb: 1_024_000,
  gpus: [{ type: 'a100', count: GPUS_PER_NODE }],
})

const range = (n: number) => Array.from({ length: n }, (_, i) => i).join(',')

const PIPELINE = `
name: sweep
defaults:
  resources: { time: 2h }
tasks:
  a:
    command: train.sh --seed {{params.i}}
    matrix: { i: [${range(TASKS / 2)}] }
    resources: { cpus: 8, memory: 100G, gpus: { count: 1, type: a100 } }
  b:
    command: train.sh --seed {{params.i}}
    matrix: { i: [${range(TASKS / 2)}] }
    resources: { cpus: 8, memory: 100G, gpus: { count: 1, type: a100 } }
`

/**
 * The same task has the same duration on every cluster size. Durations follow a seeded golden-ratio
 * sequence over the task's index rather than independent draws: every stretch of the queue then has
 * the same mix of short and long tasks, so the ~70 tasks one node finishes are not a luckier or
 * unluckier sample than the ~9,000 that 128 nodes finish (independent draws would put ±3 % of noise
 * into the one-node baseline alone).
 */
const workload: SimWorkloadModel = (job) => {
  // two sweeps of TASKS / 2 (rpo's limit per task is 10,000): a.N and b.N
  const index = Number(job.taskId.slice(2)) + (job.taskId.startsWith('b.') ? TASKS / 2 : 0)
  const unit = (seededUnit(SEED, 'offset') + index * GOLDEN) % 1
  return { durationSeconds: Math.round(1200 + 2400 * unit) }
}
const GOLDEN = (Math.sqrt(5) - 1) / 2

interface SizeResult {
  readonly nodes: number
  readonly succeeded: number
  readonly tasksPerHour: number
  readonly wallSeconds: number
  readonly tickMsMedian: number
  readonly gpuBusy: number
  readonly backlogLeft: number
}

async function runSize(nodes: number): Promise<SizeResult> {
  const sim = await createSimApp(START, { nodes: Array.from({ length: nodes }, (_, i) => node(i)), workload })
  const started = performance.now()
  const ticks: number[] = []
  try {
    const loaded = loadPipelineText('/sim/sweep.yaml', PIPELINE)
    const { run } = await sim.engine.startRun(loaded)
    for (;;) {
      const tickStart = performance.now()
      await syncOnce(sim.app)
      ticks.push(performance.now() - tickStart)
      if (sim.clock.now() >= START + WINDOW_MS) break
      sim.cluster.advanceTo(Math.min(START + WINDOW_MS, sim.clock.now() + TICK_MS))
    }
    const { tasks } = (await sim.app.store.loadSnapshot(run.id)).snapshot
    const succeeded = tasks.filter((t) => t.state === 'succeeded').length
    const waiting = tasks.filter((t) => t.state === 'pending' || t.state === 'active').length
    const busy = gpuUtilization(sim.cluster, { fromMs: START, toMs: START + WINDOW_MS })
    const running = sim.cluster.jobs().filter((j) => j.state === 'running').length
    return {
      nodes,
      succeeded,
      tasksPerHour: succeeded / (WINDOW_MS / HOUR),
      wallSeconds: (performance.now() - started) / 1000,
      tickMsMedian: [...ticks].sort((a, b) => a - b)[Math.floor(ticks.length / 2)] as number,
      gpuBusy: busy.ratio ?? 0,
      // tasks neither done nor running at the end of the window: > 0 means the window was saturated
      backlogLeft: waiting - running,
    }
  } finally {
    await sim.dispose()
  }
}

export async function benchSimScaling(): Promise<void> {
  console.log('\n## linear scaling on the simulator (real engine + SQLite store, syncOnce every 5 virtual min)')
  console.log(
    `workload: ${TASKS} independent 1-GPU tasks (seed ${SEED}; 20–60 min), nodes of ${GPUS_PER_NODE} GPUs; throughput over the first ${WINDOW_MS / HOUR} virtual hours`,
  )
  const results: SizeResult[] = []
  let peakRss = rssMb()
  for (const nodes of SIZES) {
    const result = await runSize(nodes)
    peakRss = Math.max(peakRss, rssMb())
    results.push(result)
    const base = results[0] as SizeResult
    const deviation = (result.tasksPerHour / (nodes * base.tasksPerHour) - 1) * 100
    console.log(
      `${`${String(nodes).padStart(3)} node(s)`.padEnd(12)} ${result.tasksPerHour.toFixed(1).padStart(8)} tasks/virtual h   deviation from linear ${`${deviation >= 0 ? '+' : ''}${deviation.toFixed(1)} %`.padStart(8)} (target within ±10 %: ${Math.abs(deviation) <= 10 ? 'ok' : 'MISSED'})   GPUs busy ${(result.gpuBusy * 100).toFixed(1)} %   wall ${result.wallSeconds.toFixed(1)} s (tick median ${result.tickMsMedian.toFixed(0)} ms)   ${result.succeeded} done, backlog left ${result.backlogLeft}`,
    )
  }
  console.log(`peak RSS ${peakRss.toFixed(0)} MB`)
}
