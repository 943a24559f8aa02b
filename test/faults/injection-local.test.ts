// Hostile strings in every user-controlled value of a pipeline run on the local executor: nothing
// is executed (no canary), nothing is written outside the run's folders, every value arrives in
// the task byte for byte, and what rpo prints carries no raw terminal control characters.
import { randomUUID } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeWorkDir, runCli, spawnCli, writePipeline } from '../support/cli-harness.js'
import { printFigures, rawControlIn } from './support/fault-figures.js'
import { expectedFiles, injectionPipeline, payloads } from './support/injection-payloads.js'

describe('injection through pipeline values (local executor)', () => {
  it('executes nothing, escapes nothing, delivers every value intact and prints no raw control characters', async () => {
    const dir = makeWorkDir('rpo-faults-inject-')
    writeFileSync(
      path.join(dir, 'rpo.config.yaml'),
      'defaultCluster: here\nclusters:\n  here: { kind: local, cpus: 4, memory: 4G, pollInterval: 200ms }\n',
    )
    const canary = path.join(os.tmpdir(), `rpo-canary-${randomUUID()}`)
    const values = payloads(canary)
    const got = path.join(dir, 'got')
    writePipeline(dir, 'pipeline.yaml', injectionPipeline(values, got, '{ cpus: 1, memory: 20M, time: 1m }'))

    const run = spawnCli(dir, ['run', 'pipeline.yaml'])
    const ran = await run.closed()
    expect(ran.code, ran.stderr).toBe(0)
    const runId = /started run (\S+)/.exec(ran.stderr)?.[1] as string
    const printed: string[] = [ran.stdout + ran.stderr]
    for (const args of [['status'], ['status', runId], ['status', runId, '--json']]) {
      const status = await spawnCli(dir, args).closed()
      expect(status.code, status.stderr).toBe(0)
      printed.push(status.stdout + status.stderr)
    }

    const expected = expectedFiles(values)
    const received = new Map(readdirSync(got).map((f) => [f, readFileSync(path.join(got, f), 'utf8')]))
    const mismatched = [...expected].filter(([file, value]) => received.get(file) !== value)
    const control = printed.flatMap(rawControlIn)
    printFigures('injection-local', {
      values: values.length,
      checked: expected.size,
      mismatched: mismatched.length,
      executed: existsSync(canary) ? 1 : 0,
      escaped: existsSync('/tmp/rpo-escape') ? 1 : 0,
      rawControlPrinted: control.length,
    })

    expect(existsSync(canary), 'a planted command ran').toBe(false)
    expect(existsSync('/tmp/rpo-escape')).toBe(false)
    expect(mismatched.map(([file, value]) => ({ file, planted: value, got: received.get(file) }))).toEqual([])
    // every task wrote only into $GOT and its own folders under the workspace
    expect(readdirSync(dir).sort()).toEqual(['.rpo', 'got', 'pipeline.yaml', 'rpo.config.yaml'])
    // the CLI strips ESC/BEL/CSI from what it prints (the lead's change; fails until it is merged)
    expect(control, 'raw control characters printed by rpo run / rpo status').toEqual([])
  }, 120_000)

  it('refuses hostile task, pipeline and project names before anything runs', async () => {
    const dir = makeWorkDir('rpo-faults-inject-')
    const canary = path.join(os.tmpdir(), `rpo-canary-${randomUUID()}`)
    const hostile = payloads(canary).filter((v) => v !== '')
    const documents = hostile.flatMap((v) => [
      `name: ok\ntasks:\n  ${JSON.stringify(v)}: { command: "true" }\n`,
      `name: ${JSON.stringify(v)}\ntasks:\n  a: { command: "true" }\n`,
      `name: ok\nproject: ${JSON.stringify(v)}\ntasks:\n  a: { command: "true" }\n`,
    ])
    const refused: string[] = []
    const control: string[] = []
    // in-process (runCli: the CLI's main with its output captured; rpo prints nothing elsewhere): a
    // process per document cost a second of CPU each to load rpo, for a refusal made before any work
    for (const [i, text] of documents.entries()) {
      writePipeline(dir, `p${i}.yaml`, text)
      const run = await runCli(dir, ['run', `p${i}.yaml`])
      expect(run.code, `${text}\n${run.stderr}`).toBe(2)
      control.push(...rawControlIn(run.stdout + run.stderr))
      refused.push(text)
    }
    printFigures('injection-names', {
      documents: documents.length,
      refused: refused.length,
      executed: existsSync(canary) ? 1 : 0,
      rawControlPrinted: control.length,
    })
    expect(existsSync(canary)).toBe(false)
    expect(existsSync(path.join(dir, '.rpo', 'jobs'))).toBe(false)
    // the refusal quotes the name without its raw control characters (the lead's change)
    expect(control, 'raw control characters in the refusals').toEqual([])
  }, 300_000)
})
