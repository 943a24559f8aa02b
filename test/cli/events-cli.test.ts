/**
 * `rpo events` as a user types it: the events of a real local run (listed, filtered, paged, as text
 * and as JSON lines), bad arguments refused with exit 2, and `--follow` in a separate rpo process
 * printing a run's events as another process stores them, ended by Ctrl-C with exit 0.
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { RpoEvent } from '../../src/events/event-schemas.js'
import { makeWorkDir, runCli, spawnCli, writePipeline } from '../support/cli-harness.js'

const CONFIG = `
defaultCluster: box
clusters:
  box: { kind: local, cpus: 2, memory: 4G, killGrace: 200ms, pollInterval: 50ms }
`

function workspace(): string {
  const dir = makeWorkDir('rpo-events-')
  writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
  writePipeline(
    dir,
    'pipeline.yaml',
    'name: chain\nproject: vision\ntasks:\n  a: { command: "true" }\n  b: { command: "exit 3", after: [a] }\n',
  )
  return dir
}

const jsonLines = (text: string): RpoEvent[] =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RpoEvent)

describe('rpo events', () => {
  it('lists a run’s events in order, filters them by type, project and run, and pages after an id', async () => {
    const dir = workspace()
    const run = await runCli(dir, ['run', 'pipeline.yaml', '--quiet'])
    expect(run.code).toBe(1)

    const listed = await runCli(dir, ['events', '--after', '0', '--json'])
    expect(listed.code).toBe(0)
    const events = jsonLines(listed.stdout)
    const runId = events[0]?.runId as string
    expect(events.map((e) => e.type).filter((t) => t.startsWith('run.'))).toEqual(['run.started', 'run.finished'])
    expect(events.at(-1)).toMatchObject({ type: 'run.finished', project: 'vision', payload: { state: 'failed' } })
    const ids = events.map((e) => e.id)
    expect(ids).toEqual([...ids].sort((x, y) => x - y))
    // each attempt from its intent to its end, and each task's way
    const attemptsOfB = events.filter((e) => e.type === 'attempt.state' && e.taskId === 'b')
    expect(attemptsOfB[0]?.payload).toMatchObject({ from: null, to: 'submitting', attempt: 1 })
    expect(attemptsOfB.at(-1)?.payload).toMatchObject({ to: 'failed', exitCode: 3 })
    const taskB = events.filter((e) => e.type === 'task.state' && e.taskId === 'b').map((e) => e.payload)
    expect(taskB.at(-1)).toMatchObject({ to: 'failed' })
    expect(taskB.map((p) => (p as { from: string }).from)[0]).toBe('pending')

    // the newest 20 by default, as text
    const text = await runCli(dir, ['events', '--type', 'task.state', '--run', runId.slice(0, runId.length - 2)])
    expect(text.code).toBe(0)
    const lines = text.stdout.trim().split('\n')
    expect(lines.length).toBe(events.filter((e) => e.type === 'task.state').length)
    expect(lines.at(-1)).toMatch(
      /^#\d+ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}task\.state +vision chain-\S+ b {2}active → failed/,
    )

    // a category stands for its types; projects filter
    const runs = jsonLines((await runCli(dir, ['events', '--type', 'run', '--json'])).stdout)
    expect(runs.map((e) => e.type)).toEqual(['run.started', 'run.finished'])
    const other = await runCli(dir, ['events', '--project', 'nlp'])
    expect(other.stdout).toMatch(/^no events matching the filters in SQLite store/)

    // paging: two pages after an id are the list after it
    const first = jsonLines((await runCli(dir, ['events', '--after', '0', '-n', '3', '--json'])).stdout)
    const second = jsonLines(
      (await runCli(dir, ['events', '--after', String(first.at(-1)?.id), '-n', '1000', '--json'])).stdout,
    )
    expect([...first, ...second]).toEqual(events)
  })

  it.each([
    [['events', '--type', 'task.started'], /unknown event type "task\.started"; the types are run\.started/],
    [['events', '--after', '-1'], /expected an event id \(a whole number of 0 or more\), got "-1"/],
    [['events', '--after', '1e3'], /expected an event id/],
    [['events', '-n', '0'], /expected a whole number from 1 to 100000/],
    [['events', '--run', 'no-such-run'], /no run "no-such-run"/],
  ])('refuses %j with exit 2 and says why', async (args, message) => {
    const dir = workspace()
    const result = await runCli(dir, args)
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(message)
  })

  it('--follow in its own process prints a run’s events as they are stored, until Ctrl-C', async () => {
    const dir = workspace()
    expect((await runCli(dir, ['run', 'pipeline.yaml', '--quiet'])).code).toBe(1)
    const follower = spawnCli(dir, ['events', '--after', '0', '--follow', '--json'])
    try {
      // the first run's events listed: from here on the follower is following
      await follower.waitFor('"type":"run.finished"')
      const second = await runCli(dir, ['run', 'pipeline.yaml', '--quiet'])
      expect(second.code).toBe(1)
      await follower.waitFor(/"type":"run\.finished"[\s\S]*"type":"run\.finished"/)
      follower.child.kill('SIGINT')
      const { code, stdout } = await follower.closed()
      expect(code).toBe(0)
      const followed = jsonLines(stdout)
      const stored = jsonLines((await runCli(dir, ['events', '--after', '0', '--json', '-n', '1000'])).stdout)
      expect(new Set(stored.map((e) => e.runId)).size).toBe(2)
      expect(followed).toEqual(stored)
    } finally {
      if (follower.child.exitCode === null) follower.child.kill('SIGKILL')
    }
  })
})
