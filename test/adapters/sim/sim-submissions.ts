// Submissions and small clusters for the simulator's tests: one line per job, defaults for the rest.

import type { SimNodeSpec } from '../../../adapters/sim/sim-placement.js'
import {
  asSubmissionKey,
  type GpuRequest,
  type JobDependency,
  type JobSubmission,
  type NativeJobId,
  type SubmitResult,
} from '../../../src/scheduler/scheduler-adapter.js'

export interface SubmissionShape {
  readonly cpus?: number
  readonly memoryMb?: number
  readonly nodes?: number
  readonly gpus?: GpuRequest | null
  readonly timeLimitSeconds?: number
  readonly env?: Record<string, string>
  readonly dependsOn?: readonly JobDependency[]
  readonly partition?: string
  readonly priority?: number
  readonly attempt?: number
  readonly taskId?: string
}

export function submission(key: string, shape: SubmissionShape = {}): JobSubmission {
  return {
    submissionKey: asSubmissionKey(key),
    runId: 'run1',
    taskId: shape.taskId ?? key,
    attempt: shape.attempt ?? 1,
    command: 'true',
    workDir: '/sim',
    jobDir: `/sim/jobs/${key}`,
    env: shape.env ?? {},
    resources: {
      cpus: shape.cpus ?? 1,
      memoryMb: shape.memoryMb ?? 1000,
      timeLimitSeconds: shape.timeLimitSeconds ?? 3600,
      gpus: shape.gpus ?? null,
      nodes: shape.nodes ?? 1,
    },
    dependsOn: shape.dependsOn ?? [],
    project: null,
    ...(shape.partition ? { partition: shape.partition } : {}),
    ...(shape.priority !== undefined ? { priority: shape.priority } : {}),
  }
}

/** A job that works `seconds` and exits `exit` (the default env model). */
export function work(seconds: number, exit = 0): Record<string, string> {
  return { RPO_SIM_DURATION: String(seconds), RPO_SIM_EXIT: String(exit) }
}

export function gpus(count: number, ...types: string[]): GpuRequest {
  return { count, types }
}

/** Two CPU nodes and two GPU nodes (4×a100, 4×v100), one partition each. */
export const MIXED_NODES: readonly SimNodeSpec[] = [
  { name: 'cpu1', cpus: 8, memoryMb: 32_000, partitions: ['cpu'] },
  { name: 'cpu2', cpus: 8, memoryMb: 32_000, partitions: ['cpu'] },
  { name: 'gpu1', cpus: 16, memoryMb: 128_000, gpus: [{ type: 'a100', count: 4 }], partitions: ['gpu'] },
  { name: 'gpu2', cpus: 16, memoryMb: 128_000, gpus: [{ type: 'v100', count: 4 }], partitions: ['gpu'] },
]

export const seconds = (s: number) => s * 1000

/** The job id of a submission that went through (fails the test otherwise). */
export function jobIdOf(result: SubmitResult | undefined): NativeJobId {
  if (result?.kind !== 'submitted') throw new Error(`expected a submitted job, got ${JSON.stringify(result)}`)
  return result.jobId
}
