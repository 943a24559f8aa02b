/**
 * `npm run bench`: figures and ratios, printed side by side. Not a test: nothing here fails CI.
 * `npm run bench -- slurm` (or slurm-makespan, core, policy, checkpoint, sim-scaling, sim-round, commands-per-round, api, simulate;
 * several may be named) runs only those. slurm and commands-per-round use the live testbed: run them
 * under its lock (`flock -o /tmp/rpo-testbed.lock npm run bench -- …`).
 */
import { benchApi } from './api-bench.js'
import { benchCheckpoint } from './checkpoint-bench.js'
import { benchCommandsPerRound } from './commands-per-round-bench.js'
import { benchCore } from './core-bench.js'
import { benchPlanCluster } from './plan-cluster-bench.js'
import { benchPolicy } from './policy-bench.js'
import { benchSimRound } from './sim-round-bench.js'
import { benchSimScaling } from './sim-scaling-bench.js'
import { benchSimulate } from './simulate-bench.js'
import { benchSlurm, benchSlurmMakespan } from './slurm-bench.js'

const BENCHES: Record<string, () => Promise<void>> = {
  core: benchCore,
  policy: benchPolicy,
  slurm: benchSlurm,
  'slurm-makespan': benchSlurmMakespan,
  checkpoint: benchCheckpoint,
  'sim-scaling': benchSimScaling,
  'sim-round': benchSimRound,
  'commands-per-round': benchCommandsPerRound,
  'plan-cluster': benchPlanCluster,
  simulate: benchSimulate,
  api: benchApi,
}

const asked = process.argv.slice(2)
const unknown = asked.filter((name) => !Object.hasOwn(BENCHES, name))
if (unknown.length > 0) {
  console.error(`unknown bench ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')}`)
  process.exit(2)
}
console.log(`rpo benchmarks — node ${process.version}, ${new Date().toISOString()}`)
for (const [name, bench] of Object.entries(BENCHES)) {
  if (asked.length === 0 || asked.includes(name)) await bench()
}
process.exit(0)
