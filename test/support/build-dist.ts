/** vitest global setup: the end-to-end tests run the real bin/rpo.js, which runs dist/. */
import { spawnSync } from 'node:child_process'
import path from 'node:path'

export default function setup(): void {
  // RPO_TEST_PREBUILT=1: dist/ was built already (e.g. `npm run build` while iterating on one file)
  if (process.env.RPO_TEST_PREBUILT === '1') return
  const root = path.resolve(import.meta.dirname, '../..')
  const result = spawnSync(
    process.execPath,
    [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      encoding: 'utf8',
    },
  )
  if (result.status !== 0)
    throw new Error(`building dist/ for the end-to-end tests failed:\n${result.stdout}\n${result.stderr}`)
}
