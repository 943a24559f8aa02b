// The other commands, as a user types them: submit + sync, status, cancel, schema, validate --json, daemon.
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/create-app.js'
import { startDaemon } from '../../src/sync/sync-runs.js'
import { isProcessAlive, makeWorkDir, REPO_ROOT, RPO_BIN, runCli, writePipeline } from '../support/cli-harness.js'

const CONFIG = `
defaultCluster: box
clusters:
  box: { kind: local, cpus: 2, memory: 4G, killGrace: 200ms, pollInterval: 50ms }
sync: { schedule: "* * * * * *" }
`

function workspace(pipeline: string): string {
  const dir = makeWorkDir()
  writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
  writePipeline(dir, 'pipeline.yaml', pipeline)
  return dir
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('rpo submit + rpo sync (cron style)', () => {
  it('submit returns at once; repeated syncs carry the run to the end', async () => {
    const dir = workspace(
      'name: chain\ntasks:\n  a: { command: "echo a > a.out" }\n  b: { command: "cat a.out > b.out", after: [a] }\n',
    )
    const submitted = await runCli(dir, ['submit', 'pipeline.yaml', '--json'])
    expect(submitted.code).toBe(0)
    const { runId, submitted: count } = JSON.parse(submitted.stdout)
    expect(count).toBe(1)
    await waitUntil(async () => {
      const sync = await runCli(dir, ['sync', '--json'])
      expect(sync.code).toBe(0)
      const status = JSON.parse((await runCli(dir, ['status', runId, '--json'])).stdout)
      return status.state === 'succeeded'
    })
    expect(readFileSync(path.join(dir, 'b.out'), 'utf8')).toBe('a\n')
    const sync = await runCli(dir, ['sync'])
    expect(sync.stdout).toContain('no unfinished runs')
  })
})

describe('rpo status', () => {
  it('lists runs, shows one by unique prefix, and explains an unknown id', async () => {
    const dir = workspace('name: tiny\ntasks:\n  a: { command: "true", expected: 5s }\n')
    const run = await runCli(dir, ['run', 'pipeline.yaml', '--quiet'])
    expect(run.code).toBe(0)
    const list = await runCli(dir, ['status'])
    expect(list.stdout).toMatch(/RUN\s+PIPELINE\s+CLUSTER\s+STATE/)
    expect(list.stdout).toMatch(/tiny-\S+\s+tiny\s+box\s+succeeded\s+1\/1/)
    const one = await runCli(dir, ['status', 'tiny-'])
    expect(one.stdout).toMatch(/a\s+succeeded\s+1\s+\S+\s+5\.0s/)
    const missing = await runCli(dir, ['status', 'nope'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('no run "nope"')
    const bad = await runCli(dir, ['status', '--limit', 'many'])
    expect(bad.code).toBe(2)
  })

  it("shows each task's expected duration with its source, and the run's completion and slack to its deadline", async () => {
    const dir = workspace(
      'name: twice\ndeadline: "2099-01-01T00:00:00Z"\ntasks:\n  a: { command: "sleep 0.2", expected: 1h }\n  b: { command: "true", after: [a] }\n',
    )
    const first = await runCli(dir, ['run', 'pipeline.yaml', '--quiet', '--json'])
    expect(first.code).toBe(0)
    const firstStatus = JSON.parse((await runCli(dir, ['status', JSON.parse(first.stdout).runId, '--json'])).stdout)
    // nothing ran before: a is expected as declared, b (no `expected`) at its time limit (1h default)
    expect(firstStatus.tasks.map((t: { estimate: { expected: unknown } }) => t.estimate.expected)).toEqual([
      { seconds: 3600, p90Seconds: 3600, samples: 0, source: 'declared' },
      { seconds: 3600, p90Seconds: 3600, samples: 0, source: 'limit' },
    ])
    const second = await runCli(dir, ['run', 'pipeline.yaml', '--quiet', '--json'])
    const runId = JSON.parse(second.stdout).runId
    const status = JSON.parse((await runCli(dir, ['status', runId, '--json'])).stdout)
    const a = status.tasks[0]
    // the first run's a is the history now: one sample, about 0.2 s, not the declared hour
    expect(a.estimate.expected).toMatchObject({ samples: 1, source: 'history' })
    expect(a.estimate.expected.seconds).toBeGreaterThanOrEqual(0.2)
    expect(a.estimate.expected.seconds).toBeLessThan(30)
    expect(a.estimate.actualEnd).toBe(status.tasks[0].estimate.actualEnd)
    expect(status.estimate).toMatchObject({
      actualEnd: status.finishedAt,
      projectedCompletion: status.finishedAt,
      remainingCriticalPathSeconds: 0,
      deadline: '2099-01-01T00:00:00Z',
      atRisk: false,
    })
    expect(status.estimate.slackSeconds).toBeGreaterThan(0)
    const text = (await runCli(dir, ['status', runId])).stdout
    expect(text).toMatch(/^completed \d{4}-\d\d-\d\d \d\d:\d\d; planned /m)
    expect(text).toMatch(/^deadline 2099-01-01 00:00: \S+ to spare$/m)
    expect(text).toMatch(/TASK\s+STATE\s+TRY\s+ELAPSED\s+EXPECTED\s+FROM\s+END/)
    expect(text).toMatch(/^a\s+succeeded\s+1\s+\S+\s+\S+\s+history \(1\)\s+\d{4}-/m)
  })

  it('says so when there are no runs', async () => {
    const dir = workspace('name: tiny\ntasks:\n  a: { command: "true" }\n')
    const result = await runCli(dir, ['status'])
    expect(result.stdout).toContain('no runs yet')
  })
})

describe('rpo cancel', () => {
  it('stops running tasks, records the run cancelled, and a later run of the file starts anew', async () => {
    const dir = workspace(
      'name: long\ntasks:\n  sleepy: { command: "echo $$ > pid; sleep 30" }\n  later: { command: "true", after: [sleepy] }\n',
    )
    const submitted = JSON.parse((await runCli(dir, ['submit', 'pipeline.yaml', '--json'])).stdout)
    await waitUntil(async () => {
      try {
        readFileSync(path.join(dir, 'pid'))
        return true
      } catch {
        return false
      }
    })
    const pid = Number(readFileSync(path.join(dir, 'pid'), 'utf8'))
    const cancel = await runCli(dir, ['cancel', submitted.runId, '--json'])
    expect(cancel.code).toBe(0)
    expect(JSON.parse(cancel.stdout)).toEqual({ runId: submitted.runId, state: 'cancelled', stopped: 1 })
    expect(isProcessAlive(pid)).toBe(false)
    const status = JSON.parse((await runCli(dir, ['status', submitted.runId, '--json'])).stdout)
    expect(status.tasks.map((t: { state: string }) => t.state)).toEqual(['cancelled', 'cancelled'])
    const again = JSON.parse((await runCli(dir, ['submit', 'pipeline.yaml', '--json'])).stdout)
    expect(again.runId).not.toBe(submitted.runId)
    await runCli(dir, ['cancel', again.runId])
  })
})

describe('rpo schema and validate --json', () => {
  it('prints the JSON Schema that editors use, identical to the committed docs/ copies', async () => {
    const dir = makeWorkDir()
    const pipeline = await runCli(dir, ['schema'])
    const schema = JSON.parse(pipeline.stdout)
    expect(schema.properties.tasks.additionalProperties.properties.matrix).toBeDefined()
    expect(`${pipeline.stdout}`).toBe(readFileSync(path.join(REPO_ROOT, 'docs/pipeline.schema.json'), 'utf8'))
    const config = await runCli(dir, ['schema', '--config-file'])
    expect(config.stdout).toBe(readFileSync(path.join(REPO_ROOT, 'docs/config.schema.json'), 'utf8'))
  })

  it('validate --json lists the expanded tasks', async () => {
    const dir = workspace('name: sweep\ntasks:\n  t: { command: "echo {{params.x}}", matrix: { x: [1, "a b"] } }\n')
    const result = await runCli(dir, ['validate', 'pipeline.yaml', '--json'])
    expect(result.code).toBe(0)
    const out = JSON.parse(result.stdout)
    expect(out.tasks.map((t: { id: string; command: string }) => [t.id, t.command])).toEqual([
      ['t.0', 'echo 1'],
      ['t.1', "echo 'a b'"],
    ])
  })

  it('validate warns that a CPU framework’s GPUs are dropped, and says how XGBoost keeps them', async () => {
    const dir = workspace(
      'name: boost\ntasks:\n  fit:\n    framework: xgboost\n    command: "true"\n    resources: { gpus: 1, time: 1m }\n',
    )
    const result = await runCli(dir, ['validate', 'pipeline.yaml'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toContain(
      'tasks.fit.resources.gpus: xgboost runs on CPUs; the task is submitted without GPUs (to train XGBoost on GPUs, with device="cuda", leave framework out)',
    )
  })
})

describe('rpo daemon', () => {
  it('ticks unfinished runs on its cron schedule and stops cleanly when told', async () => {
    const dir = workspace('name: bg\ntasks:\n  a: { command: "true" }\n  b: { command: "true", after: [a] }\n')
    const submitted = JSON.parse((await runCli(dir, ['submit', 'pipeline.yaml', '--json'])).stdout)
    const app = await createApp({ cwd: dir })
    const controller = new AbortController()
    const lines: string[] = []
    const daemon = startDaemon(app, { log: (l) => lines.push(l), signal: controller.signal })
    await waitUntil(async () => (await app.store.getRun(submitted.runId)).state === 'succeeded')
    controller.abort()
    await daemon
    await app.close()
    expect(lines.some((l) => l.includes(`${submitted.runId}: succeeded`))).toBe(true)
  })
})

describe('rpo compile on the local executor', () => {
  it('lists each task with its command, and fan-outs as known only at run time', async () => {
    const dir = workspace(
      'name: c\ntasks:\n  a: { command: "echo a" }\n  b: { command: "echo {{item}}", foreach: { task: a, output: xs } }\n',
    )
    const result = await runCli(dir, ['compile', 'pipeline.yaml'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain(
      '# ── a\n# the local executor runs this command directly, with no batch script:\necho a',
    )
    expect(result.stdout).toContain(
      '# ── b (after a; wired as scheduler dependencies at submission)\n# fans out at run time',
    )
    const json = JSON.parse((await runCli(dir, ['compile', 'pipeline.yaml', '--json'])).stdout)
    expect(json.map((j: { taskIds: string[]; fanOut: boolean }) => [j.taskIds, j.fanOut])).toEqual([
      [['a'], false],
      [['b'], true],
    ])
  })
})

describe('output into a pipe that closes early', () => {
  it('stops quietly when the reader goes away (rpo validate --json | head -1)', async () => {
    // half a megabyte of output: far more than a pipe holds, so the write meets the closed pipe
    const dir = workspace(
      `name: big\ntasks:\n  t:\n    command: echo {{params.i}}\n    matrix: { i: [${Array.from({ length: 3000 }, (_, i) => i).join(', ')}] }\n`,
    )
    const child = spawn(process.execPath, [RPO_BIN, 'validate', 'pipeline.yaml', '--json'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (c) => {
      stderr += String(c)
    })
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
    child.stdout.destroy()
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
    expect(stderr).not.toMatch(/EPIPE|Error/)
    expect(code).toBe(0)
  })
})
