/**
 * What Slurm itself holds for one rpo run, counted by submission key (`rpo.<run>.<task>.<attempt>`;
 * a sweep's array is `rpo.<run>.<group>.array.<attempt>` and its index is the instance number).
 * Live and recently ended jobs come from `squeue --states=all --array` (the testbed keeps ended
 * jobs for MinJobAge, 5 minutes), the rest from `sacct -X --duplicates`; both are merged by job id,
 * so a job seen by both counts once and a job seen by either is never missed.
 */
import type { SshTransport } from '../../../src/transport/ssh-transport.js'

export interface SlurmJob {
  readonly jobId: string
  readonly state: string
}

/** Instance submission key → the Slurm jobs (array tasks included) that carried it. */
export type SubmissionsByKey = Map<string, SlurmJob[]>

/** `123_[4-6,9%2]` → ['123_4', '123_5', '123_6', '123_9']; anything else as it is. */
export function expandArrayJobId(jobId: string): string[] {
  const match = /^(\d+)_\[([^\]]+)\]$/.exec(jobId)
  if (!match) return [jobId]
  const [, base, spec] = match
  const out: string[] = []
  for (const part of (spec as string).split('%')[0]?.split(',') ?? []) {
    const [from = Number.NaN, to = from] = part.split('-').map(Number)
    for (let i = from; i <= to; i++) out.push(`${base}_${i}`)
  }
  return out
}

/** The instance key a job carried: plain jobs by name; array tasks by their array's name and index. */
export function instanceKeyOf(jobId: string, name: string): string {
  const array = /\.array\.(\d+)$/.exec(name)
  const index = jobId.split('_')[1]
  if (array && index !== undefined) return `${name.slice(0, array.index)}.${index}.${array[1]}`
  return name
}

export async function submissionsOf(ssh: SshTransport, runId: string): Promise<SubmissionsByKey> {
  const prefix = `rpo.${runId}.`
  const live = await ssh.exec(['squeue', '--noheader', '--array', '--states=all', '--format=%i|%j|%T'], {
    idempotent: true,
  })
  const done = await ssh.exec(
    [
      'sacct',
      '-X',
      '--duplicates',
      '--noheader',
      '--parsable2',
      '--starttime=now-1days',
      '--format=JobID,JobName%300,State',
    ],
    { idempotent: true },
  )
  const byJob = new Map<string, { name: string; state: string }>()
  for (const line of done.stdout.split('\n')) {
    const [id, name, state] = line.trim().split('|')
    if (!id || !name?.startsWith(prefix)) continue
    for (const jobId of expandArrayJobId(id)) byJob.set(jobId, { name, state: state ?? '' })
  }
  // squeue last: its state is the newer one while sacct lags
  for (const line of live.stdout.split('\n')) {
    const [id, name, state] = line.trim().split('|')
    if (!id || !name?.startsWith(prefix)) continue
    for (const jobId of expandArrayJobId(id)) byJob.set(jobId, { name, state: state ?? '' })
  }
  const byKey: SubmissionsByKey = new Map()
  for (const [jobId, { name, state }] of byJob) {
    const key = instanceKeyOf(jobId, name)
    const list = byKey.get(key) ?? []
    list.push({ jobId, state })
    byKey.set(key, list)
  }
  return byKey
}

/** Keys submitted more than once (the figure that must be 0), with their job ids. */
export function duplicatesIn(byKey: SubmissionsByKey): Map<string, string[]> {
  return new Map([...byKey].filter(([, jobs]) => jobs.length > 1).map(([key, jobs]) => [key, jobs.map((j) => j.jobId)]))
}

/** Cancel every job of this run still queued or running (afterAll: nothing left behind). */
export async function cancelRunJobs(ssh: SshTransport, runId: string): Promise<void> {
  const live = await ssh.exec(['squeue', '--noheader', '--format=%A|%j'], { idempotent: true })
  const ids = live.stdout
    .split('\n')
    .map((l) => l.trim().split('|'))
    .filter(([, name]) => name?.startsWith(`rpo.${runId}.`))
    .map(([id]) => id as string)
  if (ids.length > 0) await ssh.exec(['scancel', ...ids], { idempotent: true })
}
