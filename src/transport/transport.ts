/**
 * The Transport contract: how rpo runs commands and moves files on the machine where the scheduler
 * lives. Implementations: the local shell (rpo runs on the login node) and SSH (one persistent ssh2
 * connection). Adapters receive a Transport and never import ssh2 or node:child_process themselves.
 */

export interface ExecOptions {
  /** Bytes written to the command's standard input, then closed. */
  readonly stdin?: string
  /** Kill the command and throw `TransportError('command-timeout')` after this long. @default 60000 */
  readonly timeoutMs?: number
  /**
   * Whether running the command twice is harmless. After a dropped connection a transport re-runs an
   * idempotent command on the new connection; a non-idempotent one fails with a retryable error so the
   * caller can find out (e.g. by submission key) what happened. @default false
   */
  readonly idempotent?: boolean
}

export interface ExecResult {
  readonly stdout: string
  readonly stderr: string
  /** Exit status; null when the command was ended by a signal. */
  readonly exitCode: number | null
  readonly signal: string | null
}

export interface Transport {
  /** A short description for messages and logs, e.g. `ssh alice@login1:22` or `local`. Never a secret. */
  readonly description: string
  /**
   * Run `argv` on the target. Every element is passed as one word: implementations quote for the
   * remote shell in exactly one place (`quoteShellWord`). A non-zero exit is a result, not an error;
   * errors are for not being able to run the command at all (`TransportError`).
   */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>
  /** Run one shell script text with bash (the script arrives on stdin and is read whole before it runs). */
  execScript(script: string, options?: Omit<ExecOptions, 'stdin'>): Promise<ExecResult>
  readFile(path: string): Promise<string>
  /** Write atomically where the target allows (temp file + rename). Creates parent directories. */
  writeFile(path: string, content: string, options?: { mode?: number }): Promise<void>
  close(): Promise<void>
}
