// The one shell-quoting function, checked against the real shells a script meets: dash (POSIX sh on
// Debian) and bash. Whatever the value, the shell hands it over byte for byte and runs nothing.
import { spawnSync } from 'node:child_process'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { quoteShellWord } from '../../src/script/shell-quote.js'

function echoedBy(shell: string, values: readonly string[]): string[] {
  // one printf per value, NUL-separated, so newlines and CRs inside values survive the comparison
  const script = values.map((v) => `printf '%s\\0' ${quoteShellWord(v)}`).join('\n')
  const result = spawnSync(shell, ['-c', script], { encoding: 'utf8' })
  expect(result.status, result.stderr).toBe(0)
  return result.stdout.split('\0').slice(0, -1)
}

const HOSTILE = [
  '',
  "it's",
  '$(touch /tmp/rpo-quote-canary)',
  '`id`',
  'a b\tc',
  'line 1\nline 2',
  'windows\r\nline',
  '\r',
  'ends with CR\r',
  '\r\'\r"\r',
  '\u001b]0;title\u0007',
  '--flag=x',
]

describe('quoteShellWord', () => {
  it.each(['sh', 'bash'])('passes hostile values through %s intact', (shell) => {
    expect(echoedBy(shell, HOSTILE)).toEqual(HOSTILE)
  })

  it('never puts a carriage return into the script text (sbatch refuses DOS line breaks)', () => {
    for (const value of HOSTILE) expect(quoteShellWord(value)).not.toContain('\r')
  })

  it('round-trips arbitrary strings through sh', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ unit: 'binary' }).filter((s) => !s.includes('\0')),
          { maxLength: 8 },
        ),
        (values) => {
          expect(echoedBy('sh', values)).toEqual(values)
        },
      ),
      { numRuns: 60, seed: 20261204 },
    )
  })
})
