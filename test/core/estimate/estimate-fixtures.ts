/** Run snapshots for the estimate tests: a pipeline file's text, then tasks moved by hand. */
import { loadPipelineText } from '../../../src/config/load-pipeline.js'
import type {
  AttemptSnapshot,
  RunSnapshot,
  TaskSnapshot,
  TaskState,
} from '../../../src/core/scheduling/run-snapshot.js'
import { newTaskSnapshot } from '../../../src/core/scheduling/run-snapshot.js'

export const T0 = Date.parse('2026-11-02T08:00:00Z')
export const MIN = 60_000
export const iso = (ms: number) => new Date(ms).toISOString()

export interface TaskMove {
  readonly state: TaskState
  /** ms; an attempt submitted then. */
  readonly submitted?: number
  readonly started?: number
  readonly ended?: number
  readonly nextAttemptAt?: number
  /** ms; when the scheduler expects the queued attempt to start. */
  readonly schedulerStart?: number
}

export function snapshotOf(yaml: string, moves: Readonly<Record<string, TaskMove>> = {}): RunSnapshot {
  const loaded = loadPipelineText('/tmp/estimate.yaml', yaml)
  const attempts: AttemptSnapshot[] = []
  const tasks: TaskSnapshot[] = loaded.instances.map((instance) => {
    const task = newTaskSnapshot(instance)
    const move = moves[instance.id]
    if (!move) return task
    if (move.submitted !== undefined) {
      attempts.push({
        taskId: task.id,
        attempt: 1,
        submissionKey: `k-${task.id}`,
        jobId: `j-${task.id}`,
        state: move.ended !== undefined ? 'succeeded' : move.started !== undefined ? 'running' : 'pending',
        nativeState: null,
        exitCode: null,
        reason: null,
        submittedAt: iso(move.submitted),
        startedAt: move.started === undefined ? null : iso(move.started),
        endedAt: move.ended === undefined ? null : iso(move.ended),
        missedPolls: 0,
        nodes: [],
        ...(move.schedulerStart === undefined ? {} : { expectedStartAt: iso(move.schedulerStart) }),
      })
    }
    return {
      ...task,
      state: move.state,
      attempts: move.submitted === undefined ? 0 : 1,
      startedAt: move.started === undefined ? null : iso(move.started),
      endedAt: move.ended === undefined ? null : iso(move.ended),
      nextAttemptAt: move.nextAttemptAt === undefined ? null : iso(move.nextAttemptAt),
    }
  })
  return { id: 'run-1', state: 'running', pipeline: loaded.pipeline, tasks, latestAttempts: attempts }
}
