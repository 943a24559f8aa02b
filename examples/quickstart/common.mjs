// Shared helpers for the quickstart tasks: argument parsing, a seeded RNG, rpo's environment.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

export function args() {
  const out = {}
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1]
  return out
}

export function rng(seed) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Where this task writes its artifacts, and where a finished upstream task's artifacts are. */
export const outputDir = process.env.RPO_OUTPUT_DIR ?? path.resolve('out')
export const runDir = process.env.RPO_RUN_DIR ?? path.resolve('.')
mkdirSync(outputDir, { recursive: true })

export function upstream(taskId, file) {
  return JSON.parse(readFileSync(path.join(runDir, taskId, file), 'utf8'))
}

export function writeJson(file, value) {
  writeFileSync(path.join(outputDir, file), JSON.stringify(value))
}

/** Small values for rpo: `when:` conditions and `foreach:` lists read them. */
export function publishOutputs(values) {
  if (process.env.RPO_OUTPUTS) writeFileSync(process.env.RPO_OUTPUTS, JSON.stringify(values))
}

export function features(x, y, degree) {
  const f = [1]
  for (let d = 1; d <= degree; d++) for (let i = 0; i <= d; i++) f.push(x ** (d - i) * y ** i)
  return f
}

export function predict(weights, f) {
  let z = 0
  for (let i = 0; i < f.length; i++) z += weights[i] * f[i]
  return 1 / (1 + Math.exp(-z))
}
