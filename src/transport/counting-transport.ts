/**
 * Counting the commands rpo runs on a cluster: a Transport around another that counts every
 * command and script it runs (`exec`, `execScript`; file reads and writes are not commands). The
 * composition root wraps each cluster's transport in one and hands the count to the engine, which
 * reports the commands of each tick; adapters keep no counters of their own.
 */
import type { ExecOptions, ExecResult, Transport } from './transport.js'

/** Something that knows how many commands were run so far. */
export interface CommandCounter {
  readonly commandsRun: number
}

export class CountingTransport implements Transport, CommandCounter {
  readonly #inner: Transport
  #commandsRun = 0

  constructor(inner: Transport) {
    this.#inner = inner
  }

  get description(): string {
    return this.#inner.description
  }

  /** Commands and scripts started so far, whether they succeeded, failed or could not run. */
  get commandsRun(): number {
    return this.#commandsRun
  }

  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    this.#commandsRun++
    return this.#inner.exec(argv, options)
  }

  execScript(script: string, options?: Omit<ExecOptions, 'stdin'>): Promise<ExecResult> {
    this.#commandsRun++
    return this.#inner.execScript(script, options)
  }

  readFile(path: string): Promise<string> {
    return this.#inner.readFile(path)
  }

  writeFile(path: string, content: string, options?: { mode?: number }): Promise<void> {
    return this.#inner.writeFile(path, content, options)
  }

  close(): Promise<void> {
    return this.#inner.close()
  }
}
