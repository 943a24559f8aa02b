/**
 * The one shell-quoting function. Every value that reaches a batch script or a remote command line
 * passes through `quoteShellWord`; nothing else in rpo concatenates user input into shell text.
 */

const SAFE_WORD = /^[A-Za-z0-9_./:=@%+,-]+$/

/** Quote one word for POSIX sh/bash so that it is passed through literally. */
export function quoteShellWord(value: string): string {
  if (value.includes('\0')) throw new TypeError('a shell word cannot contain a NUL byte')
  if (value !== '' && SAFE_WORD.test(value)) return value
  return `'${value.replaceAll("'", `'\\''`)}'`
}

/** Quote every word of an argv and join them into one command line. */
export function quoteShellCommand(argv: readonly string[]): string {
  return argv.map(quoteShellWord).join(' ')
}

/** Names that reach job names, file names and environment values unquoted must match this. */
export const SAFE_NAME = /^[A-Za-z0-9._-]+$/

export function isSafeName(name: string): boolean {
  return SAFE_NAME.test(name) && name !== '.' && name !== '..'
}
