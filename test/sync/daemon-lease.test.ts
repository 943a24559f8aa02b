// Two `rpo daemon`s on one store share the cluster through its lease: one ticks it, the other leaves
// it and retries; when the ticking one is killed (kill -9, so it never releases its lease) the other
// takes the cluster over at once (its holder is a dead process of this host), not after the lease expires.
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
  it('takes over the cluster of a daemon that was killed', async () => {
    const dir = makeWorkDir()
    writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
    // the task runs until the test lets it end, so it is still running when the first daemon dies
    const go = path.join(dir, 'go')
    writePipeline(
      dir,
      'pipeline.yaml',
      `name: bg\ntasks:\n  a: { command: "while [ ! -e ${go} ]; do sleep 0.05; done" }\n`,
    )
    const submitted = JSON.parse((await runCli(dir, ['submit', 'pipeline.yaml', '--json'])).stdout)
    const first = spawnCli(dir, ['daemon'])
    await first.waitFor(`${submitted.runId}: running`)
    const second = spawnCli(dir, ['daemon'])
    try {
      await second.waitFor(/cluster box: ticked by .+:\d+:.+; retrying in \d+s/)
      expect(second.stderr()).not.toContain(`${submitted.runId}:`)
      first.child.kill('SIGKILL')
      await first.exited()
      writeFileSync(go, '')
      // the schedule ticks every second: a few seconds, never the cluster lease's 20 s
      await second.waitFor(`${submitted.runId}: succeeded`, 20_000)
    } finally {
      first.child.kill('SIGKILL')
      second.child.kill('SIGTERM')
      await second.exited()
    }
  }, 60_000)
})
