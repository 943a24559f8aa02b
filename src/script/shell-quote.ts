/**
 * Where batch-script code has always found the shell quoting; the one function itself lives in the
 * pure core (src/core/text/shell-quote.ts), which pipeline expansion uses too.
 */
export { isSafeName, quoteShellCommand, quoteShellWord, SAFE_NAME } from '../core/text/shell-quote.js'
