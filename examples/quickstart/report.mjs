// Write a markdown report of the sweep.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { outputDir, upstream } from './common.mjs'

let scores = []
try {
  scores = upstream('evaluate', 'scores.json')
} catch {
  // evaluate failed: the report says so rather than failing too
}
const lines = ['# Quickstart sweep', '', `run: ${process.env.RPO_RUN_ID ?? 'standalone'}`, '']
if (scores.length === 0) lines.push('No scores: evaluation did not finish.')
else {
  lines.push('| task | lr | degree | accuracy |', '|---|---|---|---|')
  for (const s of scores) lines.push(`| ${s.task} | ${s.lr} | ${s.degree} | ${s.accuracy.toFixed(3)} |`)
}
writeFileSync(path.join(outputDir, 'report.md'), `${lines.join('\n')}\n`)
console.log(`report written to ${path.join(outputDir, 'report.md')}`)
