/**
 * The one shell-quoting function. Every value that reaches a batch script or a remote command line
 * passes through `quoteShellWord`; nothing else in rpo concatenates user input into shell text. Pure,
 * and in the core because pipeline expansion quotes `{{params.x}}` with it.
 */

const SAFE_WORD = /^[A-Za-z0-9_./:=@%+,-]+$/

/**
 * A carriage return made by the shell at run time. sbatch refuses a script that contains a CR
 * ("DOS line breaks"), and `$'\r'` is not POSIX sh, so the script text carries none.
 */
const CARRIAGE_RETURN = `"$(printf '\\r')"`

/** Quote one word for POSIX sh/bash so that it is passed through literally. */
export function quoteShellWord(value: string): string {
  if (value.includes('\0')) throw new TypeError('a shell word cannot contain a NUL byte')
  if (value !== '' && SAFE_WORD.test(value)) return value
  if (value.includes('\r')) return value.split('\r').map(quoteCrFree).join(CARRIAGE_RETURN)
  return quoteCrFree(value)
}

function quoteCrFree(value: string): string {
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
