/**
 * Taking a submission into the queue, or refusing it the way sbatch would: an unknown partition, a
 * request no node could ever hold, a workload the model cannot read, a dependency on a job the
 * scheduler does not know. Builds the new job's record; the cluster files it.
 */
import { RpoError } from '../../src/core/errors.js'
import type { JobDependency, JobSubmission, NativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import type { SimJob } from './sim-job.js'
import { couldEverPlace, type SimNodeSpec } from './sim-placement.js'
import { resolveWorkload, type SimWorkloadModel } from './sim-workload.js'

export interface AdmissionContext {
  readonly nodes: readonly SimNodeSpec[]
  readonly defaultPartition: string | null
  readonly workload: SimWorkloadModel
  /** The upstream job a dependency names (by id, or by key within the batch), or null if unknown. */
  readonly upstream: (dependency: JobDependency) => NativeJobId | null
  readonly jobId: NativeJobId
  readonly submitSeq: number
  readonly nowMs: number
}

/** The queued job, or the refusal message. */
export function admitSubmission(submission: JobSubmission, context: AdmissionContext): SimJob | string {
  const partition = submission.partition ?? context.defaultPartition
  const inPartition =
    partition === null ? context.nodes : context.nodes.filter((spec) => spec.partitions?.includes(partition))
  if (partition !== null && inPartition.length === 0) return `invalid partition specified: ${partition}`
  const r = submission.resources
  const gpuCount = r.gpus?.count ?? 0
  if (!(Number.isInteger(r.cpus) && r.cpus >= 1 && Number.isInteger(r.nodes) && r.nodes >= 1 && r.memoryMb >= 0)) {
    return 'invalid resource request (cpus and nodes must be whole numbers ≥ 1)'
  }
  if (!(Number.isInteger(gpuCount) && gpuCount >= 0)) return 'invalid GPU count'
  if (!couldEverPlace(inPartition, r)) return 'Requested node configuration is not available'
  let workload: SimJob['workload']
  try {
    workload = resolveWorkload(submission, context.workload(submission))
  } catch (error) {
    if (error instanceof RpoError) return error.message
    throw error
  }
  const dependencies: SimJob['dependencies'] = []
  for (const dep of submission.dependsOn) {
    const upstream = context.upstream(dep)
    if (upstream === null) return `Job dependency problem: no job ${dep.jobId ?? `for ${dep.submissionKey}`}`
    dependencies.push({ jobId: upstream, condition: dep.condition, satisfied: false })
  }
  return {
    id: context.jobId,
    submission,
    workload,
    submitSeq: context.submitSeq,
    submittedAtMs: context.nowMs,
    partition,
    shape: [partition, r.cpus, r.memoryMb, r.nodes, gpuCount, [...(r.gpus?.types ?? [])].sort().join('|')].join('/'),
    dependencies,
    runs: [],
    // submitted held (sbatch --hold): waits until released
    state: submission.hold ? 'held' : 'pending',
    nativeState: 'PENDING',
    reason: submission.hold ? 'JobHeldUser' : 'Priority',
    // JobSubmission.priority is "higher runs first" (PBS -p); the queue orders by Slurm's nice
    nice: submission.priority === undefined ? 0 : -submission.priority,
    exitCode: null,
    signal: null,
    startedAtMs: null,
    endedAtMs: null,
    allocation: [],
    restarts: 0,
    eligibleAtMs: context.nowMs,
    runStartProgressMs: 0,
    progressMs: 0,
    stoppedAtMs: null,
    workDoneMs: 0,
    timers: [],
  }
}
