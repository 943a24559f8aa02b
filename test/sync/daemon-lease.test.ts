// Two `rpo daemon`s on one store: one ticks, the other waits; when the ticking one is killed (kill -9,
// so it never releases its lease) the other takes over within a tick or two, not after the lease expires.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeWorkDir, runCli, spawnCli, writePipeline } from '../support/cli-harness.js'

const CONFIG = `
defaultCluster: box
clusters:
  box: { kind: local, cpus: 2, memory: 4G, killGrace: 200ms, pollInterval: 50ms }
sync: { schedule: "* * * * * *" }
`

describe('rpo daemon', () => {
  it('takes over the sync lease of a daemon that was killed', async () => {
    const dir = makeWorkDir()
    writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
    writePipeline(dir, 'pipeline.yaml', 'name: bg\ntasks:\n  a: { command: "sleep 2" }\n')
    const submitted = JSON.parse((await runCli(dir, ['submit', 'pipeline.yaml', '--json'])).stdout)
    const first = spawnCli(dir, ['daemon'])
    await first.waitFor(`${submitted.runId}: running`)
    const second = spawnCli(dir, ['daemon'])
    try {
      await second.waitFor(/another rpo daemon \(.+:daemon\) holds the sync lease/)
      expect(second.stderr()).not.toContain(`${submitted.runId}:`)
      first.child.kill('SIGKILL')
      await first.exited()
      // the schedule ticks every second: a few seconds, never the lease's 10 minutes
      await second.waitFor(`${submitted.runId}: succeeded`, 10_000)
    } finally {
      first.child.kill('SIGKILL')
      second.child.kill('SIGTERM')
      await second.exited()
    }
  }, 30_000)
})
