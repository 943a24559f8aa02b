/**
 * Efficiency from accounting (pure): CPU efficiency as seff computes it, memory high-water vs asked,
 * GPU-hours used only where the scheduler reported use, the waste named, right-sizing, and the
 * per-stage history rows of `rpo history`.
 */
import { describe, expect, it } from 'vitest'
import {
  attemptEfficiency,
  type EfficiencyAttempt,
  formatHours,
  summarizeEfficiency,
  wasteNotes,
} from '../../../src/core/estimate/efficiency.js'
import { efficiencyReport } from '../../../src/core/estimate/efficiency-report.js'
import { suggestRightSizing } from '../../../src/core/estimate/right-sizing.js'
import { percentile } from '../../../src/core/estimate/sample-summary.js'
import { type StageHistoryAttempt, summarizeStageHistory } from '../../../src/core/estimate/stage-history.js'

const HOUR = 3600
const ASKED = { cpus: 8, memoryMb: 16_000, timeLimitSeconds: 4 * HOUR, gpus: 0, nodes: 1 }

function attempt(overrides: Partial<EfficiencyAttempt> = {}): EfficiencyAttempt {
  return {
    runId: 'r1',
    pipeline: 'vision',
    stage: 'train',
    taskId: 'train.3',
    attempt: 1,
    state: 'succeeded',
    durationSeconds: HOUR,
    asked: ASKED,
    usage: { elapsedSeconds: HOUR, cpuSeconds: HOUR, maxRssMb: 2_000, allocTres: { cpu: 8, mem: 16_000, node: 1 } },
    ...overrides,
  }
}

describe('attemptEfficiency', () => {
  it('is TotalCPU / (elapsed × allocated CPUs), with the idle CPU-hours', () => {
    const e = attemptEfficiency(attempt())
    expect(e.cpuEfficiency).toBeCloseTo(1 / 8, 10)
    expect(e.idleCpuHours).toBeCloseTo(7, 10)
    expect(e).toMatchObject({ allocatedCpus: 8, maxRssMb: 2_000, askedMemoryMb: 16_000, gpuHours: 0 })
  })

  it('takes what the scheduler allocated over what was asked, and memory per node', () => {
    const e = attemptEfficiency(
      attempt({ usage: { elapsedSeconds: 600, cpuSeconds: 600, allocTres: { cpu: 16, mem: 64_000, node: 2 } } }),
    )
    expect(e.allocatedCpus).toBe(16)
    expect(e.askedMemoryMb).toBe(32_000)
    expect(e.cpuEfficiency).toBeCloseTo(1 / 16, 10)
  })

  it('says unknown, never 0 or 100 %, for what accounting did not report', () => {
    const local = attemptEfficiency(attempt({ usage: { elapsedSeconds: 100, maxRssMb: 50 } }))
    expect(local).toMatchObject({ cpuSeconds: null, cpuEfficiency: null, idleCpuHours: null, allocatedCpus: 8 })
    const nothing = attemptEfficiency(attempt({ usage: null, durationSeconds: 120 }))
    expect(nothing).toMatchObject({ elapsedSeconds: 120, cpuEfficiency: null, maxRssMb: null })
    const gpuNoUtil = attemptEfficiency(
      attempt({ usage: { elapsedSeconds: 2 * HOUR, cpuSeconds: 100, allocTres: { cpu: 4, 'gres/gpu': 4 } } }),
    )
    expect(gpuNoUtil).toMatchObject({ allocatedGpus: 4, gpuHours: 8, usedGpuHours: null })
  })

  it('counts GPU-hours used from the reported utilisation, never above what was held', () => {
    const util = (gpuUtilPercent: number) =>
      attemptEfficiency(
        attempt({
          usage: { elapsedSeconds: 10 * HOUR, cpuSeconds: 1, allocTres: { cpu: 8, 'gres/gpu': 2 }, gpuUtilPercent },
        }),
      )
    expect(util(50).gpuHours).toBe(20)
    expect(util(50).usedGpuHours).toBeCloseTo(5, 10) // 50 of 200 percent-GPUs: a quarter
    expect(util(200).usedGpuHours).toBeCloseTo(20, 10)
    expect(util(350).usedGpuHours).toBeCloseTo(20, 10)
    // asked GPUs when accounting has no AllocTRES
    const asked = attemptEfficiency(
      attempt({ asked: { ...ASKED, gpus: 1, nodes: 2 }, usage: { elapsedSeconds: HOUR } }),
    )
    expect(asked.gpuHours).toBe(2)
  })
})

