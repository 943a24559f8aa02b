/** `npm run bench`: figures and ratios, printed side by side. Not a test: nothing here fails CI. */
import { benchCheckpoint } from './checkpoint-bench.js'
import { benchCore } from './core-bench.js'
import { benchPolicy } from './policy-bench.js'
import { benchSlurm } from './slurm-bench.js'

console.log(`rpo benchmarks — node ${process.version}, ${new Date().toISOString()}`)
await benchCore()
await benchPolicy()
await benchSlurm()
await benchCheckpoint()
process.exit(0)
