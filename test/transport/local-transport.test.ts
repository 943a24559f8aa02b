/**
 * The local transport with real child processes and a real filesystem: argv without a shell,
 * exit codes and signals, process-group timeouts, atomic file writes.
 */

import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TransportError } from '../../src/core/errors.js'
import { createLocalTransport } from '../../src/transport/local-transport.js'

const transport = createLocalTransport()
let dir: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rpo-local-test-'))
})

afterAll(async () => {
  await transport.close()
  rmSync(dir, { recursive: true, force: true })
})

async function rejectionOf(promise: Promise<unknown>): Promise<TransportError> {
  try {
    await promise
  } catch (error) {
    return error as TransportError
  }
  throw new Error('expected a rejection')
}

function isRunning(marker: string): boolean {
  try {
    execFileSync('pgrep', ['-f', marker], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

describe('exec', () => {
  it('returns stdout, stderr and the exit code', async () => {
    const result = await transport.exec(['sh', '-c', 'echo out; echo err >&2; exit 7'])
    expect(result).toEqual({ stdout: 'out\n', stderr: 'err\n', exitCode: 7, signal: null })
    expect(transport.description).toBe('local')
  })

  it('reports a command ended by a signal', async () => {
    const result = await transport.exec(['sh', '-c', 'kill -TERM $$'])
    expect(result).toMatchObject({ exitCode: null, signal: 'SIGTERM' })
  })

  it('passes hostile argv words through literally (no shell)', async () => {
    const words = [
      '$(id)',
      '`id`',
      "'",
      "it's",
      '"',
      ';',
      'a; touch /tmp/rpo-pwned',
      'two\nlines',
      '  spaced  ',
      '✓ 日本語 🚀',
      '*',
      '~',
      '$HOME',
      '\\',
      '-n',
      '',
      '&& ||',
    ]
    const result = await transport.exec(['printf', '%s\\0', ...words])
    expect(result.stdout.split('\0').slice(0, -1)).toEqual(words)
  })

  it('feeds stdin, and runs scripts with bash', async () => {
    expect((await transport.exec(['cat'], { stdin: 'a\nb\n' })).stdout).toBe('a\nb\n')
    // a command that never reads stdin must not fail because of it
    expect((await transport.exec(['true'], { stdin: 'x'.repeat(1_000_000) })).exitCode).toBe(0)
    const result = await transport.execScript('set -eu\nname=rpo\necho "hello $name"\nexit 3\n')
    expect(result).toMatchObject({ stdout: 'hello rpo\n', exitCode: 3 })
  })

  it('reports a missing program as exit 127 like a shell would', async () => {
    const result = await transport.exec(['rpo-no-such-program', 'x'])
    expect(result.exitCode).toBe(127)
    expect(result.stderr).toContain('rpo-no-such-program: command not found')
  })

  it('times out a command and kills its whole process group', async () => {
    const started = Date.now()
    const error = await rejectionOf(
      transport.exec(['sh', '-c', 'sleep 30.456 & sleep 30.457; wait'], { timeoutMs: 300 }),
    )
    expect(error.code).toBe('command-timeout')
    expect(error.message).toContain('sleep 30.456')
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(isRunning('sleep 30.456')).toBe(false)
    expect((await transport.exec(['echo', 'ok'])).stdout).toBe('ok\n')
  })

  it('escalates to SIGKILL when the command ignores SIGTERM', async () => {
    const error = await rejectionOf(
      transport.exec(['sh', '-c', 'trap "" TERM; sleep 30.789; echo survived'], { timeoutMs: 200 }),
    )
    expect(error.code).toBe('command-timeout')
    expect(isRunning('sleep 30.789')).toBe(false)
  })
})

describe('files', () => {
  it('round-trips a file, creating nested directories', async () => {
    const path = join(dir, 'a', 'b', 'c', 'notes.txt')
    await transport.writeFile(path, 'unicode ✓ 日本語\n')
    expect(await transport.readFile(path)).toBe('unicode ✓ 日本語\n')
  })

  it('replaces an existing file by rename and leaves no temp files', async () => {
    const sub = join(dir, 'replace')
    const path = join(sub, 'state.json')
    await transport.writeFile(path, '{"v":1}')
    const inodeBefore = statSync(path).ino
    await transport.writeFile(path, '{"v":2}')
    expect(await transport.readFile(path)).toBe('{"v":2}')
    expect(statSync(path).ino).not.toBe(inodeBefore)
    expect(readdirSync(sub)).toEqual(['state.json'])
  })

  it('applies an explicit mode exactly and keeps an existing mode otherwise', async () => {
    const path = join(dir, 'modes', 'secret.txt')
    await transport.writeFile(path, 'x', { mode: 0o600 })
    expect(statSync(path).mode & 0o777).toBe(0o600)
    await transport.writeFile(path, 'y')
    expect(statSync(path).mode & 0o777).toBe(0o600)
    const script = join(dir, 'modes', 'run.sh')
    writeFileSync(script, 'old')
    await chmod(script, 0o750)
    await transport.writeFile(script, '#!/bin/sh\n')
    expect(statSync(script).mode & 0o777).toBe(0o750)
  })

  it('rejects a missing file with code ENOENT', async () => {
    const error = await rejectionOf(transport.readFile(join(dir, 'missing.txt')))
    expect((error as unknown as NodeJS.ErrnoException).code).toBe('ENOENT')
  })
})
