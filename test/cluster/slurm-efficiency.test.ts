// Efficiency from the testbed's real accounting: a task that asks Slurm for 8 CPUs and burns one of
// them for 5 s of CPU time. When the run ended on squeue's COMPLETED (no sacct round trip), its CPU
// time is read by `rpo history --efficiency` itself once sacct has the record, and stored; either
// way the figures are sacct's and shown as seff would: CPU efficiency ≈ 1/8, the idle CPU-hours named.
// `rpo daemon` alone stores them too, also for a run no budget charges (its accounting catch-up), so
// what reads only the store (GET /v1/efficiency, --no-accounting) has them.
import { appendFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseSlurmDurationSeconds } from '../../adapters/slurm/slurm-time.js'
import { runCli, type SpawnedCli, spawnCli, writePipeline } from '../support/cli-harness.js'
import { sacctSettled, testbedSsh, testbedWorkspace } from './testbed.js'

const ssh = testbedSsh()
const { dir, remoteDir } = testbedWorkspace()
let daemon: SpawnedCli | null = null
afterAll(async () => {
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill('SIGKILL')
    await daemon.exited()
  }
  await ssh.exec(['rm', '-rf', remoteDir], { idempotent: true }).catch(() => undefined)
  await ssh.close()
  rmSync(dir, { recursive: true, force: true })
})

// one busy thread until the process has used 5 s of CPU, however loaded the machine is, then a
// second idle: sacct's elapsed time is whole seconds, and a job whose CPU time came out just over
// its elapsed seconds read as "used 1.0" of its 8 CPUs (seen in CI) where one thread is under one
const BURN = `/usr/bin/python3 -c 'import time
while time.process_time() < 5: pass
time.sleep(1)'`

interface Report {
  accounting: { asked: number; filled: number; problems: string[] }
  total: {
    cpuMeasured: number
    cpuEfficiency: number
    idleCpuHours: number
    allocatedCpuHours: number
    usedGpuHours: number | null
  }
  stages: { stage: string; rightSizing: { timeLimitSeconds: number; timeSamples: number; memoryMb: number | null } }[]
  waste: { taskId: string; text: string; idleCpuHours: number }[]
}

