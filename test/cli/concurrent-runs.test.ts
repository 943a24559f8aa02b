// Two `rpo run` of the same pipeline file started together on a brand-new store: both succeed (neither
// fails a migration), both follow the same single run, and `rpo status` lists one run. The store
// tests race the store itself at the same instant (test/store/concurrent-processes.test.ts); this is
// what a user who starts rpo twice sees.
import { rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeWorkDir, runCli, spawnCli, writePipeline } from '../support/cli-harness.js'

const ROUNDS = 4

describe('two rpo run of one pipeline file at once', () => {
  it(`start one run on a brand-new store and both follow it to the end (${ROUNDS} rounds)`, {
    timeout: 120_000,
  }, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const dir = makeWorkDir('rpo-twice-')
      writeFileSync(
        path.join(dir, 'rpo.config.yaml'),
        'clusters:\n  local: { kind: local, cpus: 2, memory: 2G, pollInterval: 50ms }\n',
      )
      // the task waits until both rpo have started or continued the run, so the first cannot finish it early
      const go = path.join(dir, 'go')
      writePipeline(
        dir,
        'p.yaml',
        `name: twice\ntasks:\n  a: { command: "while [ ! -e ${go} ]; do sleep 0.05; done" }\n`,
      )
      const both = [spawnCli(dir, ['run', 'p.yaml', '--json']), spawnCli(dir, ['run', 'p.yaml', '--json'])]
      await Promise.all(both.map((rpo) => rpo.waitFor(/started run|continuing run/)))
      writeFileSync(go, '')
      const results = await Promise.all(both.map((rpo) => rpo.closed()))
      for (const result of results) expect(result.code, `round ${round}: ${result.stderr}`).toBe(0)
      const runIds = results.map((result) => JSON.parse(result.stdout).runId)
      expect(runIds[0], `round ${round}`).toBe(runIds[1])
      const status = await runCli(dir, ['status', '--json'])
      expect(
        JSON.parse(status.stdout).map((r: { runId: string }) => r.runId),
        `round ${round}`,
      ).toEqual([runIds[0]])
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
