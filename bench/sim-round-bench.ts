/**
 * `npm run bench -- sim-round`: one sync round at the scale of a team's service — 1,000 pipelines of
 * 20 tasks (prep → 18 GPU trainings → report) on a 128-node simulated cluster, through the real
 * engine and SQLite store, ticked by `syncOnce(app)`. Per round it prints the decision time — the
 * pure planning (one `planCluster` call over every run's snapshot, as the cluster tick makes it)
 * timed apart from I/O — and the whole round's wall time; then medians, p99 and rpo's
 * peak RSS (this process: rpo plus the simulated cluster) against the targets.
 */
import type { SimNodeSpec } from '../adapters/sim/sim-placement.js'
import type { SimWorkloadModel } from '../adapters/sim/sim-workload.js'
import { loadPipelineText } from '../src/config/load-pipeline.js'
import { syncOnce } from '../src/sync/sync-runs.js'
import { createSimApp, median, quantile, roundCommands, rssMb, seededUnit, timePlanning } from './sim-harness.js'

const START = Date.parse('2026-06-01T00:00:00Z')
const MINUTE = 60_000
const PIPELINES = 1_000
/** Few rounds: the first (submitting 20,000 jobs) among them. */
const ROUNDS = 6
const TICK_MS = 5 * MINUTE
const SEED = 11
const DECISION_TARGET_MS = 100
const RSS_TARGET_MB = 500

const node = (i: number): SimNodeSpec => ({
  name: `g${String(i).padStart(3, '0')}`,
  cpus: 64,
  memoryMb: 1_024_000,
  gpus: [{ type: 'a100', count: 8 }],
})

const pipeline = (i: number) => `
name: p${String(i).padStart(4, '0')}
project: team${i % 10}
defaults:
  resources: { cpus: 2, memory: 8G, time: 4h }
tasks:
  prep: { command: prep.sh }
  train:
    after: [prep]
    matrix: { seed: [${Array.from({ length: 18 }, (_, k) => k).join(', ')}] }
    command: train.sh --seed {{params.seed}}
    resources: { cpus: 8, memory: 64G, gpus: { count: 1, type: a100 }, time: 4h }
  report: { command: report.sh, after: [train] }
`

/** prep and report a few minutes, trainings 30 min – 2 h: seeded by task and pipeline. */
const workload: SimWorkloadModel = (job) => {
  const unit = seededUnit(SEED, `${job.runId.slice(0, 5)}/${job.taskId}`)
  const training = job.taskId.startsWith('train.')
  return { durationSeconds: Math.round(training ? 1800 + 5400 * unit : 120 + 480 * unit) }
}

export async function benchSimRound(): Promise<void> {
  console.log(
    `\n## one sync round at scale on the simulator: ${PIPELINES} pipelines × 20 tasks, 128 nodes × 8 GPUs, syncOnce every 5 virtual min`,
  )
  const sim = await createSimApp(START, { nodes: Array.from({ length: 128 }, (_, i) => node(i)), workload })
  let peakRss = rssMb()
  try {
    const loadStart = performance.now()
    for (let i = 0; i < PIPELINES; i++) await sim.engine.startRun(loadPipelineText(`/sim/p${i}.yaml`, pipeline(i)))
    console.log(`${PIPELINES} runs started in ${((performance.now() - loadStart) / 1000).toFixed(1)} s`)
    peakRss = Math.max(peakRss, rssMb())
    const decisions: number[] = []
    const rounds: number[] = []
    for (let round = 1; round <= ROUNDS; round++) {
      const planning = await timePlanning(sim)
      peakRss = Math.max(peakRss, rssMb())
      const roundStart = performance.now()
      const results = await syncOnce(sim.app)
      const roundMs = performance.now() - roundStart
      peakRss = Math.max(peakRss, rssMb())
      decisions.push(planning.ms)
      rounds.push(roundMs)
      const jobs = sim.cluster.jobs()
      console.log(
        `round ${String(round).padStart(2)}: decision ${planning.ms.toFixed(1).padStart(7)} ms (planCluster over ${planning.runs} runs)   whole round ${(roundMs / 1000).toFixed(2).padStart(6)} s   submitted ${results.reduce((n, r) => n + r.submitted, 0)}, commands ${roundCommands(results)}, errors ${results.filter((r) => r.error).length}   jobs running ${jobs.filter((j) => j.state === 'running').length}, pending ${jobs.filter((j) => j.state === 'pending').length}   RSS ${rssMb().toFixed(0)} MB`,
      )
      sim.cluster.advanceBy(TICK_MS)
    }
    const p99 = quantile(decisions, 0.99)
    console.log(
      `decision (one planCluster over all runs) median ${median(decisions).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (${ROUNDS} rounds: p99 is the slowest, the submitting round): ${(p99 / DECISION_TARGET_MS).toFixed(2)}× the ${DECISION_TARGET_MS} ms target → ${p99 < DECISION_TARGET_MS ? 'ok' : 'MISSED'}`,
    )
    console.log(
      `whole round (syncOnce: one cluster tick over ${PIPELINES} runs, store and simulator included) median ${(median(rounds) / 1000).toFixed(2)} s, p99 ${(quantile(rounds, 0.99) / 1000).toFixed(2)} s`,
    )
    console.log(
      `peak RSS ${peakRss.toFixed(0)} MB (rpo + the simulated cluster in one process): ${(peakRss / RSS_TARGET_MB).toFixed(2)}× the ${RSS_TARGET_MB} MB target → ${peakRss < RSS_TARGET_MB ? 'ok' : 'MISSED'}`,
    )
  } finally {
    await sim.dispose()
  }
}
