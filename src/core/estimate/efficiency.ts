/**
 * Efficiency from accounting, like Slurm's `seff` but for any set of attempts (a run, a pipeline, a
 * project): what was allocated against what was used, and the difference named in CPU-hours and
 * GPU-hours. Pure: the attempts' accounting figures in, figures and sentences out.
 *
 *   allocated CPUs   = accounting's AllocTRES `cpu` (what the scheduler gave), else asked CPUs × nodes
 *   CPU efficiency   = TotalCPU / (elapsed × allocated CPUs)            (seff's "CPU Efficiency")
 *   idle CPU-hours   = (elapsed × allocated CPUs − TotalCPU) / 3600
 *   memory asked     = AllocTRES `mem` per node, else the task's `memory`; high-water = MaxRSS
 *                      (the largest task's peak, as sacct and PBS resources_used.mem report it)
 *   GPU-hours        = GPUs allocated (AllocTRES `gres/gpu`, else asked × nodes) × elapsed / 3600
 *   GPU-hours used   = GPU-hours × min(1, gpuUtil / (100 × GPUs)), only where the scheduler reported a
 *                      utilisation (Slurm TRESUsageInTot `gres/gpuutil`); elsewhere unknown, never 0
 *
 * An attempt without a figure (accounting not in yet, an executor that does not measure CPU time) is
 * counted as unmeasured, not as idle: sums run over the attempts that have the figure, and say how
 * many those were.
 */
import type { ResourceUsage } from '../job/job-observation.js'

/** What a task asked for, per node (the pipeline's resolved resources). */
export interface AskedResources {
  readonly cpus: number
  readonly memoryMb: number
  readonly timeLimitSeconds: number
  readonly gpus: number
  readonly nodes: number
}

/** One ended attempt as efficiency reads it (the history's attempt rows have these fields). */
export interface EfficiencyAttempt {
  readonly runId: string
  readonly pipeline: string
  readonly stage: string
  readonly taskId: string
  readonly attempt: number
  readonly state: string
  /** started → ended, from rpo's own record; accounting's elapsed wins when present. */
  readonly durationSeconds: number | null
  readonly asked: AskedResources | null
  readonly usage: ResourceUsage | null
}

export interface AttemptEfficiency {
  readonly taskId: string
  readonly attempt: number
  readonly elapsedSeconds: number | null
  readonly allocatedCpus: number | null
  /** null: no TotalCPU/cput for it (yet). */
  readonly cpuSeconds: number | null
  readonly cpuEfficiency: number | null
  readonly idleCpuHours: number | null
  readonly askedMemoryMb: number | null
  readonly maxRssMb: number | null
  readonly allocatedGpus: number
  readonly gpuHours: number
  /** null: the scheduler did not report GPU use. */
  readonly usedGpuHours: number | null
}

export interface EfficiencySummary {
  readonly attempts: number
  /** Attempts with TotalCPU and elapsed time: the CPU figures are over these. */
  readonly cpuMeasured: number
  readonly allocatedCpuHours: number
  readonly usedCpuHours: number
  /** usedCpuHours / allocatedCpuHours; null when nothing was measured. */
  readonly cpuEfficiency: number | null
  readonly idleCpuHours: number
  /** Attempts with a MaxRSS. */
  readonly memoryMeasured: number
  /** The highest MaxRSS seen, MB, and what that attempt asked for. */
  readonly maxRssMb: number | null
  readonly askedMemoryMb: number | null
  /** The highest MaxRSS / asked ratio over the measured attempts. */
  readonly peakMemoryFraction: number | null
  readonly gpuHours: number
  /** GPU-hours whose use the scheduler reported, and how much of them was used. */
  readonly gpuHoursMeasured: number
  readonly usedGpuHours: number | null
  readonly idleGpuHours: number | null
  /** GPU-hours allocated with no utilisation reported: 'unknown', not idle. */
  readonly gpuHoursUnknown: number
}

