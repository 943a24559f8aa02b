// What rpo prints never carries a task's or a file's control characters to the user's terminal, and
// numeric arguments are read strictly.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { toTerminalText } from '../../src/cli/terminal-text.js'
import { makeWorkDir, runCli, writePipeline } from '../support/cli-harness.js'

const CONFIG = `
defaultCluster: box
clusters:
  box: { kind: local, cpus: 4, memory: 8G, killGrace: 200ms, pollInterval: 50ms }
`
// ESC, BEL, CSI in 7 and 8 bits, DEL, a bidi override
// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them is the point
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

function workspace(pipeline: string): string {
  const dir = makeWorkDir()
  writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
  writePipeline(dir, 'pipeline.yaml', pipeline)
  return dir
}

describe('terminal escape injection', () => {
  it('toTerminalText shows control characters as escapes and keeps text, tabs and newlines', () => {
    expect(toTerminalText('\u001b]0;PWNED\u0007\u001b[2J')).toBe('\\u001b]0;PWNED\\u0007\\u001b[2J')
    expect(toTerminalText('a\u009b31mb\u007f\u202eevil')).toBe('a\\u009b31mb\\u007f\\u202eevil')
    expect(toTerminalText('line 1\n\tline 2 ✓ é 日本')).toBe('line 1\n\tline 2 ✓ é 日本')
    expect(toTerminalText('over\rwrite')).toBe('over\\u000dwrite')
  })

  it("a task's output, params and failure reason reach `rpo run` and `rpo status` defused", async () => {
    // the task prints an OSC title change and a screen clear, then fails: its stderr becomes the reason
    const dir = workspace(
      [
        'name: hostile',
        'tasks:',
        '  shout:',
        '    matrix: { tag: ["\\e[31mred\\e[0m"] }',
        `    command: printf '\\033]0;PWNED\\007\\033[2J' >&2; exit 3`,
        '',
      ].join('\n'),
    )
    const run = await runCli(dir, ['run', 'pipeline.yaml'])
    expect(run.code).toBe(1)
    expect(run.stdout + run.stderr).not.toMatch(RAW_CONTROL)
    const status = await runCli(dir, ['status', '-n', '5'])
    expect(status.code).toBe(0)
    const runId = /run (\S+)/.exec(run.stderr + run.stdout)?.[1]
    expect(runId).toBeTruthy()
    const detail = await runCli(dir, ['status', runId as string])
    expect(detail.stdout).not.toMatch(RAW_CONTROL)
    // what was there is shown, not silently dropped
    expect(detail.stdout).toContain('\\u001b]0;PWNED\\u0007')
    expect(detail.stdout).toContain('\\u001b[31mred')
    const json = await runCli(dir, ['status', runId as string, '--json'])
    expect(json.stdout).not.toMatch(RAW_CONTROL)
    // --json stays valid and keeps the real value
    const parsed = JSON.parse(json.stdout) as { tasks: { params: { tag?: string } }[] }
    expect(parsed.tasks.map((t) => t.params.tag)).toContain('\u001b[31mred\u001b[0m')
  })
})

describe('rpo status -n', () => {
  it.each([['5x'], ['0'], ['-1'], ['1e3'], ['99999999999999999999']])(
    'refuses %s with exit 2 and says what it expects',
    async (value) => {
      const dir = workspace('name: x\ntasks:\n  a: { command: "true" }\n')
      const result = await runCli(dir, ['status', '-n', value])
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(/whole number from 1 to|at most/)
      expect(result.stderr).not.toMatch(/\n\s+at /)
    },
  )

  it('takes a plain count', async () => {
    const dir = workspace('name: x\ntasks:\n  a: { command: "true" }\n')
    expect((await runCli(dir, ['run', 'pipeline.yaml'])).code).toBe(0)
    const result = await runCli(dir, ['status', '-n', '1', '--json'])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toHaveLength(1)
  })
})
