/**
 * One scheduling pass of the simulated cluster, as slurmctld's main loop makes one: walk the queue
 * in priority order, start every pending job whose dependencies are met and that fits (first fit),
 * and say why the others wait (Dependency, BeginTime, Resources, Priority). Under `easy-backfill`
 * the first job that does not fit gets a reservation (sim-backfill.ts) that later jobs may not
 * delay. Also which queued jobs
 * can never start because an upstream ended the wrong way (--kill-on-invalid-dep).
 */
import type { NativeJobId, ResourceRequest } from '../../src/scheduler/scheduler-adapter.js'
import { BackfillReservation } from './sim-backfill.js'
import { judgeDependencies } from './sim-dependencies.js'
import { type SimJob, secondsToMs } from './sim-job.js'
import type { SimJobRunner, SimNodeState } from './sim-job-runner.js'
import { nodesForPartition, placeRequest } from './sim-placement.js'
import type { SimQueue } from './sim-queue.js'
import type { WaitingShape } from './sim-timeline.js'

export interface PassContext {
  readonly queue: SimQueue
  readonly nodes: readonly SimNodeState[]
  readonly runner: SimJobRunner
  readonly nowMs: number
  /**
   * `strict`: nothing starts behind a job that does not fit; `first-fit`: whatever fits starts;
   * `easy-backfill`: whatever fits starts unless it would delay the first job that does not fit.
   */
  readonly policy: 'first-fit' | 'strict' | 'easy-backfill'
}

function limitMsOf(job: SimJob): number | null {
  const seconds = job.submission.resources.timeLimitSeconds
  return Number.isFinite(seconds) && seconds > 0 ? secondsToMs(seconds) : null
}

/** Start what fits now; returns the shapes of eligible jobs left waiting for resources. */
export function schedulingPass(context: PassContext): WaitingShape[] {
  const { queue, runner, nowMs, policy } = context
  const strict = policy === 'strict'
  // under easy-backfill: the first job that did not fit, and its booking (undefined: not booked
  // yet). It is booked only once a later job fits: nothing has started since the miss, so the
  // booking is the same, and a full cluster (the usual case) never pays for one
  let head: SimJob | null = null
  let reservation: BackfillReservation | null | undefined
  // usage only grows during a pass, so a shape that did not fit will not fit later in it either
  const misfits = new Set<string>()
  const started = new Set<SimJob>()
  const waiting = new Map<string, { resources: ResourceRequest; jobs: number }>()
  const partitionNodes = new Map<string | null, readonly SimNodeState[]>()
  let blocked = false
  const noteWaiting = (job: SimJob) => {
    const shape = waiting.get(job.shape)
    if (shape) shape.jobs++
    else waiting.set(job.shape, { resources: job.submission.resources, jobs: 1 })
  }
  for (const job of queue.jobs()) {
    if (job.state !== 'pending') continue
    if (job.dependencies.length > 0 && job.dependencies.some((dep) => !dep.satisfied)) {
      job.reason = 'Dependency'
      continue
    }
    if (job.eligibleAtMs > nowMs) {
      job.reason = 'BeginTime'
      continue
    }
    let allocation = null
    if (!blocked && !misfits.has(job.shape)) {
      let nodes = partitionNodes.get(job.partition)
      if (nodes === undefined) {
        nodes = nodesForPartition(context.nodes, job.partition)
        partitionNodes.set(job.partition, nodes)
      }
      allocation = placeRequest(nodes, job.submission.resources)
    }
    if (allocation && head && reservation === undefined) {
      reservation = BackfillReservation.book(context.nodes, runner.running(), head, limitMsOf)
    }
    if (allocation && reservation && !reservation.admits(limitMsOf(job), nowMs, allocation)) {
      // it fits now but would take what the reserved job needs, for longer than until its start
      job.reason = 'Priority'
      noteWaiting(job)
      continue
    }
    if (allocation) {
      started.add(job)
      runner.start(job, allocation)
      continue
    }
    misfits.add(job.shape)
    if (policy === 'easy-backfill') head ??= job
    job.reason = blocked ? 'Priority' : 'Resources'
    blocked ||= strict
    noteWaiting(job)
  }
  queue.removeAll(started)
  return [...waiting.values()]
}

/** Queued jobs waiting on a dependency that can no longer be met. */
export function doomedJobs(queue: SimQueue, stateOf: (id: NativeJobId) => SimJob['state'] | undefined): SimJob[] {
  return queue
    .jobs()
    .filter(
      (job) =>
        job.dependencies.length > 0 &&
        job.dependencies.some((dep) => !dep.satisfied) &&
        judgeDependencies(job.dependencies, stateOf) === 'never',
    )
}