describe('efficiency from Slurm accounting (live)', () => {
  it('reads TotalCPU from sacct after the run and names the 7 idle CPUs of 8', async () => {
    const started = Date.now()
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: waste
project: vision
tasks:
  burn:
    command: ${JSON.stringify(BURN)}
    resources: { partition: cpu, cpus: 8, memory: 500M, time: 5m }
`,
    )
    const run = await runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
    expect(run.code, run.stderr + run.stdout).toBe(0)
    const runId = (JSON.parse(run.stdout) as { runId: string }).runId

    // what rpo stored when the run ended: CPU time only if the tick happened to ask sacct (a job
    // squeue already called COMPLETED is concluded without it)
    const before = JSON.parse((await runCli(dir, ['history', '--efficiency', '--no-accounting', '--json'])).stdout)
    expect(before.accounting).toEqual({ asked: 0, filled: 0, problems: [] })
    expect(before.total.attempts).toBe(1)
    const storedAtEnd = before.total.cpuMeasured === 1
    const attempts = await runCli(dir, ['status', runId, '--json'])
    const jobId = (JSON.parse(attempts.stdout) as { tasks: { id: string; jobId: string | null }[] }).tasks.find(
      (t) => t.id === 'burn',
    )?.jobId as string
    expect(jobId).toMatch(/^\d+$/)

    // once accounting has the job, rpo history asks it, stores the figures and reports them
    const [row] = await sacctSettled(ssh, [jobId])
    expect(row?.state).toBe('COMPLETED')
    // slurmdbd stores the steps (and so TotalCPU) a moment after the job: until then rpo asks again
    // each time and reports the CPU figure unknown, never 0
    let report: Report
    let asks = 0
    for (;;) {
      const result = await runCli(dir, ['history', '--efficiency', '--run', runId, '--json'])
      expect(result.code, result.stderr).toBe(0)
      report = JSON.parse(result.stdout) as Report
      asks += report.accounting.asked
      expect(report.accounting.problems).toEqual([])
      if (report.total.cpuMeasured === 1) break
      expect(report.total.cpuEfficiency).toBeNull()
      expect(Date.now() - started).toBeLessThan(40_000)
      await new Promise((r) => setTimeout(r, 1000))
    }
    if (!storedAtEnd) expect(asks).toBeGreaterThanOrEqual(1)

    // the same figures straight from sacct, as seff computes them (already there: rpo waited for them)
    // (not -X: with it sacct leaves the steps' CPU time out of the job's TotalCPU)
    const seff = await ssh.exec(
      ['sacct', '--noheader', '--parsable2', `--jobs=${jobId}`, '--format=JobID,ElapsedRaw,TotalCPU,AllocCPUS'],
      { idempotent: true },
    )
    const jobLine = seff.stdout.split('\n').find((l) => l.startsWith(`${jobId}|`)) as string
    const [, elapsedRaw, totalCpu, allocCpus] = jobLine.split('|') as [string, string, string, string]
    const cpuSeconds = parseSlurmDurationSeconds(totalCpu) as number
    expect(Number(allocCpus)).toBe(8)
    expect(cpuSeconds).toBeGreaterThanOrEqual(4.5)
    const seffEfficiency = cpuSeconds / (Number(elapsedRaw) * 8)

    expect(report.total.cpuMeasured).toBe(1)
    expect(report.total.cpuEfficiency).toBeCloseTo(seffEfficiency, 2)
    // ≈ 1/8: one CPU of eight busy (less when the machine made the burn wait, never more)
    expect(report.total.cpuEfficiency).toBeGreaterThan(0.04)
    expect(report.total.cpuEfficiency).toBeLessThanOrEqual(0.125 + 0.01)
    expect(report.total.allocatedCpuHours).toBeCloseTo((Number(elapsedRaw) * 8) / 3600, 6)
    expect(report.total.usedGpuHours).toBeNull()
    expect(report.waste).toHaveLength(1)
    expect(report.waste[0]?.text).toMatch(/^burn asked 8 CPUs, used 0\.\d: 0\.0\d+ CPU-hours idle$/)
    expect(report.waste[0]?.idleCpuHours).toBeCloseTo(report.total.idleCpuHours, 9)
    expect(report.stages[0]?.rightSizing).toMatchObject({ timeLimitSeconds: 60, timeSamples: 1 })

    // stored: a second look needs no accounting and says the same
    const again = JSON.parse((await runCli(dir, ['history', '--efficiency', '--no-accounting', '--json'])).stdout)
    expect(again.total).toEqual(report.total)
    const text = await runCli(dir, ['history', '--efficiency', '--project', 'vision'])
    expect(text.stdout).toMatch(/CPU {5}\d+(\.\d)?% efficient: .* CPU-hours idle \(1 of 1 attempts measured\)/)
    expect(text.stdout).toContain('waste (largest first):\n  burn asked 8 CPUs, used 0.')
  }, 60_000)

  it('rpo daemon stores the figures of a job that ended on squeue alone, with no history command', async () => {
    // no project: budgets charge a project's jobs and so ask accounting themselves; a run without
    // one is concluded from squeue's COMPLETED, and only the catch-up asks for its figures
    // rounds every 2 s and an accounting catch-up every 2 s
    appendFileSync(path.join(dir, 'rpo.config.yaml'), "sync: { schedule: '*/2 * * * * *', accountingCatchUp: 2s }\n")
    writePipeline(
      dir,
      'daemon.yaml',
      `
name: waste-daemon
tasks:
  burn:
    command: ${JSON.stringify(BURN)}
    resources: { partition: cpu, cpus: 8, memory: 500M, time: 5m }
`,
    )
    const submitted = await runCli(dir, ['submit', 'daemon.yaml', '--json'])
    expect(submitted.code, submitted.stderr).toBe(0)
    const runId = (JSON.parse(submitted.stdout) as { runId: string }).runId
    daemon = spawnCli(dir, ['daemon'])
    const started = Date.now()
    let stored: Report
    for (;;) {
      // the store only: --no-accounting asks no cluster
      const result = await runCli(dir, ['history', '--efficiency', '--run', runId, '--no-accounting', '--json'])
      expect(result.code, result.stderr).toBe(0)
      stored = JSON.parse(result.stdout) as Report
      expect(stored.accounting).toEqual({ asked: 0, filled: 0, problems: [] })
      if (stored.total.cpuMeasured === 1) break
      expect(Date.now() - started, daemon.stdout() + daemon.stderr()).toBeLessThan(60_000)
      await new Promise((r) => setTimeout(r, 1000))
    }
    expect(stored.total.cpuEfficiency).toBeGreaterThan(0.04)
    expect(stored.total.cpuEfficiency).toBeLessThanOrEqual(0.125 + 0.01)
    expect(stored.waste[0]?.text).toMatch(/^burn asked 8 CPUs, used 0\.\d/)
    daemon.child.kill('SIGTERM')
    expect(await daemon.exited()).toBe(0)
    const status = JSON.parse((await runCli(dir, ['status', runId, '--json'])).stdout) as { state: string }
    expect(status.state).toBe('succeeded')
  }, 90_000)
})
