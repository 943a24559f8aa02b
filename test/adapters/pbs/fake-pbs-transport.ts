// A fake Transport for the PBS adapter tests: commands are answered by a function, scripts by
// another, and the job-file reads from a fake remote file system the way the real script would.
import type { ExecOptions, ExecResult, Transport } from '../../../src/transport/transport.js'

export const ok = (stdout = '', stderr = ''): ExecResult => ({ stdout, stderr, exitCode: 0, signal: null })
export const exit = (exitCode: number, stdout = '', stderr = ''): ExecResult => ({
  stdout,
  stderr,
  exitCode,
  signal: null,
})

export type Answer = (argv: readonly string[]) => ExecResult | undefined

/**
 * Commands are answered by `answer`; scripts by `scriptAnswer`, except the job-file reads, which are
 * answered from `files` (a fake remote file system) the way the real script would.
 */
export class FakeTransport implements Transport {
  readonly description = 'fake login node'
  readonly commands: string[][] = []
  readonly scripts: string[] = []
  readonly files = new Map<string, string>()
  closed = false
  constructor(
    public answer: Answer,
    public scriptAnswer: (script: string) => ExecResult = () => ok(),
  ) {}

  async exec(argv: readonly string[], _options?: ExecOptions): Promise<ExecResult> {
    this.commands.push([...argv])
    if (argv[0] === 'date') return ok('+0000\n')
    const result = this.answer(argv)
    if (result === undefined) throw new Error(`unexpected command ${argv.join(' ')}`)
    return result
  }

  async execScript(script: string): Promise<ExecResult> {
    this.scripts.push(script)
    if (script.startsWith('rpo_read()')) {
      const lines = [...script.matchAll(/^rpo_read (\d+) (\w+) (\S+)$/gm)].flatMap(([, i, name, file]) => {
        const content = this.files.get((file as string).replace(/^'|'$/g, ''))
        return content === undefined ? [] : [`rpo-file ${i} ${name} ${content.split('\n')[0]}`]
      })
      return ok(lines.map((l) => `${l}\n`).join(''))
    }
    return this.scriptAnswer(script)
  }

  async readFile(): Promise<string> {
    throw new Error('not used')
  }

  async writeFile(): Promise<void> {
    throw new Error('not used')
  }

  async close(): Promise<void> {
    this.closed = true
  }

  /** Scheduler commands only (not `date`). */
  get schedulerCommands(): string[] {
    return this.commands.filter((argv) => argv[0] !== 'date').map((argv) => argv.join(' '))
  }
}
