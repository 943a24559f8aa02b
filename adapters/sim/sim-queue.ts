/**
 * The waiting line: pending and held jobs kept sorted by (nice, submission order) as they arrive,
 * so a scheduling pass walks it in priority order without sorting a long queue at every event.
 */
import type { SimJob } from './sim-job.js'

function precedes(a: SimJob, b: SimJob): boolean {
  return a.nice < b.nice || (a.nice === b.nice && a.submitSeq < b.submitSeq)
}

export class SimQueue {
  #jobs: SimJob[] = []

  get size(): number {
    return this.#jobs.length
  }

  /** In priority order; a snapshot, safe to hold while the queue changes. */
  jobs(): readonly SimJob[] {
    return this.#jobs
  }

  has(job: SimJob): boolean {
    const index = this.#lowerBound(job)
    return this.#jobs[index] === job
  }

  add(job: SimJob): void {
    const index = this.#lowerBound(job)
    if (this.#jobs[index] === job) return
    this.#jobs = [...this.#jobs.slice(0, index), job, ...this.#jobs.slice(index)]
  }

  remove(job: SimJob): void {
    const index = this.#lowerBound(job)
    if (this.#jobs[index] === job) this.#jobs = [...this.#jobs.slice(0, index), ...this.#jobs.slice(index + 1)]
  }

  /** Change a queued job's nice, keeping the order. */
  renice(job: SimJob, nice: number): void {
    const queued = this.has(job)
    if (queued) this.remove(job)
    job.nice = nice
    if (queued) this.add(job)
  }

  /** Drop many at once (the jobs a pass started). */
  removeAll(jobs: ReadonlySet<SimJob>): void {
    if (jobs.size > 0) this.#jobs = this.#jobs.filter((job) => !jobs.has(job))
  }

  // first index whose job does not precede `job`
  #lowerBound(job: SimJob): number {
    let low = 0
    let high = this.#jobs.length
    while (low < high) {
      const mid = (low + high) >> 1
      if (precedes(this.#jobs[mid] as SimJob, job)) low = mid + 1
      else high = mid
    }
    return low
  }
}