/** One attempt's waste, in words and figures, e.g. `train.3 asked 8 CPUs, used 1.0: 7 CPU-hours idle`. */
export interface WasteNote {
  readonly runId: string
  readonly taskId: string
  readonly attempt: number
  readonly idleCpuHours: number
  readonly idleGpuHours: number
  readonly text: string
}

const SECONDS_PER_HOUR = 3600

/** The efficiency figures of one attempt. */
export function attemptEfficiency(attempt: EfficiencyAttempt): AttemptEfficiency {
  const usage = attempt.usage ?? {}
  const tres = usage.allocTres ?? {}
  const nodes = positive(tres.node) ?? attempt.asked?.nodes ?? 1
  const elapsed = nonNegative(usage.elapsedSeconds) ?? attempt.durationSeconds
  const allocatedCpus = positive(tres.cpu) ?? (attempt.asked ? attempt.asked.cpus * nodes : null)
  const cpuSeconds = nonNegative(usage.cpuSeconds)
  const coreSeconds = elapsed !== null && allocatedCpus !== null ? elapsed * allocatedCpus : null
  const cpuKnown = cpuSeconds !== null && coreSeconds !== null && coreSeconds > 0
  const askedMemoryMb = positive(tres.mem) !== null ? (tres.mem as number) / nodes : (attempt.asked?.memoryMb ?? null)
  const allocatedGpus = nonNegative(tres['gres/gpu']) ?? (attempt.asked ? attempt.asked.gpus * nodes : 0)
  const gpuHours = elapsed === null ? 0 : (allocatedGpus * elapsed) / SECONDS_PER_HOUR
  const util = nonNegative(usage.gpuUtilPercent)
  const usedGpuHours = allocatedGpus > 0 && util !== null ? gpuHours * Math.min(1, util / (100 * allocatedGpus)) : null
  return {
    taskId: attempt.taskId,
    attempt: attempt.attempt,
    elapsedSeconds: elapsed,
    allocatedCpus,
    cpuSeconds,
    cpuEfficiency: cpuKnown ? Math.min(1, (cpuSeconds as number) / (coreSeconds as number)) : null,
    idleCpuHours: cpuKnown ? Math.max(0, (coreSeconds as number) - (cpuSeconds as number)) / SECONDS_PER_HOUR : null,
    askedMemoryMb,
    maxRssMb: nonNegative(usage.maxRssMb),
    allocatedGpus,
    gpuHours,
    usedGpuHours,
  }
}

/** The figures of a set of attempts together. */
export function summarizeEfficiency(attempts: readonly AttemptEfficiency[]): EfficiencySummary {
  let cpuMeasured = 0
  let allocatedCpuSeconds = 0
  let usedCpuSeconds = 0
  let memoryMeasured = 0
  let maxRssMb: number | null = null
  let askedAtPeak: number | null = null
  let peakFraction: number | null = null
  let gpuHours = 0
  let gpuHoursMeasured = 0
  let usedGpuHours = 0
  for (const a of attempts) {
    if (a.cpuEfficiency !== null) {
      cpuMeasured++
      allocatedCpuSeconds += (a.elapsedSeconds as number) * (a.allocatedCpus as number)
      usedCpuSeconds += Math.min(a.cpuSeconds as number, (a.elapsedSeconds as number) * (a.allocatedCpus as number))
    }
    if (a.maxRssMb !== null) {
      memoryMeasured++
      if (maxRssMb === null || a.maxRssMb > maxRssMb) {
        maxRssMb = a.maxRssMb
        askedAtPeak = a.askedMemoryMb
      }
      if (a.askedMemoryMb !== null && a.askedMemoryMb > 0) {
        const fraction = a.maxRssMb / a.askedMemoryMb
        if (peakFraction === null || fraction > peakFraction) peakFraction = fraction
      }
    }
    gpuHours += a.gpuHours
    if (a.usedGpuHours !== null) {
      gpuHoursMeasured += a.gpuHours
      usedGpuHours += a.usedGpuHours
    }
  }
  const measuredGpus = attempts.some((a) => a.usedGpuHours !== null)
  return {
    attempts: attempts.length,
    cpuMeasured,
    allocatedCpuHours: allocatedCpuSeconds / SECONDS_PER_HOUR,
    usedCpuHours: usedCpuSeconds / SECONDS_PER_HOUR,
    cpuEfficiency: allocatedCpuSeconds > 0 ? usedCpuSeconds / allocatedCpuSeconds : null,
    idleCpuHours: (allocatedCpuSeconds - usedCpuSeconds) / SECONDS_PER_HOUR,
    memoryMeasured,
    maxRssMb,
    askedMemoryMb: askedAtPeak,
    peakMemoryFraction: peakFraction,
    gpuHours,
    gpuHoursMeasured,
    usedGpuHours: measuredGpus ? usedGpuHours : null,
    idleGpuHours: measuredGpus ? gpuHoursMeasured - usedGpuHours : null,
    gpuHoursUnknown: gpuHours - gpuHoursMeasured,
  }
}

