/**
 * The error vocabulary of rpo. Every error a user can see is an `RpoError` with a stable `code`
 * (branch on it, never on the message), a `retryable` flag, and a message that says what to do.
 * Expected outcomes (a failed task, an exhausted budget) are values, not exceptions.
 */

export type RpoErrorCode =
  | 'config-invalid'
  | 'config-not-found'
  | 'spec-invalid'
  | 'spec-not-found'
  | 'spec-unparsable'
  | 'dag-cycle'
  | 'dag-unknown-dependency'
  | 'resources-unsatisfiable'
  | 'parse-error'
  | 'ssh-auth'
  | 'ssh-host-key'
  | 'ssh-timeout'
  | 'ssh-dns'
  | 'ssh-socket'
  | 'ssh-config'
  | 'command-timeout'
  | 'command-failed'
  | 'scheduler-unavailable'
  | 'job-rejected'
  | StoreErrorCode
  | 'budget-period-invalid'
  | 'grant-invalid'
  | 'grant-not-found'
  | 'grant-expired'
  | 'revoke-exceeds-unused'
  | 'lend-exceeds-remaining'
  | 'budget-not-permitted'
  /** HTTP API: no token, or one that is unknown or revoked (401); one without the right (403). */
  | 'token-not-found'
  | 'project-not-found'
  | 'unauthenticated'
  | 'forbidden'
  | 'usage'
  /** A file the user asked rpo to write (a report) cannot be written. */
  | 'output-unwritable'
  /** The target cannot do what was asked (no hold, no signals): its capabilities say so. */
  | 'unsupported'
  | 'internal'

export class RpoError extends Error {
  readonly code: RpoErrorCode
  readonly retryable: boolean

  constructor(code: RpoErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'RpoError'
    this.code = code
    this.retryable = options.retryable ?? false
  }
}

/** One problem found in a config or pipeline file, located by file and path inside it. */
export interface SpecIssue {
  readonly file: string
  /** Dotted path inside the document, e.g. `tasks.train.resources.gpus.count`; empty for the root. */
  readonly path: string
  readonly message: string
}

/** A config or pipeline file that does not validate. Lists every problem, not only the first. */
export class SpecError extends RpoError {
  readonly issues: readonly SpecIssue[]

  constructor(code: 'spec-invalid' | 'config-invalid' | 'spec-unparsable', issues: readonly SpecIssue[]) {
    super(code, issues.map(formatSpecIssue).join('\n'))
    this.name = 'SpecError'
    this.issues = issues
  }
}

export function formatSpecIssue(issue: SpecIssue): string {
  return issue.path === '' ? `${issue.file}: ${issue.message}` : `${issue.file}: ${issue.path}: ${issue.message}`
}

export class DagError extends RpoError {
  constructor(code: 'dag-cycle' | 'dag-unknown-dependency' | 'resources-unsatisfiable', message: string) {
    super(code, message)
    this.name = 'DagError'
  }
}

/** Scheduler or command output that does not have the structure its parser expects. */
export class ParseError extends RpoError {
  readonly source: string
  readonly excerpt: string

  constructor(source: string, message: string, excerpt: string) {
    super('parse-error', `${source}: ${message}${excerpt ? ` (near: ${JSON.stringify(excerpt.slice(0, 120))})` : ''}`)
    this.name = 'ParseError'
    this.source = source
    this.excerpt = excerpt.slice(0, 500)
  }
}

export class TransportError extends RpoError {
  constructor(
    code: 'ssh-auth' | 'ssh-host-key' | 'ssh-timeout' | 'ssh-dns' | 'ssh-socket' | 'ssh-config' | 'command-timeout',
    message: string,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(code, message, {
      ...options,
      retryable: options.retryable ?? (code === 'ssh-timeout' || code === 'ssh-socket' || code === 'ssh-dns'),
    })
    this.name = 'TransportError'
  }
}

/** A scheduler command that ran and failed (non-zero exit), with what it said. */
export class SchedulerCommandError extends RpoError {
  readonly argv: readonly string[]
  readonly exitCode: number | null
  readonly stderr: string

  constructor(
    code: 'command-failed' | 'scheduler-unavailable' | 'job-rejected',
    argv: readonly string[],
    exitCode: number | null,
    stderr: string,
    message?: string,
  ) {
    const said = stderr.trim().split('\n').slice(-5).join(' | ')
    super(code, message ?? `${argv[0] ?? 'command'} failed (exit ${exitCode ?? 'signal'})${said ? `: ${said}` : ''}`, {
      retryable: code === 'scheduler-unavailable',
    })
    this.name = 'SchedulerCommandError'
    this.argv = argv
    this.exitCode = exitCode
    this.stderr = stderr.slice(-4000)
  }
}

export type StoreErrorCode =
  | 'store-locked'
  | 'store-corrupt'
  | 'store-unavailable'
  | 'store-migration'
  | 'store-disk-full'
  | 'store-read-only'
  | 'store-newer-schema'
  | 'run-not-found'
  | 'task-not-found'
  | 'lease-held'
  | 'lease-lost'

export class StoreError extends RpoError {
  /**
   * Only what passes by itself is retryable: a locked store, a held lease, a server that cannot be
   * reached. A full disk, a read-only or corrupted store stay so until the user acts.
   */
  constructor(code: StoreErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(code, message, {
      ...options,
      retryable:
        options.retryable ??
        (code === 'store-locked' || code === 'store-unavailable' || code === 'lease-held' || code === 'lease-lost'),
    })
    this.name = 'StoreError'
  }
}

/** A value read from the store that is not what rpo wrote there (a damaged row, a bit flip). */
export class StoreCorrupted extends StoreError {
  readonly runId: string | null
  readonly column: string

  constructor(where: { readonly runId: string | null; readonly column: string }, found: string, description: string) {
    super(
      'store-corrupt',
      `store corrupted: ${where.runId === null ? '' : `run ${where.runId}, `}column ${where.column} (${found}) in ${description}. Restore the store from a backup, or move it aside to start a new one.`,
    )
    this.name = 'StoreCorrupted'
    this.runId = where.runId
    this.column = where.column
  }
}

/** A budget period or a budget change that cannot be applied (or that this user may not make); the message names the bad value. */
export class BudgetError extends RpoError {
  constructor(
    code:
      | 'budget-period-invalid'
      | 'grant-invalid'
      | 'grant-not-found'
      | 'grant-expired'
      | 'revoke-exceeds-unused'
      | 'lend-exceeds-remaining'
      | 'budget-not-permitted',
    message: string,
  ) {
    super(code, message)
    this.name = 'BudgetError'
  }
}

export function isRpoError(error: unknown): error is RpoError {
  return error instanceof RpoError
}
