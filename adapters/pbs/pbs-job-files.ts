/**
 * The files rpo keeps in a PBS job's folder besides the scheduler's own output, and the remote
 * scripts around them, each one round trip for any number of folders. Pure: builds the script texts
 * and parses their answers.
 *
 * - Job files: one `cat` per file of many job folders (exit statuses, cancel markers, job ids).
 * - Exit-status files: the command wrapper that records the exit status where a server does not.
 * - Mark and delete: the cancel marker written before qdel, where the server prints no exit status.
 *
 * Its own module so that the submission script (qsub-batch.ts) and the array script (pbs-array.ts)
 * both name these files without importing each other.
 */
import { RpoError } from '../../src/core/errors.js'
import type { JobSubmission } from '../../src/scheduler/scheduler-adapter.js'
import { quoteShellWord } from '../../src/script/shell-quote.js'

/** The files rpo keeps in a PBS job's folder besides the scheduler's own output. */
export const PBS_JOB_FILES = {
  /** The rendered batch script handed to qsub. */
  script: 'job.pbs',
  stdout: 'pbs.out',
  stderr: 'pbs.err',
  /** The id qsub printed, written before rpo is told (crash safety; see findBySubmissionKey). */
  jobId: 'job_id',
  /** The command's exit status, written by the script itself (only where the server prints none). */
  exitStatus: 'exit_status',
  /** Written by rpo before it deletes the job (only where the server prints no exit status). */
  cancelMarker: 'cancel_requested',
} as const

export type PbsJobFile = 'jobId' | 'exitStatus' | 'cancelMarker'

/** A job's folder without trailing slashes; refused when it could not be a plain absolute path. */
export function pbsJobDir(job: Pick<JobSubmission, 'jobDir' | 'submissionKey'>): string {
  const dir = job.jobDir.replace(/\/+$/, '')
  if (!dir.startsWith('/') || /[\n\r\0]/.test(dir)) {
    throw new RpoError('internal', `${job.submissionKey}: the job folder must be an absolute path, got ${job.jobDir}`)
  }
  return dir
}

/**
 * The command as the batch script runs it when the server reports no exit status (the Slurm Torque
 * wrappers): run it with `bash -c` exactly as written, write its exit status to `<jobDir>/exit_status`
 * (through a temporary file, so a reader never sees half a number), and exit with it. A job killed
 * from outside (qdel, walltime) usually writes nothing — unless its command died of the signal before
 * this shell did, and then it writes 128 + the signal; the adapter never reads a missing file as
 * success, and a job rpo deleted as cancelled unless it wrote 0.
 */
export function withExitStatusFile(command: string, jobDir: string): string {
  if (command.includes('\0')) throw new RpoError('spec-invalid', 'PBS script: command contains a NUL byte')
  const dir = jobDir.replace(/\/+$/, '')
  const file = quoteShellWord(`${dir}/${PBS_JOB_FILES.exitStatus}`)
  const temporary = quoteShellWord(`${dir}/${PBS_JOB_FILES.exitStatus}.tmp`)
  return [
    '# rpo: this server reports no exit status, so the job records its own',
    `/bin/bash -c ${quoteShellWord(command)}`,
    'rpo_status=$?',
    `printf '%s\\n' "$rpo_status" >${temporary} && mv -f -- ${temporary} ${file}`,
    'exit "$rpo_status"',
  ].join('\n')
}

/** Which of a job folder's rpo files to read. */
export interface JobFilesRequest {
  readonly dir: string
  readonly files: readonly PbsJobFile[]
}

/** What was found: the first line of each file that exists (a marker file reads as ''). */
export type JobFilesFound = Partial<Record<PbsJobFile, string>>

/**
 * One script that prints `rpo-file <index> <file> <first line>` for every requested file that exists,
 * so any number of job folders costs one round trip.
 */
export function buildReadJobFilesScript(requests: readonly JobFilesRequest[]): string {
  const lines = [
    'rpo_read() { local v; [ -f "$3" ] || return 0; v=$(head -n 1 -- "$3" 2>/dev/null | tr -d \'\\r\\t\'); printf \'rpo-file %s %s %s\\n\' "$1" "$2" "$v"; }',
  ]
  requests.forEach((request, i) => {
    const dir = request.dir.replace(/\/+$/, '')
    for (const file of request.files)
      lines.push(`rpo_read ${i} ${file} ${quoteShellWord(`${dir}/${PBS_JOB_FILES[file]}`)}`)
  })
  return `${lines.join('\n')}\n`
}

/** Parse buildReadJobFilesScript's answer: one entry per request index that had any file. */
export function parseReadJobFilesOutput(stdout: string): Map<number, JobFilesFound> {
  const found = new Map<number, JobFilesFound>()
  for (const line of stdout.split('\n')) {
    const match = /^rpo-file (\d+) (jobId|exitStatus|cancelMarker) ?(.*)$/.exec(line.replace(/\r$/, ''))
    if (!match) continue
    const i = Number(match[1])
    const entry = found.get(i) ?? {}
    entry[match[2] as PbsJobFile] = (match[3] ?? '').trim()
    found.set(i, entry)
  }
  return found
}

/**
 * Mark jobs as deleted by rpo, then delete them: `touch <dir>/cancel_requested …; exec qdel <ids>`.
 * The exit status of the script is qdel's.
 */
export function buildMarkAndDeleteScript(dirs: readonly string[], qdelArgv: readonly string[]): string {
  const lines: string[] = []
  const files = dirs.map((d) => quoteShellWord(`${d.replace(/\/+$/, '')}/${PBS_JOB_FILES.cancelMarker}`))
  if (files.length > 0) lines.push(`touch -- ${files.join(' ')} 2>/dev/null`)
  lines.push(`exec ${qdelArgv.map(quoteShellWord).join(' ')}`)
  return `${lines.join('\n')}\n`
}
