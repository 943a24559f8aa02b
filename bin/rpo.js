#!/usr/bin/env node
// The rpo command. Runs the compiled CLI (dist/, built by `npm ci` / `npm run build`).
import { existsSync } from 'node:fs'

const entry = new URL('../dist/src/cli/main.js', import.meta.url)
if (!existsSync(entry)) {
  process.stderr.write('rpo: dist/ is missing; run `npm run build` (npm ci does it for you)\n')
  process.exit(70)
}
const { main } = await import(entry.href)
process.exitCode = await main(process.argv.slice(2))