/**
 * The attempts that left the most allocated time idle, largest first (GPU-hours weigh before
 * CPU-hours), each said in one sentence; attempts below `minIdleHours` of both are left out.
 */
export function wasteNotes(
  attempts: readonly (AttemptEfficiency & { readonly runId: string })[],
  options: { readonly limit?: number; readonly minIdleHours?: number } = {},
): WasteNote[] {
  const min = options.minIdleHours ?? 0
  const notes: WasteNote[] = []
  for (const a of attempts) {
    const idleCpu = a.idleCpuHours ?? 0
    const idleGpu = a.usedGpuHours === null ? 0 : a.gpuHours - a.usedGpuHours
    if ((idleCpu <= min || idleCpu === 0) && (idleGpu <= min || idleGpu === 0)) continue
    const parts: string[] = []
    if (idleCpu > 0 && a.allocatedCpus !== null && a.elapsedSeconds !== null && a.elapsedSeconds > 0) {
      const busy = (a.cpuSeconds as number) / a.elapsedSeconds
      parts.push(
        `asked ${formatCount(a.allocatedCpus)} CPU${a.allocatedCpus === 1 ? '' : 's'}, used ${busy.toFixed(1)}: ${formatHours(idleCpu)} CPU-hours idle`,
      )
    }
    if (idleGpu > 0 && a.usedGpuHours !== null) {
      const busy = a.gpuHours > 0 ? (a.usedGpuHours / a.gpuHours) * a.allocatedGpus : 0
      parts.push(
        `held ${formatCount(a.allocatedGpus)} GPU${a.allocatedGpus === 1 ? '' : 's'}, used ${busy.toFixed(1)}: ${formatHours(idleGpu)} GPU-hours idle`,
      )
    }
    notes.push({
      runId: a.runId,
      taskId: a.taskId,
      attempt: a.attempt,
      idleCpuHours: idleCpu,
      idleGpuHours: idleGpu,
      text: `${a.taskId}${a.attempt > 1 ? ` (attempt ${a.attempt})` : ''} ${parts.join('; ')}`,
    })
  }
  notes.sort((x, y) => y.idleGpuHours - x.idleGpuHours || y.idleCpuHours - x.idleCpuHours)
  return options.limit === undefined ? notes : notes.slice(0, options.limit)
}

/** Hours with the precision a reader can use: `7`, `1.5`, `0.017`. */
export function formatHours(hours: number): string {
  if (hours >= 10) return hours.toFixed(0)
  if (hours >= 1) return hours.toFixed(1)
  if (hours === 0) return '0'
  return Number(hours.toPrecision(2)).toString()
}

function formatCount(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1)
}

function positive(value: number | undefined): number | null {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : null
}

function nonNegative(value: number | undefined | null): number | null {
  return value !== undefined && value !== null && Number.isFinite(value) && value >= 0 ? value : null
}
