// Out of memory on the local executor, end to end through the real CLI: the attempt over its memory
// is killed and reported out_of_memory, the failure policy's escalation gives the next attempt more
// memory and it succeeds; a task under its memory runs once, untouched.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeWorkDir, spawnCli, writePipeline } from '../../support/cli-harness.js'

// The watcher samples memory (every 250 ms), so a spike shorter than the launcher's next turn on a
// loaded CPU can pass: grow's first attempt holds its memory for 30 s, which it must not live to
// see; everything else holds it for 1 s.
const allocate = (mb: number, firstAttemptHolds = 1) =>
  `/usr/bin/python3 -c "import os, time; b = b'x' * (${mb} << 20); time.sleep(${firstAttemptHolds} if os.environ['RPO_ATTEMPT'] == '1' else 1)"`

const PIPELINE = `
name: hungry
tasks:
  grow:
    resources: { memory: 64M }
    retries: { max: 2, backoff: 1s, oomMemoryFactor: 4 }
    command: ${allocate(150, 30)}
  modest:
    resources: { memory: 200M }
    command: ${allocate(30)}
`

describe('out of memory on the local executor (rpo run)', () => {
  it('retries an attempt killed over its memory with more memory, and leaves a task under its memory alone', async () => {
    const dir = makeWorkDir()
    writePipeline(dir, 'p.yaml', PIPELINE)
    const run = spawnCli(dir, ['run', 'p.yaml'])
    const { code, stderr } = await run.closed()
    expect(code, stderr).toBe(0)
    expect(stderr).toMatch(
      /grow ran out of memory with 64 MB \(used \d+ MB, over its 64 MB limit\); the next attempt asks for 256 MB/,
    )
    expect(stderr).not.toContain('modest ran out of memory')

    const jobsRoot = path.join(dir, '.rpo/jobs')
    const status = (task: string, attempt: number) => {
      const folder = readdirSync(jobsRoot).find((name) => name.endsWith(`.${task}.${attempt}`))
      expect(folder, `no job folder for ${task} attempt ${attempt}`).toBeDefined()
      return JSON.parse(readFileSync(path.join(jobsRoot, folder as string, 'status.json'), 'utf8'))
    }
    expect(status('grow', 1)).toMatchObject({ state: 'out_of_memory' })
    expect(status('grow', 1).reason).toMatch(/^used \d+ MB, over its 64 MB limit$/)
    expect(status('grow', 2)).toMatchObject({ state: 'succeeded' })
    expect(status('modest', 1)).toMatchObject({ state: 'succeeded' })
    expect(readdirSync(jobsRoot).filter((name) => name.includes('.modest.'))).toHaveLength(1)
  }, 60_000)
})
