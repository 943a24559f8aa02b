#!/usr/bin/env node
// The rpo command. Runs the compiled CLI (dist/, built by `npm ci` / `npm run build`).
import { existsSync } from 'node:fs'

const entry = new URL('../dist/src/cli/main.js', import.meta.url)
if (!existsSync(entry)) {
  process.stderr.write('rpo: dist/ is missing; run `npm run build` (npm ci does it for you)\n')
  process.exit(70)
}
// output piped into a reader that stopped (`rpo status | head`): stop quietly, like other Unix tools
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw error
  })
}
const { main } = await import(entry.href)
process.exitCode = await main(process.argv.slice(2))
