// The command count a tick reports comes from the transport the adapter runs on: every command and
// script counts, whatever its outcome; file reads and writes are not commands.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CountingTransport } from '../../src/transport/counting-transport.js'
import { createLocalTransport } from '../../src/transport/local-transport.js'

const dir = mkdtempSync(path.join(tmpdir(), 'rpo-counting-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('CountingTransport', () => {
  it('counts each command and script it runs, failed or not, and passes results through unchanged', async () => {
    const transport = new CountingTransport(createLocalTransport())
    expect(transport.description).toBe(createLocalTransport().description)
    expect(transport.commandsRun).toBe(0)
    const echoed = await transport.exec(['echo', 'hello world'])
    expect(echoed).toMatchObject({ stdout: 'hello world\n', exitCode: 0 })
    const failed = await transport.execScript('echo no >&2; exit 3\n')
    expect(failed).toMatchObject({ stderr: 'no\n', exitCode: 3 })
    expect(transport.commandsRun).toBe(2)
    await expect(transport.exec(['sh', '-c', 'sleep 5'], { timeoutMs: 100 })).rejects.toMatchObject({
      code: 'command-timeout',
    })
    expect(transport.commandsRun).toBe(3)
    await transport.close()
  })

  it('does not count file reads and writes', async () => {
    const transport = new CountingTransport(createLocalTransport())
    const file = path.join(dir, 'a', 'note.txt')
    await transport.writeFile(file, 'kept')
    expect(await transport.readFile(file)).toBe('kept')
    expect(transport.commandsRun).toBe(0)
  })
})
