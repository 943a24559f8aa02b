/** Exit codes of the rpo command, documented in README.md and `rpo --help`. */
import { isRpoError } from '../core/errors.js'

export const ExitCode = {
  ok: 0,
  /** The run finished, and some task failed (or the run was cancelled). */
  runFailed: 1,
  /** Bad input: pipeline, config, command-line arguments, or a pipeline no target can run. */
  invalidInput: 2,
  /** The store cannot be used: locked, corrupted, full, read-only, unreachable, or newer than this rpo. */
  storeError: 3,
  /** The cluster cannot be reached or refused a command. */
  schedulerError: 4,
  /** Something rpo did not expect: a bug; the message says where to report it. */
  internal: 70,
  /** Stopped by Ctrl-C; `rpo run` again continues the run. */
  interrupted: 130,
} as const

export function exitCodeFor(error: unknown): number {
  if (!isRpoError(error)) return ExitCode.internal
  switch (error.code) {
    case 'config-invalid':
    case 'config-not-found':
    case 'spec-invalid':
    case 'spec-not-found':
    case 'spec-unparsable':
    case 'dag-cycle':
    case 'dag-unknown-dependency':
    case 'resources-unsatisfiable':
    case 'usage':
    case 'output-unwritable':
    case 'unsupported':
    case 'run-not-found':
    case 'task-not-found':
    case 'budget-period-invalid':
    case 'grant-invalid':
    case 'grant-not-found':
    case 'grant-expired':
    case 'revoke-exceeds-unused':
    case 'lend-exceeds-remaining':
    case 'budget-not-permitted':
    case 'token-not-found':
    case 'project-not-found':
    case 'unauthenticated':
    case 'forbidden':
      return ExitCode.invalidInput
    case 'store-locked':
    case 'store-corrupt':
    case 'store-unavailable':
    case 'store-migration':
    case 'store-disk-full':
    case 'store-read-only':
    case 'store-newer-schema':
    case 'lease-held':
      return ExitCode.storeError
    case 'internal':
      return ExitCode.internal
    default:
      return ExitCode.schedulerError
  }
}

export const EXIT_CODES_HELP = `
Exit codes:
  0    success (for run: every task succeeded or was skipped by a condition)
  1    the run failed or was cancelled
  2    invalid input: pipeline or config file, arguments, or a task no target can run
  3    store problem: locked, corrupted, disk full, read-only, unreachable, or written by a newer rpo
  4    cluster problem: unreachable, or a scheduler command failed
  70   internal error (a bug in rpo)
  130  interrupted with Ctrl-C; run the same command again to continue`
