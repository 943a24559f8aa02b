/**
 * `rpo history` as a user types it, over a real local run: per-stage rows as text, JSON and CSV (the
 * same rows), the window in ISO and relative forms and a clear refusal of anything else, and
 * `--efficiency` saying what the local executor measured (peak memory) and what it did not (CPU
 * time: unknown, never a made-up figure), with a right-sizing suggestion.
 */
import { rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeWorkDir, runCli, writePipeline } from '../support/cli-harness.js'

const CONFIG = `
defaultCluster: box
clusters:
  box: { kind: local, cpus: 2, memory: 4G, killGrace: 200ms, pollInterval: 50ms }
`

const PIPELINE = `
name: sweep
project: vision
tasks:
  prep: { command: "true" }
  train:
    command: "sleep 0.3 && test {{params.n}} != 3"
    matrix: { n: [1, 2, 3] }
    after: [prep]
    resources: { cpus: 1, memory: 256M, time: 5m }
`

describe('rpo history', () => {
  let dir: string

  beforeAll(async () => {
    dir = makeWorkDir('rpo-history-')
    writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
    writePipeline(dir, 'pipeline.yaml', PIPELINE)
    const run = await runCli(dir, ['run', 'pipeline.yaml', '--quiet'])
    expect(run.code, run.stderr).toBe(1) // train.2 (n = 3) fails
  }, 60_000)

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('gives each stage its attempts, failure rate and durations as text, JSON and the same rows as CSV', async () => {
    const json = await runCli(dir, ['history', '--json'])
    expect(json.code, json.stderr).toBe(0)
    const rows = JSON.parse(json.stdout) as Record<string, unknown>[]
    expect(rows.map((r) => r.stage)).toEqual(['prep', 'train'])
    const train = rows[1] as Record<string, number>
    expect(train).toMatchObject({
      pipeline: 'sweep',
      tasks: 3,
      attempts: 3,
      succeeded: 2,
      failed: 1,
      durationSamples: 2,
    })
    expect(train.failureRate).toBeCloseTo(1 / 3, 3)
    expect(train.durationMedianSeconds).toBeGreaterThanOrEqual(0.3)
    expect(train.durationP90Seconds).toBeGreaterThanOrEqual(train.durationMedianSeconds as number)
    expect(train.queueWaitSamples).toBe(3)

    const csv = await runCli(dir, ['history', '--csv'])
    expect(csv.code).toBe(0)
    const lines = csv.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(3)
    const header = (lines[0] as string).split(',')
    expect(header).toEqual(Object.keys(train))
    const trainCells = (lines[2] as string).split(',')
    expect(Object.fromEntries(header.map((h, i) => [h, trainCells[i]]))).toEqual(
      Object.fromEntries(Object.entries(train).map(([k, v]) => [k, v === null ? '' : String(v)])),
    )

    const text = await runCli(dir, ['history', '--pipeline', 'sweep', '--task', 'train'])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(
      /^3 ended attempt\(s\) in 1 stage\(s\) for pipeline sweep, stage train from the start to now/,
    )
    expect(text.stdout).toMatch(/sweep\s+train\s+3\s+3\s+1 \(33%\)\s+0 \(0%\)\s+0 \(0%\)\s+\S+\/\S+ \(2\)/)
  })

  it('takes the window as ISO or relative times and refuses anything else with exit 2', async () => {
    const recent = JSON.parse((await runCli(dir, ['history', '--since', '1h', '--json'])).stdout) as unknown[]
    expect(recent).toHaveLength(2)
    const old = await runCli(dir, ['history', '--until', '2000-01-01'])
    expect(old.stdout).toMatch(/^no ended attempts from the start to 2000-01-01 00:00:00/)
    const future = JSON.parse((await runCli(dir, ['history', '--since', '2999-01-01T00:00Z', '--json'])).stdout)
    expect(future).toEqual([])

    const bad = await runCli(dir, ['history', '--since', 'last tuesday'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--since takes an ISO date or date-time .* 7d, 2w\), got "last tuesday"/)
    const backwards = await runCli(dir, ['history', '--since', '1h', '--until', '2h'])
    expect(backwards.code).toBe(2)
    expect(backwards.stderr).toMatch(/--since .* must be before --until/)
    expect((await runCli(dir, ['history', '--json', '--csv'])).code).toBe(2)
    expect((await runCli(dir, ['history', '--limit', '0'])).code).toBe(2)
  })

  it('--efficiency: memory high-water and right-sizing from what was measured, CPU unknown where nothing was', async () => {
    const json = await runCli(dir, ['history', '--efficiency', '--json'])
    expect(json.code, json.stderr).toBe(0)
    const report = JSON.parse(json.stdout)
    // the local executor measures peak memory but not CPU time, and asks no accounting
    expect(report.accounting).toEqual({ asked: 0, filled: 0, problems: [] })
    expect(report.total).toMatchObject({ attempts: 4, cpuMeasured: 0, cpuEfficiency: null, gpuHours: 0 })
    expect(report.total.memoryMeasured).toBeGreaterThan(0)
    const train = report.stages.find((s: { stage: string }) => s.stage === 'train')
    expect(train.rightSizing).toMatchObject({ askedMemoryMb: 256, askedTimeLimitSeconds: 300, timeSamples: 2 })
    expect(train.rightSizing.timeLimitSeconds).toBe(60) // 0.3 s × 1.5, in whole minutes
    expect(report.waste).toEqual([])

    const text = await runCli(dir, ['history', '--efficiency', '--run', report.filter.runId ?? ''])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^efficiency of 4 ended attempt\(s\) for run sweep-\S+ from the start to now/)
    expect(text.stdout).toContain('CPU     unknown: no attempt has a CPU-time figure from accounting')
    expect(text.stdout).toContain('GPU     none allocated')
    expect(text.stdout).toMatch(/sweep\s+train\s+3\s+unknown\s+-/)

    const csv = await runCli(dir, ['history', '--efficiency', '--csv'])
    expect(csv.stdout.split('\n')[0]).toMatch(/^pipeline,stage,attempts,cpuMeasured,.*,suggestedMemoryMb,/)
  })
})
