/**
 * The Philly-derived trace of the PCS artifact (OSDI '24; one virtual cluster of Microsoft's Philly
 * trace) with the run times recovered into its sidecar `*.recovered_duration.csv` (see
 * /work/shared/traces/SOURCES.md: `service` is not a duration). Pure: the two files' rows in, one
 * TraceJob per app out. The mapping (docs/simulate.md):
 * - submit = submit_time; duration = the sidecar's duration_s; GPUs = num_jobs, any type;
 * - CPUs and memory: the trace has none; 4 CPUs and 32 GB per GPU (1 CPU, 4 GB for a job without);
 * - project = model_name: the file has no user or VC (one VC), and model_name is PCS's synthetic
 *   label of the job's model, the only grouping it carries.
 * The sidecar must list the same app_id on the same line, with the same num_jobs.
 */
import { headerIndex, readNumber, splitRow, type TraceJob, TraceRowError } from './trace-job.js'

const MAIN_COLUMNS = ['app_id', 'submit_time', 'num_jobs', 'model_name'] as const
const SIDE_COLUMNS = ['app_id', 'num_jobs', 'duration_s'] as const
export const PHILLY_FORMAT = 'philly-pcs'
export const PHILLY_CPUS_PER_GPU = 4
export const PHILLY_MEMORY_MB_PER_GPU = 32_768

export function isPhillyHeader(header: string): boolean {
  return header.includes('app_id') && header.includes('service') && header.includes('model_name')
}

/** Where a trace's run times are: `x.csv` → `x.recovered_duration.csv`. */
export function phillySidecarPath(file: string): string {
  return `${file.replace(/\.csv$/, '')}.recovered_duration.csv`
}

export class PhillyTraceParser {
  readonly #file: string
  readonly #sidecar: string
  readonly #main: Map<string, number>
  readonly #side: Map<string, number>
  readonly #mainHeader: string[]
  readonly #sideHeader: string[]

  constructor(file: string, header: string, sidecar: string, sidecarHeader: string) {
    this.#file = file
    this.#sidecar = sidecar
    this.#main = headerIndex(header, MAIN_COLUMNS, file, PHILLY_FORMAT)
    this.#side = headerIndex(sidecarHeader, SIDE_COLUMNS, sidecar, `${PHILLY_FORMAT} duration sidecar`)
    this.#mainHeader = header.trim().split(',')
    this.#sideHeader = sidecarHeader.trim().split(',')
  }

  /** One app from its line in the trace and the same line of the sidecar (null: the sidecar ended). */
  row(text: string, sideText: string | null, line: number): TraceJob {
    const file = this.#file
    const where = { file, line }
    const sideWhere = { file: this.#sidecar, line }
    const fields = splitRow(text, this.#mainHeader, file, line)
    if (sideText === null) {
      throw new TraceRowError(this.#sidecar, line, null, `ends before ${file} does (no run time for line ${line})`)
    }
    const side = splitRow(sideText, this.#sideHeader, this.#sidecar, line)
    const appId = readNumber(fields, this.#main, 'app_id', where, { integer: true, min: 0 })
    const sideId = readNumber(side, this.#side, 'app_id', sideWhere, { integer: true, min: 0 })
    if (sideId !== appId) {
      throw new TraceRowError(this.#sidecar, line, 'app_id', `${sideId}, but ${file}:${line} is app ${appId}`)
    }
    const gpus = readNumber(fields, this.#main, 'num_jobs', where, { integer: true, min: 0 })
    const sideGpus = readNumber(side, this.#side, 'num_jobs', sideWhere, { integer: true, min: 0 })
    if (sideGpus !== gpus) {
      throw new TraceRowError(this.#sidecar, line, 'num_jobs', `${sideGpus}, but ${file}:${line} asks for ${gpus}`)
    }
    const model = (fields[this.#main.get('model_name') as number] ?? '').trim()
    if (model === '') throw new TraceRowError(file, line, 'model_name', 'empty: the project is read from it')
    return {
      id: String(appId),
      submitSeconds: readNumber(fields, this.#main, 'submit_time', where, { min: 0 }),
      durationSeconds: Math.max(1, readNumber(side, this.#side, 'duration_s', sideWhere, { min: 0 })),
      gpus,
      gpuType: null,
      cpus: Math.max(1, gpus * PHILLY_CPUS_PER_GPU),
      memoryMb: Math.max(4096, gpus * PHILLY_MEMORY_MB_PER_GPU),
      project: model,
      line,
    }
  }
}
