// The README's main job, exactly as a user runs it: the real bin/rpo.js on examples/quickstart.yaml.
import { cpSync, existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeWorkDir, REPO_ROOT, spawnCli } from '../support/cli-harness.js'

describe('rpo run examples/quickstart.yaml (real CLI)', () => {
  it('runs the sweep to the end, in dependency order, and exits 0 with a summary', async () => {
    const dir = makeWorkDir()
    cpSync(path.join(REPO_ROOT, 'examples'), path.join(dir, 'examples'), { recursive: true })
    const cli = spawnCli(dir, ['run', 'examples/quickstart.yaml'])
    const code = await cli.exited()
    expect(cli.stderr()).toContain('started run quickstart-')
    expect(code, cli.stderr()).toBe(0)
    expect(cli.stdout()).toMatch(/state succeeded\s+8\/8 done/)
    expect(cli.stdout()).toContain('lr=0.5 degree=3')

    // dependency order, read back from the progress lines: prepare ends before any train starts, etc.
    const lines = cli.stderr().split('\n')
    const at = (text: string) => lines.findIndex((l) => l.includes(text))
    expect(at('✓ prepare succeeded')).toBeLessThan(at('▶ train.0 started'))
    for (const i of [0, 1, 2, 3, 4]) expect(at(`✓ train.${i} succeeded`)).toBeLessThan(at('▶ evaluate started'))
    expect(at('✓ evaluate succeeded')).toBeLessThan(at('▶ report started'))

    const runId = /started run (\S+)/.exec(cli.stderr())?.[1] as string
    const report = path.join(dir, '.rpo/runs', runId, 'report/report.md')
    expect(existsSync(report)).toBe(true)
    expect(readFileSync(report, 'utf8')).toMatch(/\| train\.\d \| 0\.5 \| 3 \| 0\.\d+ \|/)

    const status = spawnCli(dir, ['status', runId, '--json'])
    expect(await status.exited()).toBe(0)
    const progress = JSON.parse(status.stdout())
    expect(progress.state).toBe('succeeded')
    expect(progress.tasks.map((t: { id: string }) => t.id)).toEqual([
      'prepare',
      'train.0',
      'train.1',
      'train.2',
      'train.3',
      'train.4',
      'evaluate',
      'report',
    ])
    expect(progress.tasks.every((t: { attempt: number }) => t.attempt === 1)).toBe(true)
  }, 60_000)
})