describe('summarizeEfficiency and the waste', () => {
  it('sums over the measured attempts only and names the waste in CPU- and GPU-hours', () => {
    const busy = attempt({
      taskId: 'train.1',
      usage: { elapsedSeconds: HOUR, cpuSeconds: 8 * HOUR, allocTres: { cpu: 8 } },
    })
    const idle = attempt({ taskId: 'train.3' })
    const unmeasured = attempt({ taskId: 'train.4', usage: { elapsedSeconds: HOUR } })
    const gpu = attempt({
      taskId: 'eval',
      stage: 'eval',
      usage: {
        elapsedSeconds: 4 * HOUR,
        cpuSeconds: 4 * HOUR,
        allocTres: { cpu: 1, 'gres/gpu': 2 },
        gpuUtilPercent: 50,
      },
    })
    const all = [busy, idle, unmeasured, gpu].map((a) => ({ ...attemptEfficiency(a), runId: a.runId }))
    const total = summarizeEfficiency(all)
    expect(total).toMatchObject({ attempts: 4, cpuMeasured: 3, gpuHours: 8, gpuHoursMeasured: 8, gpuHoursUnknown: 0 })
    expect(total.allocatedCpuHours).toBeCloseTo(8 + 8 + 4, 10)
    expect(total.usedCpuHours).toBeCloseTo(8 + 1 + 4, 10)
    expect(total.cpuEfficiency).toBeCloseTo(13 / 20, 10)
    expect(total.idleCpuHours).toBeCloseTo(7, 10)
    expect(total.usedGpuHours).toBeCloseTo(2, 10)
    expect(total.idleGpuHours).toBeCloseTo(6, 10)
    expect(total.maxRssMb).toBe(2_000)
    expect(total.peakMemoryFraction).toBeCloseTo(2_000 / 16_000, 10)
    const notes = wasteNotes(all)
    expect(notes.map((n) => n.text)).toEqual([
      'eval held 2 GPUs, used 0.5: 6.0 GPU-hours idle',
      'train.3 asked 8 CPUs, used 1.0: 7.0 CPU-hours idle',
    ])
    expect(wasteNotes(all, { minIdleHours: 6.5 }).map((n) => n.taskId)).toEqual(['train.3'])
  })

  it('has no efficiency, and no used GPU-hours, when nothing was measured', () => {
    const total = summarizeEfficiency([attemptEfficiency(attempt({ usage: null, asked: { ...ASKED, gpus: 1 } }))])
    expect(total).toMatchObject({
      cpuEfficiency: null,
      usedGpuHours: null,
      idleGpuHours: null,
      gpuHours: 1,
      gpuHoursUnknown: 1,
    })
  })

  it('prints hours with the precision a reader can use', () => {
    expect([formatHours(7), formatHours(12.4), formatHours(0.0172), formatHours(0)]).toEqual([
      '7.0',
      '12',
      '0.017',
      '0',
    ])
  })
})

