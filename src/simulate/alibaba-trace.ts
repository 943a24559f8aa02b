/**
 * The Alibaba GPU cluster trace v2023 (`openb_pod_list_*.csv`, USENIX ATC '23): one Kubernetes
 * pod per row. Pure: a header line and row lines in, TraceJobs out. The mapping (docs/simulate.md):
 * - submit = creation_time; duration = deletion_time − scheduled_time (what it ran). A pod that was
 *   never scheduled (`Pending`, empty scheduled_time) has no run time: it is not a job to replay,
 *   and is counted as `unscheduled` rather than read (the caller reports the count);
 * - GPUs = num_gpu, except a GPU-sharing pod (num_gpu 1, gpu_milli < 1000) takes one whole GPU: the
 *   simulated cluster, like Slurm without MPS, hands out whole devices;
 * - GPU type = gpu_spec when given (first listed), else any; CPUs = ⌈cpu_milli / 1000⌉ (≥ 1);
 *   memory = memory_mib (MiB counted as MB);
 * - project = qos (LS, BE, Burstable, Guaranteed): the trace has no user or group.
 */
import { headerIndex, readNumber, splitRow, type TraceJob, TraceRowError } from './trace-job.js'

const COLUMNS = [
  'name',
  'cpu_milli',
  'memory_mib',
  'num_gpu',
  'gpu_milli',
  'gpu_spec',
  'qos',
  'creation_time',
  'deletion_time',
  'scheduled_time',
] as const

export const ALIBABA_FORMAT = 'alibaba-gpu-2023'

export function isAlibabaHeader(header: string): boolean {
  return header.includes('gpu_milli') && header.includes('creation_time')
}

/** Reads rows of one file: `row` returns the job, or null for a pod that never ran. */
export class AlibabaTraceParser {
  readonly #file: string
  readonly #index: Map<string, number>
  readonly #header: string[]

  constructor(file: string, header: string) {
    this.#file = file
    this.#index = headerIndex(header, COLUMNS, file, ALIBABA_FORMAT)
    this.#header = header.trim().split(',')
  }

  row(text: string, line: number): TraceJob | null {
    const file = this.#file
    const where = { file, line }
    const fields = splitRow(text, this.#header, file, line)
    const field = (name: string) => (fields[this.#index.get(name) as number] ?? '').trim()
    const name = field('name')
    if (name === '') throw new TraceRowError(file, line, 'name', 'the pod name is empty')
    const num = (column: string, min = 0) => readNumber(fields, this.#index, column, where, { integer: true, min })
    const created = num('creation_time')
    const deleted = num('deletion_time')
    if (field('scheduled_time') === '') return null
    const scheduled = num('scheduled_time')
    if (scheduled < created) {
      throw new TraceRowError(file, line, 'scheduled_time', `${scheduled} is before creation_time ${created}`)
    }
    if (deleted < scheduled) {
      throw new TraceRowError(file, line, 'deletion_time', `${deleted} is before scheduled_time ${scheduled}`)
    }
    const numGpu = num('num_gpu')
    const gpuMilli = num('gpu_milli')
    if (numGpu > 0 && gpuMilli === 0) {
      throw new TraceRowError(file, line, 'gpu_milli', `0 with num_gpu ${numGpu}: a GPU pod asks for some of a GPU`)
    }
    const qos = field('qos')
    if (qos === '') throw new TraceRowError(file, line, 'qos', 'empty: the project of the pod is read from it')
    const spec = field('gpu_spec')
    return {
      id: name,
      submitSeconds: created,
      // a pod deleted the second it started still held its GPU for that second
      durationSeconds: Math.max(1, deleted - scheduled),
      gpus: numGpu,
      gpuType: numGpu > 0 && spec !== '' ? (spec.split('|')[0] as string) : null,
      cpus: Math.max(1, Math.ceil(num('cpu_milli') / 1000)),
      memoryMb: num('memory_mib'),
      project: qos,
      line,
    }
  }
}
