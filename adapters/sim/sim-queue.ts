/**
 * The waiting line: pending and held jobs kept sorted by (nice, submission order) as they arrive,
 * so a scheduling pass walks it in priority order without sorting a long queue at every event.
 * The array is changed in place (a batch of 10,000 submissions appends, it does not copy the line
 * 10,000 times); `jobs()` hands out a copy made at most once between changes.
 */
import type { SimJob } from './sim-job.js'

function precedes(a: SimJob, b: SimJob): boolean {
  return a.nice < b.nice || (a.nice === b.nice && a.submitSeq < b.submitSeq)
}

export class SimQueue {
  readonly #jobs: SimJob[] = []
  #snapshot: readonly SimJob[] | null = null

  get size(): number {
    return this.#jobs.length
  }

  /** In priority order; a snapshot, safe to hold while the queue changes. */
  jobs(): readonly SimJob[] {
    this.#snapshot ??= this.#jobs.slice()
    return this.#snapshot
  }

  has(job: SimJob): boolean {
    const index = this.#lowerBound(job)
    return this.#jobs[index] === job
  }

  add(job: SimJob): void {
    const index = this.#lowerBound(job)
    if (this.#jobs[index] === job) return
    this.#jobs.splice(index, 0, job)
    this.#snapshot = null
  }

  remove(job: SimJob): void {
    const index = this.#lowerBound(job)
    if (this.#jobs[index] !== job) return
    this.#jobs.splice(index, 1)
    this.#snapshot = null
  }

  /** Change a queued job's nice, keeping the order. */
  renice(job: SimJob, nice: number): void {
    const queued = this.has(job)
    if (queued) this.remove(job)
    job.nice = nice
    if (queued) this.add(job)
  }

  /** Drop many at once (the jobs a pass started): one sweep, whatever their number. */
  removeAll(jobs: ReadonlySet<SimJob>): void {
    if (jobs.size === 0) return
    let kept = 0
    for (const job of this.#jobs) if (!jobs.has(job)) this.#jobs[kept++] = job
    this.#jobs.length = kept
    this.#snapshot = null
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