describe('right-sizing', () => {
  const sized = (state: string, maxRssMb: number, elapsedSeconds: number, askedMb = 16_000) => ({
    state,
    askedTimeLimitSeconds: 4 * HOUR,
    efficiency: attemptEfficiency(
      attempt({ state, usage: { elapsedSeconds, cpuSeconds: 1, maxRssMb, allocTres: { cpu: 8, mem: askedMb } } }),
    ),
  })

  it('is p95 MaxRSS × 1.2 rounded up to 64 MB and p95 elapsed × 1.5 in whole minutes, with sample counts', () => {
    const attempts = Array.from({ length: 20 }, (_, i) => sized('succeeded', 1_000 + i * 10, 600 + i * 10))
    // p95 of 20 = the 19th smallest: 1,180 MB and 780 s
    expect(
      percentile(
        attempts.map((a) => a.efficiency.maxRssMb as number),
        0.95,
      ),
    ).toBe(1_180)
    expect(suggestRightSizing(attempts)).toEqual({
      memoryMb: Math.ceil((1_180 * 1.2) / 64) * 64, // 1,416 → 1,472
      memorySamples: 20,
      askedMemoryMb: 16_000,
      timeLimitSeconds: Math.ceil((780 * 1.5) / 60) * 60, // 1,170 → 1,200
      timeSamples: 20,
      askedTimeLimitSeconds: 4 * HOUR,
    })
  })

  it('never suggests less than what succeeded, nor an amount that ran out of memory', () => {
    const outlier = [sized('succeeded', 5_000, 9_000), ...Array.from({ length: 30 }, () => sized('succeeded', 100, 60))]
    const s = suggestRightSizing(outlier)
    expect(s.memoryMb).toBe(5_056) // the 5,000 MB that succeeded, rounded up, not 100 × 1.2
    expect(s.timeLimitSeconds).toBe(9_000)
    const oom = suggestRightSizing([sized('succeeded', 900, 60), sized('out_of_memory', 2_000, 30, 1_024)])
    expect(oom.memoryMb).toBe(1_088) // above the 1,024 MB it ran out with, not 900 × 1.2 = 1,080 → 1,088
    const oomHigh = suggestRightSizing([sized('succeeded', 900, 60), sized('out_of_memory', 2_000, 30, 2_048)])
    expect(oomHigh.memoryMb).toBe(2_112)
  })

  it('suggests nothing without a measured success', () => {
    expect(suggestRightSizing([sized('failed', 900, 60)])).toMatchObject({
      memoryMb: null,
      timeLimitSeconds: null,
      memorySamples: 0,
    })
  })

  it('is part of the report per stage, beside the stage figures', () => {
    const report = efficiencyReport([
      attempt({ taskId: 'train.1' }),
      attempt({
        taskId: 'train.2',
        attempt: 2,
        usage: { elapsedSeconds: 2 * HOUR, cpuSeconds: HOUR, maxRssMb: 3_000, allocTres: { cpu: 8 } },
      }),
      attempt({
        stage: 'prep',
        taskId: 'prep',
        usage: { elapsedSeconds: 60, cpuSeconds: 60, maxRssMb: 10, allocTres: { cpu: 1 } },
      }),
    ])
    expect(report.stages.map((s) => [s.stage, s.efficiency.attempts, s.rightSizing.memorySamples])).toEqual([
      ['prep', 1, 1],
      ['train', 2, 2],
    ])
    expect(report.stages[1]?.rightSizing).toMatchObject({ memoryMb: 3_648, timeLimitSeconds: 3 * HOUR })
    expect(report.waste.map((n) => n.text)).toEqual([
      'train.2 (attempt 2) asked 8 CPUs, used 0.5: 15 CPU-hours idle',
      'train.1 asked 8 CPUs, used 1.0: 7.0 CPU-hours idle',
    ])
  })
})

describe('summarizeStageHistory', () => {
  const row = (o: Partial<StageHistoryAttempt>): StageHistoryAttempt => ({
    ...attempt(),
    eligibleWaitSeconds: 10,
    taskAttempts: 1,
    taskResumes: 0,
    ...o,
  })

  it('gives each stage its durations, waits, rates and GPU-hours', () => {
    const rows = summarizeStageHistory([
      row({
        taskId: 'train.0',
        attempt: 3,
        durationSeconds: 100,
        eligibleWaitSeconds: 5,
        taskAttempts: 3,
        taskResumes: 1,
      }),
      row({ taskId: 'train.0', attempt: 2, state: 'timeout', durationSeconds: 50, taskAttempts: 3, taskResumes: 1 }),
      row({
        taskId: 'train.1',
        durationSeconds: 300,
        eligibleWaitSeconds: 30,
        usage: { elapsedSeconds: 1800, allocTres: { 'gres/gpu': 2 } },
      }),
      row({ taskId: 'train.2', state: 'cancelled', durationSeconds: null, eligibleWaitSeconds: null }),
      row({ pipeline: 'audio', stage: 'a', taskId: 'a', state: 'failed' }),
    ])
    expect(rows.map((r) => `${r.pipeline}/${r.stage}`)).toEqual(['audio/a', 'vision/train'])
    expect(rows[1]).toMatchObject({
      tasks: 3,
      attempts: 4,
      succeeded: 2,
      failed: 1,
      cancelled: 1,
      retries: 1,
      resumes: 1,
      failureRate: 0.25,
      duration: { medianSeconds: 200, p90Seconds: 300, samples: 2 },
      queueWait: { medianSeconds: 10, p90Seconds: 30, samples: 3 },
    })
    expect(rows[1]?.retryRate).toBeCloseTo(1 / 3, 10)
    // train.1: 2 GPUs for 30 min; the others asked none
    expect(rows[1]?.gpuHours).toBeCloseTo(1, 10)
    expect(rows[0]).toMatchObject({ failed: 1, failureRate: 1, duration: null })
  })
})
