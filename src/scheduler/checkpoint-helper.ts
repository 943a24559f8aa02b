/**
 * The job-side checkpoint helper (templates/checkpoint: rpo_checkpoint.py, rpo-checkpoint.sh) as
 * adapters ship it: one copy per helper version beside the job folders on the target, found by
 * jobs through `RPO_CHECKPOINT_LIB` and `PYTHONPATH` (`from rpo_checkpoint import Checkpointer`).
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { SchedulerCommandError } from '../core/errors.js'
import { templatePath } from '../package-root.js'
import { quoteShellWord } from '../script/shell-quote.js'
import type { Transport } from '../transport/transport.js'
import type { JobSubmission } from './scheduler-adapter.js'

export const CHECKPOINT_HELPER_FILES = ['rpo_checkpoint.py', 'rpo-checkpoint.sh'] as const

let cachedFiles: { readonly name: string; readonly content: string }[] | null = null
let cachedVersion: string | null = null

function helperFiles(): { readonly name: string; readonly content: string }[] {
  cachedFiles ??= CHECKPOINT_HELPER_FILES.map((name) => ({
    name,
    content: readFileSync(templatePath('checkpoint', name), 'utf8'),
  }))
  return cachedFiles
}

/** Short content hash: a new rpo version gets a new folder, so running jobs keep the helper they started with. */
function helperVersion(): string {
  if (cachedVersion) return cachedVersion
  const hash = createHash('sha256')
  for (const file of helperFiles()) hash.update(file.name).update('\0').update(file.content).update('\0')
  cachedVersion = hash.digest('hex').slice(0, 12)
  return cachedVersion
}

/** Where the helper lives for `job` on its target: beside the job folders. */
export function checkpointLibDir(job: JobSubmission): string {
  return path.posix.join(path.posix.dirname(job.jobDir), '.rpo-lib', `checkpoint-${helperVersion()}`)
}

/** Script lines that let a checkpointing job import the helper; none for other jobs. */
export function checkpointLibExports(job: JobSubmission): string[] {
  if (!job.checkpoint) return []
  const dir = quoteShellWord(checkpointLibDir(job))
  return [`export RPO_CHECKPOINT_LIB=${dir}`, `export PYTHONPATH=${dir}"\${PYTHONPATH:+:$PYTHONPATH}"`]
}

/**
 * Copy the helper to the target for every checkpointing job of a batch, once per folder and
 * process (`staged` remembers). Written atomically by the transport, so a job never reads half a file.
 */
export async function stageCheckpointHelper(
  transport: Transport,
  jobs: readonly JobSubmission[],
  staged: Set<string>,
): Promise<void> {
  const dirs = [...new Set(jobs.filter((j) => j.checkpoint).map(checkpointLibDir))].filter((d) => !staged.has(d))
  for (const dir of dirs) {
    const made = await transport.exec(['mkdir', '-p', '--', dir])
    if (made.exitCode !== 0) {
      throw new SchedulerCommandError(
        'command-failed',
        ['mkdir', '-p', '--', dir],
        made.exitCode,
        made.stderr,
        `cannot create the checkpoint helper folder ${dir} on the cluster: ${made.stderr.trim()}`,
      )
    }
    for (const file of helperFiles()) {
      await transport.writeFile(path.posix.join(dir, file.name), file.content, {
        mode: file.name.endsWith('.sh') ? 0o755 : 0o644,
      })
    }
    staged.add(dir)
  }
}
