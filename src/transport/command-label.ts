/**
 * How a command is named in error messages, shared by the transports so a timeout reads the same
 * locally and over SSH. Labels are shell-quoted (so they can be pasted) and bounded in length.
 */

import { quoteShellCommand } from '../script/shell-quote.js'

const MAX_LABEL_CHARS = 160

/** The argv as one shell-quoted line, cut at 160 characters. */
export function describeArgv(argv: readonly string[]): string {
  const text = quoteShellCommand(argv)
  return text.length > MAX_LABEL_CHARS ? `${text.slice(0, MAX_LABEL_CHARS - 3)}...` : text
}

/** A script run by bash from stdin, named by its size rather than its text (which can be long). */
export function describeScript(script: string): string {
  return `bash script (a ${script.length}-character script)`
}
