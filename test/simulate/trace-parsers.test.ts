// The trace readers against the real trace files (first rows, totals) and against corrupted
// copies: every bad row is an error naming file, line and column, or is counted under --skip-bad-rows.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { TraceRowError } from '../../src/simulate/trace-job.js'
import { readTrace } from '../../src/simulate/trace-reader.js'
import { ALIBABA_TRACE, PHILLY_TRACE, sharedTrace } from '../support/shared-traces.js'

const ALIBABA = ALIBABA_TRACE
const PHILLY = PHILLY_TRACE
const PHILLY_SIDECAR = sharedTrace('philly_derived_pcs_trace_ee9e8c.recovered_duration.csv')

function copyWithLines(source: string, name: string, keep: number, edit: (lines: string[]) => void = () => {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'rpo-trace-'))
  const lines = readFileSync(source, 'utf8')
    .split('\n')
    .slice(0, keep + 1)
  edit(lines)
  const file = path.join(dir, name)
  writeFileSync(file, `${lines.join('\n')}\n`)
  return { dir, file }
}

async function errorOf(promise: Promise<unknown>): Promise<TraceRowError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof TraceRowError) return error
    throw error
  }
  throw new Error('expected a TraceRowError')
}

describe('Alibaba GPU 2023 pod list', () => {
  it('reads the first pods as the trace has them', async () => {
    const trace = await readTrace(ALIBABA, { limit: 3 })
    expect(trace.format).toBe('alibaba-gpu-2023')
    expect(trace.truncated).toBe(true)
    expect(trace.jobs[0]).toEqual({
      id: 'openb-pod-0000',
      submitSeconds: 0,
      durationSeconds: 12_537_496,
      gpus: 1,
      gpuType: null,
      cpus: 12,
      memoryMb: 16_384,
      project: 'LS',
      line: 2,
    })
    // gpu_milli 460: a GPU-sharing pod takes one whole GPU
    expect(trace.jobs[1]).toMatchObject({ id: 'openb-pod-0001', submitSeconds: 427_061, gpus: 1, cpus: 6 })
    expect(trace.jobs[1]?.durationSeconds).toBe(12_902_960 - 427_061)
  })

  it('reads the whole file: never-scheduled pods are counted, not replayed', async () => {
    const trace = await readTrace(ALIBABA)
    expect(trace.rowsRead).toBe(8152)
    expect(trace.unscheduled).toBe(897)
    expect(trace.jobs).toHaveLength(8152 - 897)
    expect(trace.truncated).toBe(false)
    expect(new Set(trace.jobs.map((j) => j.project))).toEqual(new Set(['LS', 'BE', 'Burstable', 'Guaranteed']))
  })

  it('a window keeps the jobs submitted inside it', async () => {
    const trace = await readTrace(ALIBABA, { window: { fromSeconds: 148 * 86_400, toSeconds: 149 * 86_400 } })
    expect(trace.jobs.length).toBeGreaterThan(0)
    for (const job of trace.jobs) {
      expect(job.submitSeconds).toBeGreaterThanOrEqual(148 * 86_400)
      expect(job.submitSeconds).toBeLessThan(149 * 86_400)
    }
    expect(trace.jobs.length + trace.outsideWindow + trace.unscheduled).toBe(8152)
  })

  it('a field that is not a number names file, line and column', async () => {
    const { file } = copyWithLines(ALIBABA, 'pods.csv', 5, (lines) => {
      lines[2] = (lines[2] as string).replace(',12288,', ',12x288,')
    })
    const error = await errorOf(readTrace(file))
    expect(error.message).toBe(`${file}:3 (column memory_mib): expected a whole number, got "12x288"`)
    expect(error.line).toBe(3)
    expect(error.code).toBe('spec-invalid')
  })

  it('a row with a missing field, and a pod deleted before it started, are located', async () => {
    const short = copyWithLines(ALIBABA, 'short.csv', 4, (lines) => {
      lines[2] = (lines[2] as string).split(',').slice(0, 9).join(',')
    })
    expect((await errorOf(readTrace(short.file))).message).toBe(`${short.file}:3: has 9 fields, the header has 11`)
    const backwards = copyWithLines(ALIBABA, 'back.csv', 4, (lines) => {
      lines[4] = 'openb-pod-x,1000,1024,1,1000,,BE,Failed,10,50,90'
    })
    expect((await errorOf(readTrace(backwards.file))).message).toBe(
      `${backwards.file}:5 (column deletion_time): 50 is before scheduled_time 90`,
    )
  })

  it('--skip-bad-rows reads on, and says how many rows and which', async () => {
    const { file } = copyWithLines(ALIBABA, 'pods.csv', 6, (lines) => {
      lines[2] = 'openb-pod-bad,zero,1024,1,1000,,BE,Failed,1,2,1'
      lines[5] = 'openb-pod-0000,1000,1024,1,1000,,BE,Failed,1,2,1'
    })
    const trace = await readTrace(file, { skipBadRows: true })
    expect(trace.jobs).toHaveLength(4)
    expect(trace.badRows).toBe(2)
    expect(trace.badRowErrors.map((e) => e.message)).toEqual([
      `${file}:3 (column cpu_milli): expected a whole number, got "zero"`,
      `${file}:6: job id openb-pod-0000 appears twice`,
    ])
  })

  it('a file of another format is refused at its header', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rpo-trace-'))
    const file = path.join(dir, 'other.csv')
    writeFileSync(file, 'a,b,c\n1,2,3\n')
    expect((await errorOf(readTrace(file))).message).toMatch(new RegExp(`^${file}:1: unknown trace format`))
  })
})

describe('Philly-derived PCS trace with its recovered run times', () => {
  it('reads the first apps with the sidecar run times', async () => {
    const trace = await readTrace(PHILLY, { limit: 4 })
    expect(trace.format).toBe('philly-pcs')
    expect(trace.jobs[0]).toEqual({
      id: '0',
      submitSeconds: 0,
      durationSeconds: 2_683_411,
      gpus: 1,
      gpuType: null,
      cpus: 4,
      memoryMb: 32_768,
      project: 'TransformerModel256',
      line: 2,
    })
    expect(trace.jobs[3]).toMatchObject({ id: '3', submitSeconds: 476_285, gpus: 8, durationSeconds: 795_109 })
    expect(trace.jobs[3]?.project).toBe('Resnet50Model128')
  })

  it('reads all 5,452 apps', async () => {
    const trace = await readTrace(PHILLY)
    expect(trace.jobs).toHaveLength(5452)
    expect(trace.jobs.filter((j) => j.gpus === 32)).toHaveLength(55)
  })

  it('a sidecar that disagrees with the trace is located in the sidecar', async () => {
    const { dir, file } = copyWithLines(PHILLY, 'philly.csv', 3)
    const sidecar = path.join(dir, 'philly.recovered_duration.csv')
    const side = readFileSync(PHILLY_SIDECAR, 'utf8').split('\n').slice(0, 4)
    side[2] = '1,4,1294506'
    writeFileSync(sidecar, `${side.join('\n')}\n`)
    expect((await errorOf(readTrace(file))).message).toBe(`${sidecar}:3 (column num_jobs): 4, but ${file}:3 asks for 8`)
  })

  it('a missing sidecar is named', async () => {
    const { dir, file } = copyWithLines(PHILLY, 'lonely.csv', 3)
    await expect(readTrace(file)).rejects.toThrow(
      `${path.join(dir, 'lonely.recovered_duration.csv')}: that file is missing`,
    )
  })
})
