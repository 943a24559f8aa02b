// `rpo validate` on files written to break it (issue #10): exit 2 with a located message, never a
// stack trace (exit 70), never a hang; and a 50,000-task chain validates and prints its table.
import { truncateSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeWorkDir, runCli, writePipeline } from '../support/cli-harness.js'

const CONFIG = `
defaultCluster: box
clusters:
  box: { kind: local, cpus: 4, memory: 8G, killGrace: 200ms, pollInterval: 50ms }
`

function workspace(pipeline: string): string {
  const dir = makeWorkDir()
  writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
  writePipeline(dir, 'pipeline.yaml', pipeline)
  return dir
}

async function validate(pipeline: string) {
  return runCli(workspace(pipeline), ['validate', 'pipeline.yaml'])
}

describe('rpo validate on hostile files', () => {
  it('an alias to an undefined anchor: exit 2, located', async () => {
    const result = await validate('name: x\ntasks:\n  a: { command: *nope }\n')
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/pipeline\.yaml:3:\d+: not valid YAML\/JSON/)
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })

  it('a matrix of ten axes of ten values: exit 2 with the count and the cap', async () => {
    const axes = Array.from({ length: 10 }, (_, k) => `      k${k}: [0,1,2,3,4,5,6,7,8,9]`).join('\n')
    const result = await validate(`name: x\ntasks:\n  a:\n    command: "true"\n    matrix:\n${axes}\n`)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('tasks.a.matrix: would make 10000000000 task instances')
  })

  it('a 250-character task name: exit 2 naming the limit', async () => {
    const result = await validate(`name: x\ntasks:\n  ${'t'.repeat(250)}: { command: "true" }\n`)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('at most 64 characters')
  })

  it('time: 0: exit 2', async () => {
    const result = await validate('name: x\ntasks:\n  a: { command: "true", resources: { time: 0 } }\n')
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('tasks.a.resources.time')
  })

  it('a file over 16 MiB is refused before it is read, and a device is not read at all', async () => {
    const dir = workspace('name: x\n')
    truncateSync(path.join(dir, 'pipeline.yaml'), 17 * 1024 * 1024)
    const big = await runCli(dir, ['validate', 'pipeline.yaml'])
    expect(big.code).toBe(2)
    expect(big.stderr).toContain('pipeline.yaml: 17825792 bytes is too large: at most 16777216 (16 MiB)')
    const device = await runCli(dir, ['validate', '/dev/zero'])
    expect(device.code).toBe(2)
    expect(device.stderr).toContain('/dev/zero: not a regular file')
  })

  it('a 50,000-task chain validates and lists every step', { timeout: 180_000 }, async () => {
    const lines = ['name: x', 'tasks:', '  t0: { command: "true" }']
    for (let i = 1; i < 50_000; i++) lines.push(`  t${i}: { command: "true", after: [t${i - 1}] }`)
    const result = await validate(lines.join('\n'))
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('valid — 50000 task(s) in 50000 step(s)')
    expect(result.stdout).toMatch(/\nt49999 +1 +t49998\n?$/)
  })
})
