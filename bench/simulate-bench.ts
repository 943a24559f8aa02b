/**
 * `npm run bench -- simulate`: the trace replays of `rpo simulate` (issue #13, "Proven on real
 * workloads"). For each trace, its default subset under rpo, FIFO and Slurm-like backfill side by
 * side, with the targets checked (≥ 90 % GPU utilization while eligible work waits, better p95
 * wait and fewer deadline misses than both baselines); then throughput on 1, 8, 32 and 128 nodes
 * under rpo, against linear. Scaling runs a backlog (every job queued at time 0) of Alibaba pods
 * that fit one node: one node's 150 pods, copied n times for n nodes, so that no size runs dry and
 * every size has the same mix; it counts the GPU-hours of work and the jobs done in the first 6
 * virtual hours: deviation = throughput(n) ÷ (n × throughput(1)) − 1.
 * Runs alone (`node --import tsx bench/simulate-bench.ts`) or from run.ts.
 */
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { gpuUtilization } from '../adapters/sim/sim-metrics.js'
import { packageRoot } from '../src/package-root.js'
import { renderSimulation } from '../src/simulate/simulate-report.js'
import type { SimulateResult } from '../src/simulate/simulate-run.js'
import { DEFAULT_NODE, simulateTrace } from '../src/simulate/simulate-run.js'
import { withDeadlines } from '../src/simulate/trace-deadlines.js'
import { readTrace } from '../src/simulate/trace-reader.js'
import { replayTrace } from '../src/simulate/trace-replay.js'

// the shared traces beside the checkout, as for the tests (test/support/shared-traces.ts)
const TRACES = process.env.RPO_TRACES ?? path.resolve(packageRoot(), '../shared/traces')
const ALIBABA = `${TRACES}/alibaba_gpu_v2023_openb_pod_list_default.csv`
const PHILLY = `${TRACES}/philly_derived_pcs_trace_ee9e8c.csv`
const SIZES = (process.env.RPO_SIM_SCALING_SIZES ?? '1,8,32,128').split(',').map(Number)
const WINDOW_HOURS = 6
const JOBS_PER_NODE = Number(process.env.RPO_SIM_JOBS_PER_NODE ?? 150)

function verdict(result: SimulateResult): string {
  const by = Object.fromEntries(result.policies.map((f) => [f.policy, f]))
  const rpo = by.rpo
  const fifo = by.fifo
  const backfill = by.backfill
  if (!rpo || !fifo || !backfill) return ''
  const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED')
  const p95 = (f: typeof rpo) => f.p95WaitSeconds ?? Number.POSITIVE_INFINITY
  return [
    `  target: rpo GPU utilization while work waited ≥ 90 %: ${((rpo.gpuUtilizationWhileWaiting ?? 0) * 100).toFixed(1)} % ${mark((rpo.gpuUtilizationWhileWaiting ?? 0) >= 0.9)}`,
    `  target: rpo p95 wait below both: ${(p95(rpo) / 3600).toFixed(2)} h vs fifo ${(p95(fifo) / 3600).toFixed(2)} h, backfill ${(p95(backfill) / 3600).toFixed(2)} h ${mark(p95(rpo) < p95(fifo) && p95(rpo) < p95(backfill))}`,
    `  target: rpo deadline misses below both: ${rpo.deadlineMisses} vs fifo ${fifo.deadlineMisses}, backfill ${backfill.deadlineMisses} ${mark(rpo.deadlineMisses < fifo.deadlineMisses && rpo.deadlineMisses < backfill.deadlineMisses)}`,
  ].join('\n')
}

async function benchTrace(label: string, file: string, extra: { limit?: number | null } = {}): Promise<void> {
  const started = performance.now()
  const result = await simulateTrace({ trace: file, policies: ['rpo', 'fifo', 'backfill'], ...extra })
  console.log(`\n### ${label} (wall ${((performance.now() - started) / 1000).toFixed(1)} s)`)
  console.log(renderSimulation(result))
  console.log(verdict(result))
}

