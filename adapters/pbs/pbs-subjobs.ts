/**
 * Job-array names on PBS Pro, OpenPBS and Torque: a subjob id (`1234[7].server`) and its array's id
 * (`1234[].server`), and which submission key a qstat record stands for when it is a subjob. Both
 * flavors spell subjob ids alike; the array job carries the sweep's array key
 * (`rpo.<run>.<task>.array.<attempt>`, see src/engine/job-submission.ts), and each subjob stands for
 * the instance `rpo.<run>.<task>.<index>.<attempt>`. Pure.
 */
import type { PbsJobRecord } from './pbs-job-record.js'

// `<sequence>[<index or nothing>]<.server…>`
const ARRAY_ID = /^(\d+)\[(\d*)\](.*)$/

/** The array's own id for a subjob id or an array id (`1234[7].srv` → `1234[].srv`); null for a plain job. */
export function pbsArrayParentId(id: string): string | null {
  const match = ARRAY_ID.exec(id)
  return match ? `${match[1]}[]${match[3]}` : null
}

/** The index of a subjob id (`1234[7].srv` → 7); null for an array id (`1234[]`) or a plain job. */
export function pbsSubjobIndex(id: string): number | null {
  const index = ARRAY_ID.exec(id)?.[2]
  return index === undefined || index === '' ? null : Number(index)
}

/** One subjob's id from its array's id as qsub printed it (`1234[].srv`, 7 → `1234[7].srv`). */
export function pbsSubjobId(arrayId: string, index: number): string {
  const match = ARRAY_ID.exec(arrayId)
  if (match?.[2] !== '') throw new Error(`not a PBS job array id: ${JSON.stringify(arrayId)}`)
  return `${match?.[1]}[${index}]${match?.[3]}`
}

/** `rpo.<run>.<task>.<index>.<attempt>` → the array key its sweep is submitted under, and the index. */
export function arrayKeyOfInstance(key: string): { arrayKey: string; index: number } | null {
  const match = /^(.+)\.(\d+)\.(\d+)$/.exec(key)
  return match ? { arrayKey: `${match[1]}.array.${match[3]}`, index: Number(match[2]) } : null
}

/**
 * The instance key of one index of an array key (`rpo.r.train.array.1`, 3 → `rpo.r.train.3.1`);
 * null for another key. A text index (`^array_index^`) gives the server's path template.
 */
export function instanceKeyOf(arrayKey: string, index: number | string): string | null {
  const match = /^(.+)\.array\.(\d+)$/.exec(arrayKey)
  return match ? `${match[1]}.${index}.${match[2]}` : null
}

/**
 * The submission key a job record stands for: RPO_SUBMISSION_KEY or the job name, except that a
 * subjob stands for its instance (its array's key with its index put in). Torque names subjobs
 * `<array name>-<index>`; PBS Pro gives them the array's name. An array job itself stands for the
 * array key, which is never an instance's key.
 */
export function pbsRecordKey(record: Pick<PbsJobRecord, 'jobId' | 'submissionKey' | 'name'>): string | null {
  const key = record.submissionKey ?? record.name
  const index = pbsSubjobIndex(record.jobId)
  if (key === null || index === null) return key
  const arrayKey = record.submissionKey ?? key.replace(new RegExp(`-${index}$`), '')
  return instanceKeyOf(arrayKey, index) ?? key
}
