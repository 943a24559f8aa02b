/**
 * Running scheduler commands (squeue, qstat, scontrol, qdel, …) for the Slurm and PBS adapters, one
 * way for both: each command with its timeout (a base plus a little per job it handles), and a
 * command that did not succeed read as one of three typed errors:
 *
 * - connection: the transport could not run it or gave up waiting (`TransportError`: `ssh-*`,
 *   `command-timeout`), passed on as it is; the transport decides what is retryable;
 * - transient: the scheduler answered that it is down or overloaded (the adapter's `unavailable`
 *   words): `SchedulerCommandError('scheduler-unavailable')`, retryable, never a job's failure;
 * - command-failed: anything else that exited non-zero, with what it said; a command that is not
 *   there at all says so and asks whether this is the scheduler's login node.
 *
 * What a non-zero exit may still mean (qstat's "unknown job" for jobs that ended, squeue's "invalid
 * job id") stays with each adapter, through `allowFailure`.
 */
import { SchedulerCommandError } from '../core/errors.js'
import type { ExecResult, Transport } from '../transport/transport.js'

export interface CommandRunnerOptions {
  readonly transport: Transport
  /** The scheduler as a user's message names it, e.g. `Slurm` or `PBS`. */
  readonly scheduler: string
  /** What the scheduler's clients say when it is down or overloaded (worth retrying). */
  readonly unavailable: RegExp
  /** Per command, before the allowance per job. @default 120000 */
  readonly timeoutMs?: number
}

export interface RunOptions {
  /** Whether running it twice is harmless (see ExecOptions.idempotent). */
  readonly idempotent: boolean
  /** A non-zero exit this accepts is an answer, not an error. */
  readonly allowFailure?: (result: ExecResult) => boolean
  /** How many jobs it handles: each adds to the timeout. @default 1 */
  readonly jobs?: number
}

/** Extra time a command gets per job it handles. */
const PER_JOB_MS = 200

// a shell's word for a program that is not there (bash prints it and exits 127)
const NOT_FOUND = /command not found|No such file or directory/i

export class CommandRunner {
  readonly transport: Transport
  readonly #options: CommandRunnerOptions

  constructor(options: CommandRunnerOptions) {
    this.transport = options.transport
    this.#options = options
  }

  /** A command's timeout, longer by a little per job it handles. */
  timeout(jobs = 1): number {
    return (this.#options.timeoutMs ?? 120_000) + jobs * PER_JOB_MS
  }

  /** Run one command; a non-zero exit that `allowFailure` does not accept is thrown as a typed error. */
  async run(argv: readonly string[], options: RunOptions): Promise<ExecResult> {
    const result = await this.transport.exec(argv, {
      idempotent: options.idempotent,
      timeoutMs: this.timeout(options.jobs),
    })
    if (result.exitCode === 0 || options.allowFailure?.(result)) return result
    throw this.error(argv, result)
  }

  /**
   * Run one script (bash, from stdin); its answer is the caller's to read, except a failure of the shell
   * itself: `label` names the script in errors.
   */
  async runScript(
    script: string,
    options: RunOptions & { readonly label: readonly string[]; readonly check?: boolean },
  ): Promise<ExecResult> {
    const result = await this.transport.execScript(script, {
      idempotent: options.idempotent,
      timeoutMs: this.timeout(options.jobs),
    })
    if (!options.check || result.exitCode === 0 || options.allowFailure?.(result)) return result
    throw this.error(options.label, result)
  }

  /** Whether a client's message says the scheduler did not answer (rather than refused). */
  isUnavailable(message: string): boolean {
    return this.#options.unavailable.test(message)
  }

  /** The typed error for a command that ran and did not succeed. */
  error(argv: readonly string[], result: ExecResult): SchedulerCommandError {
    // `env VAR=… squeue …`: name the scheduler's command, not env
    const start = argv.findIndex((word) => word !== 'env' && !word.includes('='))
    const command = start < 0 ? argv : argv.slice(start)
    const name = command[0] ?? 'command'
    // some clients (the Slurm Torque wrappers) print their errors on stdout
    const said = result.stderr.trim() === '' ? result.stdout : result.stderr
    if (result.exitCode === 127 || (NOT_FOUND.test(said) && said.includes(name))) {
      return new SchedulerCommandError(
        'command-failed',
        command,
        result.exitCode,
        said,
        `${name} is not available on ${this.transport.description}: is this a ${this.#options.scheduler} login node, with ${name} on the PATH of a non-interactive shell?`,
      )
    }
    const code = this.isUnavailable(said) ? 'scheduler-unavailable' : 'command-failed'
    return new SchedulerCommandError(code, command, result.exitCode, said)
  }
}
