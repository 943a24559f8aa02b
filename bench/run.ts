/**
 * `npm run bench`: figures and ratios, printed side by side. Not a test: nothing here fails CI.
 * `npm run bench -- slurm` (or core, policy, checkpoint; several may be named) runs only those.
 */
import { benchCheckpoint } from './checkpoint-bench.js'
import { benchCore } from './core-bench.js'
import { benchPlanCluster } from './plan-cluster-bench.js'
import { benchPolicy } from './policy-bench.js'
import { benchSlurm } from './slurm-bench.js'

const BENCHES: Record<string, () => Promise<void>> = {
  core: benchCore,
  policy: benchPolicy,
  slurm: benchSlurm,
  checkpoint: benchCheckpoint,
  'plan-cluster': benchPlanCluster,
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
