// Bad input of every kind gets a clear message naming what and where, the documented exit code,
// and a consistent store.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { makeWorkDir, runCli, writePipeline } from '../support/cli-harness.js'

const CONFIG = `
defaultCluster: box
clusters:
  box: { kind: local, cpus: 4, memory: 8G, gpus: [{ type: a100, count: 2 }], killGrace: 200ms, pollInterval: 50ms }
`

function workspace(pipeline: string): { dir: string; file: string } {
  const dir = makeWorkDir()
  writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
  return { dir, file: writePipeline(dir, 'pipeline.yaml', pipeline) }
}

describe('invalid pipeline files', () => {
  it('malformed YAML names the file and line', async () => {
    const { dir } = workspace('name: x\ntasks:\n  a: {command: "echo"\n  b: [\n')
    const result = await runCli(dir, ['validate', 'pipeline.yaml'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/pipeline\.yaml:\d+:\d+: not valid YAML\/JSON/)
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })

  it('malformed JSON is reported the same way', async () => {
    const { dir } = workspace('')
    writeFileSync(path.join(dir, 'p.json'), '{"name": "x", "tasks": {"a": {"command": "echo"}},}')
    const result = await runCli(dir, ['validate', 'p.json'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/p\.json:1:\d+: not valid YAML\/JSON/)
  })

  it('a wrong type says where, what was expected and what was found', async () => {
    const { dir } = workspace(
      'name: x\ntasks:\n  train:\n    command: python train.py\n    resources:\n      gpus: { count: two }\n',
    )
    const result = await runCli(dir, ['run', 'pipeline.yaml'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(
      'pipeline.yaml:6:22: tasks.train.resources.gpus.count: expected a positive integer, got "two"',
    )
  })

  it('unknown keys are rejected with a did-you-mean', async () => {
    const { dir } = workspace('name: x\ntasks:\n  train:\n    comand: python train.py\n    resources: { cpuz: 2 }\n')
    const result = await runCli(dir, ['validate', 'pipeline.yaml'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('tasks.train.comand: unknown key "comand" (did you mean "command"?)')
    expect(result.stderr).toContain('tasks.train.resources.cpuz: unknown key "cpuz" (did you mean "cpus"?)')
  })

  it('a dependency cycle is named', async () => {
    const { dir } = workspace(
      'name: x\ntasks:\n  a: { command: "true", after: [c] }\n  b: { command: "true", after: [a] }\n  c: { command: "true", after: [b] }\n',
    )
    const result = await runCli(dir, ['run', 'pipeline.yaml'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/dependency cycle: (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)/)
  })

  it('a missing dependency is named, with a suggestion', async () => {
    const { dir } = workspace(
      'name: x\ntasks:\n  prepare: { command: "true" }\n  train: { command: "true", after: [prepar] }\n',
    )
    const result = await runCli(dir, ['validate', 'pipeline.yaml'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('tasks.train.after: unknown task "prepar" (did you mean "prepare"?)')
  })

  it('a task asking for more CPUs or GPUs than the target has is rejected before anything runs', async () => {
    const { dir } = workspace(
      'name: x\ntasks:\n  big: { command: "true", resources: { cpus: 64 } }\n  gpu: { command: "true", resources: { gpus: { count: 4, type: h100 } } }\n',
    )
    const result = await runCli(dir, ['run', 'pipeline.yaml'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('tasks.big.resources: asks for 64 CPUs, but the largest node has 4')
    expect(result.stderr).toContain(
      'tasks.gpu.resources: asks for 4 GPU(s) of type h100 per node, but the target offers 2×a100',
    )
    const status = await runCli(dir, ['status', '--json'])
    expect(JSON.parse(status.stdout)).toEqual([])
  })

  it('a missing file is a clear error', async () => {
    const { dir } = workspace('name: x\ntasks: { a: { command: "true" } }\n')
    const result = await runCli(dir, ['run', 'nope.yaml'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/nope\.yaml: cannot read: no such file/)
  })

  it('bad CLI arguments exit 2 with usage help', async () => {
    const { dir } = workspace('name: x\ntasks: { a: { command: "true" } }\n')
    const result = await runCli(dir, ['run'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("missing required argument 'pipeline'")
    const unknown = await runCli(dir, ['frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("unknown command 'frobnicate'")
  })
})

describe('tasks that go wrong at run time', () => {
  it("a command that does not exist fails the task with the shell's words, and the run exits 1", async () => {
    const { dir } = workspace('name: x\ntasks:\n  train: { command: "no-such-trainer --epochs 3" }\n')
    const result = await runCli(dir, ['run', 'pipeline.yaml', '--quiet'])
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/train\s+failed.*command not found \(exit 127\)/)
    expect(result.stdout).toContain('no-such-trainer: command not found')
  })

  it('a task that hangs past its time limit is stopped and recorded as timed out', async () => {
    const { dir } = workspace('name: x\ntasks:\n  hang: { command: "sleep 60", resources: { time: 1s } }\n')
    const started = Date.now()
    const result = await runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
    expect(result.code).toBe(1)
    expect(Date.now() - started).toBeLessThan(20_000)
    const progress = JSON.parse(result.stdout)
    expect(progress.tasks[0]).toMatchObject({ id: 'hang', state: 'failed' })
    expect(progress.tasks[0].reason).toContain('ran past its time limit of 1s')
  })

  it('a failure retries with backoff, then marks dependents upstream_failed while another branch succeeds', async () => {
    const { dir } = workspace(`
name: x
tasks:
  flaky: { command: "echo try >> tries.log; exit 3", retries: { max: 2, backoff: 100ms } }
  downstream: { command: "true", after: [flaky] }
  independent: { command: "echo ok > independent.out" }
`)
    const result = await runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
    expect(result.code).toBe(1)
    const tasks = Object.fromEntries(JSON.parse(result.stdout).tasks.map((t: { id: string }) => [t.id, t]))
    expect(tasks.flaky).toMatchObject({ state: 'failed', attempt: 3 })
    expect(tasks.flaky.reason).toContain('exited with code 3')
    expect(tasks.downstream.state).toBe('upstream_failed')
    expect(tasks.independent.state).toBe('succeeded')
    expect(readFileSync(path.join(dir, 'tries.log'), 'utf8').trim().split('\n')).toHaveLength(3)
  })
})

describe('store problems', () => {
  it('a corrupted store file is reported, exit 3, and left untouched', async () => {
    const { dir } = workspace('name: x\ntasks: { a: { command: "true" } }\n')
    const store = path.join(dir, '.rpo/rpo.sqlite')
    await runCli(dir, ['status'])
    writeFileSync(store, 'this is not a database, it is a grocery list\n'.repeat(100))
    const before = readFileSync(store)
    const result = await runCli(dir, ['run', 'pipeline.yaml'])
    expect(result.code).toBe(3)
    expect(result.stderr).toContain('store-corrupt')
    expect(result.stderr).toContain(store)
    expect(readFileSync(store).equals(before)).toBe(true)
  })

  it('a store locked by another process is reported as locked, exit 3', async () => {
    const { dir } = workspace('name: x\ntasks: { a: { command: "true" } }\n')
    writeFileSync(
      path.join(dir, 'rpo.config.yaml'),
      `${CONFIG}\nstore: { url: "sqlite:.rpo/rpo.sqlite", busyTimeout: 300ms }\n`,
    )
    await runCli(dir, ['status'])
    const holder = new Database(path.join(dir, '.rpo/rpo.sqlite'))
    holder.exec('BEGIN EXCLUSIVE')
    try {
      const result = await runCli(dir, ['run', 'pipeline.yaml'])
      expect(result.code).toBe(3)
      expect(result.stderr).toMatch(/store-locked.*is locked by another process/)
    } finally {
      holder.exec('ROLLBACK')
      holder.close()
    }
    const after = await runCli(dir, ['run', 'pipeline.yaml', '--quiet'])
    expect(after.code).toBe(0)
  })
})
