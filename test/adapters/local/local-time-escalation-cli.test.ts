// Time escalation on the local executor, end to end through the real CLI: an attempt stopped at its
// time limit is retried with `retries.timeFactor` more time (the launcher enforces the new limit)
// and then finishes; the job folders show each attempt's limit as the launcher was given it.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeWorkDir, spawnCli, writePipeline } from '../../support/cli-harness.js'

// 2 s is too short for a 3 s sleep, the escalated 6 s is not
const PIPELINE = `
name: slow
tasks:
  nap:
    resources: { time: 2s }
    retries: { max: 2, backoff: 1s, timeFactor: 3, maxTime: 1m }
    command: sleep 3
`

describe('a time limit on the local executor (rpo run)', () => {
  it('retries an attempt stopped at its time limit with more time, which the launcher enforces', async () => {
    const dir = makeWorkDir()
    writePipeline(dir, 'p.yaml', PIPELINE)
    const { code, stderr } = await spawnCli(dir, ['run', 'p.yaml']).closed()
    expect(code, stderr).toBe(0)
    expect(stderr).toContain(
      'nap ran past its time limit of 2s and was stopped with a time limit of 2 s; the next attempt asks for a time limit of 6 s',
    )

    const jobsRoot = path.join(dir, '.rpo/jobs')
    const folder = (attempt: number) => {
      const name = readdirSync(jobsRoot).find((entry) => entry.endsWith(`.nap.${attempt}`))
      expect(name, `no job folder for attempt ${attempt}`).toBeDefined()
      return path.join(jobsRoot, name as string)
    }
    const read = (attempt: number, file: string) => JSON.parse(readFileSync(path.join(folder(attempt), file), 'utf8'))
    expect(read(1, 'job.json').timeLimitSeconds).toBe(2)
    expect(read(1, 'status.json')).toMatchObject({ state: 'timeout' })
    expect(read(2, 'job.json').timeLimitSeconds).toBe(6)
    expect(read(2, 'status.json')).toMatchObject({ state: 'succeeded' })
    expect(readdirSync(jobsRoot).filter((entry) => entry.includes('.nap.'))).toHaveLength(2)
  }, 60_000)
})
