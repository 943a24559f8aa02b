/**
 * Reading a trace file from disk, streamed line by line: the format is told by its header
 * (alibaba-trace.ts, philly-trace.ts), rows are turned into TraceJobs, `limit` stops the read
 * early and `window` keeps the jobs submitted inside it. A bad row stops the read with its
 * location, unless `skipBadRows` asks to count the bad rows and read on (the count and the first
 * errors are returned, never dropped silently).
 */
import { createReadStream, existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { RpoError } from '../core/errors.js'
import { ALIBABA_FORMAT, AlibabaTraceParser, isAlibabaHeader } from './alibaba-trace.js'
import { isPhillyHeader, PHILLY_FORMAT, PhillyTraceParser, phillySidecarPath } from './philly-trace.js'
import { type TraceJob, TraceRowError } from './trace-job.js'

export type TraceFormat = typeof ALIBABA_FORMAT | typeof PHILLY_FORMAT

export interface TraceReadOptions {
  /** Keep at most this many jobs (the first ones read, in file order); null or absent: all. */
  readonly limit?: number | null
  /** Keep only jobs submitted in [fromSeconds, toSeconds) of the trace's time. */
  readonly window?: { readonly fromSeconds: number; readonly toSeconds: number }
  /** Count bad rows and read on, instead of stopping at the first. @default false */
  readonly skipBadRows?: boolean
  /** Called every 1,000 rows read. */
  readonly onRows?: (rows: number) => void
}

export interface LoadedTrace {
  readonly file: string
  readonly format: TraceFormat
  readonly jobs: readonly TraceJob[]
  /** Data rows read (the header not counted). */
  readonly rowsRead: number
  /** Rows that are not jobs to replay: pods that were never scheduled (no run time). */
  readonly unscheduled: number
  /** Rows outside the window. */
  readonly outsideWindow: number
  /** Under skipBadRows: how many rows were bad, and the first 20 errors. */
  readonly badRows: number
  readonly badRowErrors: readonly TraceRowError[]
  /** The read stopped at `limit` before the file's end. */
  readonly truncated: boolean
}

const KEPT_ERRORS = 20

/** The format a trace file's header says, or null when it is neither. */
export async function sniffTraceFormat(file: string): Promise<TraceFormat | null> {
  if (!existsSync(file)) throw new RpoError('spec-not-found', `trace file not found: ${file}`)
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })
  try {
    const first = await lines[Symbol.asyncIterator]().next()
    const header = first.done ? '' : first.value
    return isAlibabaHeader(header) ? ALIBABA_FORMAT : isPhillyHeader(header) ? PHILLY_FORMAT : null
  } finally {
    lines.close()
  }
}

export async function readTrace(file: string, options: TraceReadOptions = {}): Promise<LoadedTrace> {
  if (!existsSync(file)) throw new RpoError('spec-not-found', `trace file not found: ${file}`)
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })
  const main = lines[Symbol.asyncIterator]()
  let side: AsyncIterator<string> | null = null
  let sideLines: ReturnType<typeof createInterface> | null = null
  try {
    const first = await main.next()
    if (first.done) throw new TraceRowError(file, 1, null, 'the file is empty (no header)')
    const header = first.value
    let format: TraceFormat
    let readRow: (text: string, line: number) => Promise<TraceJob | null>
    if (isAlibabaHeader(header)) {
      format = ALIBABA_FORMAT
      const parser = new AlibabaTraceParser(file, header)
      readRow = async (text, line) => parser.row(text, line)
    } else if (isPhillyHeader(header)) {
      format = PHILLY_FORMAT
      const sidecar = phillySidecarPath(file)
      if (!existsSync(sidecar)) {
        throw new RpoError(
          'spec-not-found',
          `${file} is a Philly-derived (PCS) trace, whose run times are in ${sidecar}: that file is missing`,
        )
      }
      sideLines = createInterface({ input: createReadStream(sidecar), crlfDelay: Number.POSITIVE_INFINITY })
      const sideIterator = sideLines[Symbol.asyncIterator]()
      side = sideIterator
      const sideHeader = await sideIterator.next()
      if (sideHeader.done) throw new TraceRowError(sidecar, 1, null, 'the file is empty (no header)')
      const parser = new PhillyTraceParser(file, header, sidecar, sideHeader.value)
      readRow = async (text, line) => {
        const next = await sideIterator.next()
        return parser.row(text, next.done ? null : next.value, line)
      }
    } else {
      throw new TraceRowError(
        file,
        1,
        null,
        'unknown trace format: expected the header of an Alibaba GPU 2023 pod list (name,cpu_milli,…,gpu_milli,…) or a Philly-derived PCS trace (app_id,submit_time,service,num_jobs,…)',
      )
    }
    const jobs: TraceJob[] = []
    const ids = new Set<string>()
    let line = 1
    let rows = 0
    let unscheduled = 0
    let outsideWindow = 0
    let badRows = 0
    const badRowErrors: TraceRowError[] = []
    let truncated = false
    for (let next = await main.next(); !next.done; next = await main.next()) {
      line++
      if (next.value.trim() === '') continue
      if (options.limit !== undefined && options.limit !== null && jobs.length >= options.limit) {
        truncated = true
        break
      }
      rows++
      if (rows % 1000 === 0) options.onRows?.(rows)
      let job: TraceJob | null
      try {
        job = await readRow(next.value, line)
        if (job && ids.has(job.id)) throw new TraceRowError(file, line, null, `job id ${job.id} appears twice`)
      } catch (error) {
        if (!(error instanceof TraceRowError) || !options.skipBadRows) throw error
        badRows++
        if (badRowErrors.length < KEPT_ERRORS) badRowErrors.push(error)
        continue
      }
      if (job === null) {
        unscheduled++
        continue
      }
      ids.add(job.id)
      const window = options.window
      if (window && (job.submitSeconds < window.fromSeconds || job.submitSeconds >= window.toSeconds)) {
        outsideWindow++
        continue
      }
      jobs.push(job)
    }
    // the sidecar must not go on after the trace (a trace cut short, or the wrong sidecar)
    if (side && !truncated) {
      const extra = await side.next()
      if (!extra.done && extra.value.trim() !== '') {
        throw new TraceRowError(phillySidecarPath(file), line + 1, null, `has more rows than ${file}`)
      }
    }
    return { file, format, jobs, rowsRead: rows, unscheduled, outsideWindow, badRows, badRowErrors, truncated }
  } finally {
    lines.close()
    sideLines?.close()
  }
}
