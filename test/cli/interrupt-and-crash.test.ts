// Ctrl-C and a killed rpo: the store stays consistent, nothing runs twice, a rerun continues the run.
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { isProcessAlive, makeWorkDir, runCli, spawnCli, writePipeline } from '../support/cli-harness.js'

// "slow" sleeps only on its first attempt (marker file), records each start, and leaves its pid behind
const PIPELINE = `
name: interruptible
tasks:
  quick:
    command: echo quick >> starts.log
  slow:
    after: [quick]
    command: |
      echo "slow $RPO_ATTEMPT" >> starts.log
      echo $$ > slow.pid
      if [ ! -f marker ]; then touch marker; sleep 30; fi
  after:
    after: [slow]
    command: echo after >> starts.log
`

describe('interrupting and crashing rpo run', () => {
  it('Ctrl-C stops running tasks, exits 130, and a second run continues the same run', async () => {
    const dir = makeWorkDir()
    writePipeline(dir, 'p.yaml', PIPELINE)
    const first = spawnCli(dir, ['run', 'p.yaml'])
    await first.waitFor('▶ slow started')
    const pid = Number(readFileSync(path.join(dir, 'slow.pid'), 'utf8'))
    expect(isProcessAlive(pid)).toBe(true)
    first.child.kill('SIGINT')
    expect(await first.exited()).toBe(130)
    expect(first.stderr()).toContain('interrupted: 1 running task(s) stopped')
    expect(isProcessAlive(pid)).toBe(false)
    const runId = /started run (\S+)/.exec(first.stderr())?.[1] as string

    const status = spawnCli(dir, ['status', runId, '--json'])
    await status.exited()
    const progress = JSON.parse(status.stdout())
    expect(progress.state).toBe('interrupted')
    expect(progress.tasks.find((t: { id: string }) => t.id === 'quick').state).toBe('succeeded')
    expect(progress.tasks.find((t: { id: string }) => t.id === 'slow').state).toBe('pending')

    const second = spawnCli(dir, ['run', 'p.yaml'])
    expect(await second.exited(), second.stderr()).toBe(0)
    expect(second.stderr()).toContain(`continuing run ${runId}`)
    // quick ran once; slow was interrupted once and then ran again; after ran once
    expect(readFileSync(path.join(dir, 'starts.log'), 'utf8').trim().split('\n')).toEqual([
      'quick',
      'slow 1',
      'slow 2',
      'after',
    ])
  }, 60_000)

  it('a second Ctrl-C right after the first forces exit 130, and the next rpo run still continues the run', async () => {
    const dir = makeWorkDir()
    writePipeline(dir, 'p.yaml', PIPELINE)
    const first = spawnCli(dir, ['run', 'p.yaml'])
    await first.waitFor('▶ slow started')
    first.child.kill('SIGINT')
    await new Promise((r) => setTimeout(r, 20))
    first.child.kill('SIGINT')
    expect(await first.exited()).toBe(130)
    const runId = /started run (\S+)/.exec(first.stderr())?.[1] as string

    const second = spawnCli(dir, ['run', 'p.yaml'])
    expect(await second.exited(), second.stderr()).toBe(0)
    expect(second.stderr()).toContain(`continuing run ${runId}`)
    expect(readFileSync(path.join(dir, 'starts.log'), 'utf8').trim().split('\n')).toEqual([
      'quick',
      'slow 1',
      'slow 2',
      'after',
    ])
  }, 60_000)

  it('`rpo cancel` while `rpo run` follows the run: the run is cancelled and the follower says so', async () => {
    const dir = makeWorkDir()
    writePipeline(dir, 'p.yaml', PIPELINE)
    const follower = spawnCli(dir, ['run', 'p.yaml'])
    await follower.waitFor('▶ slow started')
    const runId = /started run (\S+)/.exec(follower.stderr())?.[1] as string
    const cancel = await runCli(dir, ['cancel', runId])
    expect(cancel.code, cancel.stderr).toBe(0)
    expect(cancel.stdout).toContain(`run ${runId} cancelled`)
    expect(await follower.exited(), follower.stderr()).toBe(1)
    expect(follower.stderr()).toContain(`run ${runId} was cancelled (by rpo cancel)`)
    const status = await runCli(dir, ['status', runId, '--json'])
    const progress = JSON.parse(status.stdout)
    expect(progress.state).toBe('cancelled')
    expect(progress.tasks.map((t: { id: string; state: string }) => [t.id, t.state])).toEqual([
      ['quick', 'succeeded'],
      ['slow', 'cancelled'],
      ['after', 'cancelled'],
    ])
  }, 60_000)

  it('a killed rpo leaves its task running; the next rpo run picks it up without starting it again', async () => {
    const dir = makeWorkDir()
    writePipeline(
      dir,
      'p.yaml',
      `
name: crashy
tasks:
  work:
    command: echo "work $RPO_ATTEMPT" >> starts.log; sleep 2; echo done > work.out
  next:
    after: [work]
    command: echo next >> starts.log
`,
    )
    const first = spawnCli(dir, ['run', 'p.yaml'])
    await first.waitFor('▶ work started')
    first.child.kill('SIGKILL')
    await first.exited()
    const second = spawnCli(dir, ['run', 'p.yaml'])
    expect(await second.exited(), second.stderr()).toBe(0)
    expect(second.stderr()).toContain('continuing run crashy-')
    expect(existsSync(path.join(dir, 'work.out'))).toBe(true)
    expect(readFileSync(path.join(dir, 'starts.log'), 'utf8').trim().split('\n')).toEqual(['work 1', 'next'])
  }, 60_000)
})
