/**
 * `rpo simulate`'s table: the policies side by side, one row per figure, GPU-hours per project
 * below, and a header saying exactly which subset of which trace on which cluster the figures are of.
 */
import { renderTable } from '../cli/format.js'
import type { ReplayFigures } from './replay-metrics.js'
import type { SimulateResult } from './simulate-run.js'

const percent = (value: number | null) => (value === null ? '—' : `${(value * 100).toFixed(1)} %`)

/** 90 s, 42 min, 5.2 h, 3.1 d: enough to compare policies at a glance. */
export function briefDuration(seconds: number | null): string {
  if (seconds === null) return '—'
  if (seconds < 120) return `${Math.round(seconds)} s`
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`
  return `${(seconds / 86_400).toFixed(1)} d`
}

export function renderSimulation(result: SimulateResult): string {
  const t = result.trace
  const c = result.cluster
  const lines: string[] = []
  const subset = [
    `${t.jobs} jobs`,
    t.limit !== null && t.truncated
      ? `the first ${t.limit} of the ${t.window ? 'window' : 'file'}`
      : `every job of the ${t.window ? 'window' : 'file'}`,
    ...(t.window
      ? [
          `window ${briefDuration(t.window.fromSeconds)}–${Number.isFinite(t.window.toSeconds) ? briefDuration(t.window.toSeconds) : 'end'}`,
        ]
      : []),
    `submitted ${briefDuration(t.fromSeconds)}–${briefDuration(t.toSeconds)} into the trace`,
  ]
  lines.push(`trace ${t.file} (${t.format}): ${subset.join(', ')}`)
  const notes: string[] = []
  if (t.unscheduled > 0) notes.push(`${t.unscheduled} never-scheduled pods left out (no run time)`)
  if (t.outsideWindow > 0) notes.push(`${t.outsideWindow} outside the window`)
  if (t.badRows > 0) notes.push(`${t.badRows} bad rows SKIPPED (--skip-bad-rows)`)
  if (notes.length > 0) lines.push(`  ${notes.join('; ')}`)
  for (const message of t.badRowMessages.slice(0, 5)) lines.push(`  skipped: ${message}`)
  lines.push(
    `cluster: ${c.nodes} nodes × ${c.gpusPerNode} GPUs, ${c.cpusPerNode} CPUs, ${Math.round(c.memoryMbPerNode / 1024)} GB = ${c.nodes * c.gpusPerNode} GPUs`,
  )
  lines.push(
    `deadlines: submit + k × run time, k ∈ [${result.deadlines.minFactor}, ${result.deadlines.maxFactor}) seeded by job id (seed ${result.deadlines.seed})`,
  )
  const budgets = Object.entries(result.budgets)
  if (budgets.length > 0) {
    lines.push(
      `budgets (GPU-hours): ${budgets.map(([p, cap]) => `${p} ${cap.toFixed(1)} of ${(result.demandGpuHours[p] ?? 0).toFixed(1)} asked`).join(', ')}`,
    )
  }
  lines.push('')
  const policies = result.policies
  const row = (name: string, cell: (f: ReplayFigures) => string) => [name, ...policies.map(cell)]
  const rows = [
    row('GPU utilization', (f) => percent(f.gpuUtilization)),
    row('  while work waited', (f) => percent(f.gpuUtilizationWhileWaiting)),
    row('mean queue wait', (f) => briefDuration(f.meanWaitSeconds)),
    row('p95 queue wait', (f) => briefDuration(f.p95WaitSeconds)),
    row('makespan', (f) => briefDuration(f.makespanSeconds)),
    row(
      'deadline misses',
      (f) => `${f.deadlineMisses} (${((100 * f.deadlineMisses) / Math.max(1, f.jobs - f.rejected)).toFixed(1)} %)`,
    ),
    row('jobs completed', (f) => String(f.completed)),
  ]
  if (policies.some((f) => f.rejected > 0)) rows.push(row('refused (fit no node)', (f) => String(f.rejected)))
  if (policies.some((f) => f.neverStarted > 0)) rows.push(row('never started (budget)', (f) => String(f.neverStarted)))
  const projects = [...new Set(policies.flatMap((f) => Object.keys(f.gpuHoursByProject)))].sort()
  rows.push(['GPU-hours by project', ...policies.map(() => '')])
  for (const project of projects) {
    rows.push(row(`  ${project}`, (f) => (f.gpuHoursByProject[project] ?? 0).toFixed(1)))
  }
  lines.push(renderTable(['', ...policies.map((f) => f.policy)], rows))
  return lines.join('\n')
}