export async function benchScaling(): Promise<void> {
  const trace = await readTrace(ALIBABA, { window: { fromSeconds: 115 * 86_400, toSeconds: Number.POSITIVE_INFINITY } })
  const fitting = trace.jobs.filter((j) => j.gpus >= 1 && j.gpus <= DEFAULT_NODE.gpus)
  console.log(
    `\n### throughput vs nodes (rpo; backlog of ${JOBS_PER_NODE} Alibaba GPU pods per node, queued at 0; GPU-hours done in the first ${WINDOW_HOURS} virtual h)`,
  )
  // one node's backlog: pods at an even stride over the whole span (the first pods alone are a
  // different mix from all of them)
  const perNode = Array.from(
    { length: JOBS_PER_NODE },
    (_, i) => fitting[Math.floor((i * fitting.length) / JOBS_PER_NODE)] as (typeof fitting)[number],
  )
  let base: number | null = null
  let baseJobs: number | null = null
  for (const nodes of SIZES) {
    // n copies of one per-node sample, so every size runs exactly the same mix per node: a sample
    // drawn afresh per size is a different mix of pod lengths, which moves the jobs-done count
    const count = nodes * JOBS_PER_NODE
    const jobs = Array.from({ length: count }, (_, i) => {
      const job = perNode[i % JOBS_PER_NODE] as (typeof perNode)[number]
      return { ...job, id: `${job.id}#${Math.floor(i / JOBS_PER_NODE)}`, submitSeconds: 0 }
    })
    const started = performance.now()
    const outcome = replayTrace(withDeadlines(jobs, { seed: 1 }), {
      policy: 'rpo',
      nodes: Array.from({ length: nodes }, (_, i) => ({
        name: `n${i}`,
        cpus: DEFAULT_NODE.cpus,
        memoryMb: DEFAULT_NODE.memoryMb,
        gpus: [{ type: DEFAULT_NODE.gpuType, count: DEFAULT_NODE.gpus }],
      })),
      stopAtSeconds: WINDOW_HOURS * 3600,
    })
    const busy = gpuUtilization(outcome.cluster, { fromMs: 0, toMs: WINDOW_HOURS * 3_600_000 })
    const gpuHours = busy.busyGpuSeconds / 3600
    const perHour = gpuHours / WINDOW_HOURS
    base ??= perHour
    const deviation = (perHour / (nodes * base) - 1) * 100
    const queued = outcome.jobs.filter((r) => r.startedMs === null).length
    // jobs finished in the window: a second view, noisier (a long pod more or less moves it)
    const done = outcome.jobs.filter((r) => r.endedMs !== null && r.endedMs <= WINDOW_HOURS * 3_600_000).length
    baseJobs ??= done
    const jobsDeviation = (done / (nodes * baseJobs) - 1) * 100
    console.log(
      `${String(nodes).padStart(4)} node(s)  ${perHour.toFixed(1).padStart(8)} GPU-h/virtual h   deviation from linear ${`${deviation >= 0 ? '+' : ''}${deviation.toFixed(1)} %`.padStart(8)} (target ±10 %: ${Math.abs(deviation) <= 10 ? 'ok' : 'MISSED'})   jobs done ${done} (${jobsDeviation >= 0 ? '+' : ''}${jobsDeviation.toFixed(1)} % from linear: ${Math.abs(jobsDeviation) <= 10 ? 'ok' : 'MISSED'})   GPUs busy ${((busy.ratio ?? 0) * 100).toFixed(1)} %   still queued ${queued} of ${count}   wall ${((performance.now() - started) / 1000).toFixed(1)} s`,
    )
  }
}

export async function benchSimulate(): Promise<void> {
  console.log('\n## rpo simulate: real traces replayed under rpo, FIFO and Slurm-like EASY backfill')
  await benchTrace('Alibaba GPU 2023 (default: every pod from day 115, 4 nodes)', ALIBABA)
  await benchTrace('Philly-derived PCS trace (default: first 2000 jobs, 32 nodes)', PHILLY)
  await benchTrace('Philly-derived PCS trace, every job (32 nodes)', PHILLY, { limit: null })
  await benchScaling()
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchSimulate()
