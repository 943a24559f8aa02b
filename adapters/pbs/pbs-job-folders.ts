/**
 * Where a PBS job's folder is: remembered for the jobs this process submitted or saw, and, with the
 * engine's jobsRoot (`<jobsRoot>/<submission key>`), derived from a record's key after a restart.
 * The exit-status files, cancel markers, `job_id` files and output tails are read from there.
 */
import { isSafeName } from '../../src/script/shell-quote.js'
import type { PbsJobRecord } from './pbs-job-record.js'
import { pbsRecordKey } from './pbs-subjobs.js'

const JOB_FOLDER_MEMORY = 20_000

/** `1234.server.domain` and `1234.server` are one job: compare by the sequence number (with array index). */
export function pbsJobSequence(id: string): string {
  return id.split('.')[0] ?? id
}

export class PbsJobFolders {
  /** Job folder by job sequence number. */
  readonly #known = new Map<string, string>()
  readonly #jobsRoot: string | undefined

  constructor(jobsRoot: string | undefined) {
    this.#jobsRoot = jobsRoot
  }

  /** The folder of a job this process submitted or saw; undefined for others. */
  ofJob(jobId: string): string | undefined {
    return this.#known.get(pbsJobSequence(jobId))
  }

  /** The folder of the job a qstat record describes: remembered, else derived from its key under jobsRoot. */
  of(record: PbsJobRecord): string | undefined {
    const known = this.ofJob(record.jobId)
    if (known !== undefined) return known
    const key = pbsRecordKey(record)
    const jobsRoot = this.#jobsRoot
    return jobsRoot !== undefined && key !== null && isSafeName(key) ? `${jobsRoot}/${key}` : undefined
  }

  remember(jobId: string, dir: string | undefined): void {
    if (dir === undefined) return
    const sequence = pbsJobSequence(jobId)
    this.#known.delete(sequence)
    this.#known.set(sequence, dir)
    // bounded: the oldest entries go first (jobsRoot still finds their folders)
    if (this.#known.size > JOB_FOLDER_MEMORY) {
      const oldest = this.#known.keys().next().value
      if (oldest !== undefined) this.#known.delete(oldest)
    }
  }
}
