/**
 * Reading the end of jobs' output files on the cluster, many jobs in one remote script: how an
 * adapter finds the scheduler's own last words about a failed job (e.g. a memory kill) when its
 * accounting does not say. Bounded per file; base64 on the wire, so nothing a job printed can pass
 * for the framing.
 */
import { SchedulerCommandError } from '../core/errors.js'
import { quoteShellWord } from '../script/shell-quote.js'
import type { Transport } from '../transport/transport.js'

/** How much of the end of each file is read: the scheduler's messages are the last thing written. */
export const OUTPUT_TAIL_BYTES = 16_384

/**
 * One remote script printing the last OUTPUT_TAIL_BYTES of each file as `rpo-tail <i> <base64>`
 * lines, `i` the index of the request the file belongs to; a missing file prints nothing.
 */
export function buildReadOutputTailsScript(requests: readonly { readonly files: readonly string[] }[]): string {
  const lines = ['set -u']
  requests.forEach((request, i) => {
    for (const file of request.files) {
      const quoted = quoteShellWord(file)
      lines.push(
        `if [ -f ${quoted} ]; then printf 'rpo-tail ${i} '; tail -c ${OUTPUT_TAIL_BYTES} -- ${quoted} | base64 -w 0; echo; fi`,
      )
    }
  })
  return `${lines.join('\n')}\n`
}

/** `buildReadOutputTailsScript`'s output → the text read for each request (its files joined), by index. */
export function parseReadOutputTails(stdout: string): Map<number, string> {
  const found = new Map<number, string>()
  for (const match of stdout.matchAll(/^rpo-tail (\d+) ([A-Za-z0-9+/=]*)$/gm)) {
    const i = Number(match[1])
    found.set(i, `${found.get(i) ?? ''}${Buffer.from(match[2] ?? '', 'base64').toString('utf8')}\n`)
  }
  return found
}

/** The tails of each request's files, by request index (one remote script for all of them). */
export async function readOutputTails(
  transport: Transport,
  requests: readonly { readonly files: readonly string[] }[],
  timeoutMs: number,
): Promise<Map<number, string>> {
  const result = await transport.execScript(buildReadOutputTailsScript(requests), { idempotent: true, timeoutMs })
  if (result.exitCode !== 0) throw new SchedulerCommandError('command-failed', ['tail'], result.exitCode, result.stderr)
  return parseReadOutputTails(result.stdout)
}
