/**
 * The SSH transport against a real OpenSSH sshd (test/support/sshd.ts): commands, quoting, the one
 * shared connection, files over SFTP, host-key policy, error codes, timeouts and dropped connections.
 */

import { execFileSync } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TransportError } from '../../src/core/errors.js'
import { createSshTransport, type SshTransport, type SshTransportOptions } from '../../src/transport/ssh-transport.js'
import { generateKeyPair, startSshd, type TestSshd } from '../support/sshd.js'

let sshd: TestSshd
let shared: SshTransport
let scratch: string
const opened: SshTransport[] = []

function connectTo(overrides: Partial<SshTransportOptions> = {}): SshTransport {
  const transport = createSshTransport({
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKeyPath: sshd.privateKeyPath,
    knownHostsPath: sshd.knownHostsPath,
    reconnect: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 100 },
    ...overrides,
  })
  opened.push(transport)
  return transport
}

async function rejectionOf(promise: Promise<unknown>): Promise<TransportError> {
  try {
    await promise
  } catch (error) {
    return error as TransportError
  }
  throw new Error('expected a rejection')
}

/** Resolves once sshd has a session for the command, so a kill lands while it runs. */
async function waitForRemoteProcess(marker: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync('pgrep', ['-f', marker], { stdio: 'ignore' })
      return
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  throw new Error(`no process matching ${marker}`)
}

beforeAll(async () => {
  sshd = await startSshd()
  shared = connectTo()
  scratch = mkdtempSync(join(tmpdir(), 'rpo-ssh-test-'))
})

afterAll(async () => {
  for (const transport of opened) await transport.close()
  await sshd?.stop()
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true })
})

describe('exec', () => {
  it('returns stdout, stderr and the exit code', async () => {
    const result = await shared.exec(['sh', '-c', 'echo out; echo err >&2; exit 7'])
    expect(result).toEqual({ stdout: 'out\n', stderr: 'err\n', exitCode: 7, signal: null })
  })

  it('reports a command ended by a signal', async () => {
    const result = await shared.exec(['sh', '-c', 'kill -TERM $$'])
    expect(result.exitCode).toBeNull()
    expect(result.signal).toBe('SIGTERM')
  })

  it('passes hostile argv words through literally', async () => {
    const words = [
      '$(id)',
      '`id`',
      "'",
      "it's",
      '"',
      ';',
      'a; touch /tmp/rpo-pwned',
      'two\nlines',
      '  spaced  out  ',
      'unicode ✓ 日本語 🚀',
      '*',
      '~',
      '$HOME',
      '\\',
      '-n',
      '',
      '!!',
      '&& ||',
    ]
    const result = await shared.exec(['printf', '%s\\0', ...words])
    expect(result.stdout.split('\0').slice(0, -1)).toEqual(words)
    expect(result.exitCode).toBe(0)
  })

  it('feeds stdin and runs scripts with bash', async () => {
    expect((await shared.exec(['cat'], { stdin: 'line 1\nline 2\n' })).stdout).toBe('line 1\nline 2\n')
    const script = 'set -eu\nname="rpo"\necho "hello $name"\nexit 3\n'
    expect(await shared.execScript(script)).toMatchObject({ stdout: 'hello rpo\n', exitCode: 3 })
  })

  it('runs a megabyte script of here-documents whole, and its commands do not read the script as input', async () => {
    // the shape of a 1,000-job sbatch batch, a here-document per job (into a builtin: no fork per job)
    const line = (i: number) => `#SBATCH --output=/w/jobs/rpo.r.t${i}.1/slurm-%j.out\n`
    const jobs = Array.from(
      { length: 1000 },
      (_, i) => `mapfile -t l <<'RPO_${i}'\n${line(i).repeat(20)}RPO_${i}\nn=$((n + \${#l[@]}))`,
    )
    const script = `set -u\nn=0\n${jobs.join('\n')}\ncat\necho "$n lines, last: \${l[19]}"\n`
    expect(script.length).toBeGreaterThan(1_000_000)
    const result = await shared.execScript(script, { timeoutMs: 60_000 })
    expect(result.exitCode, result.stderr).toBe(0)
    // `cat` found its input at its end, not the script's last line
    expect(result.stdout).toBe(`20000 lines, last: ${line(999).trim()}\n`)
  })

  it('reports a missing program as exit 127, not an error', async () => {
    const result = await shared.exec(['rpo-no-such-program'])
    expect(result.exitCode).toBe(127)
  })

  it('runs 50 concurrent commands over one TCP connection, at most 8 channels at once', async () => {
    const transport = connectTo()
    let maxActive = 0
    let maxQueued = 0
    let maxConnections = 0
    const sampler = setInterval(() => {
      const stats = transport.stats()
      maxActive = Math.max(maxActive, stats.activeChannels)
      maxQueued = Math.max(maxQueued, stats.queuedExecs)
      maxConnections = Math.max(maxConnections, sshd.countConnections())
    }, 5)
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => transport.exec(['sh', '-c', 'sleep 0.1; echo "$1"', 'sh', String(i)])),
    )
    clearInterval(sampler)
    expect(results.map((result) => result.stdout)).toEqual(Array.from({ length: 50 }, (_, i) => `${i}\n`))
    expect(transport.stats()).toMatchObject({ connects: 1, connectAttempts: 1, execs: 50 })
    expect(maxActive).toBeLessThanOrEqual(8)
    expect(maxQueued).toBeGreaterThan(0)
    // `shared` holds a connection too; this transport added exactly one
    expect(maxConnections).toBeLessThanOrEqual(2)
    await transport.close()
  })

  it('retries channels sshd refuses when more are asked for than its MaxSessions (10)', async () => {
    const transport = connectTo({ maxConcurrentChannels: 16 })
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) => transport.exec(['sh', '-c', 'sleep 0.2; echo "$1"', 'sh', String(i)])),
    )
    expect(results.map((result) => result.stdout)).toEqual(Array.from({ length: 16 }, (_, i) => `${i}\n`))
    expect(transport.stats().connects).toBe(1)
    await transport.close()
  })
})

describe('files over SFTP', () => {
  it('round-trips a file, creating nested directories', async () => {
    const path = `${sshd.workDir}/runs/a/b/c/notes.txt`
    const content = 'first line\nunicode ✓ 日本語\n'
    await shared.writeFile(path, content)
    expect(await shared.readFile(path)).toBe(content)
    expect((await shared.exec(['cat', path])).stdout).toBe(content)
  })

  it('replaces an existing file by rename and leaves no temp files', async () => {
    const dir = `${sshd.workDir}/replace`
    const path = `${dir}/state.json`
    await shared.writeFile(path, '{"v":1}')
    const inodeBefore = (await shared.exec(['stat', '-c', '%i', path])).stdout
    await shared.writeFile(path, '{"v":2}')
    const inodeAfter = (await shared.exec(['stat', '-c', '%i', path])).stdout
    expect(await shared.readFile(path)).toBe('{"v":2}')
    expect(inodeAfter).not.toBe(inodeBefore)
    expect((await shared.exec(['ls', '-A', dir])).stdout).toBe('state.json\n')
  })

  it('applies the mode exactly and handles large content', async () => {
    const path = `${sshd.workDir}/modes/secret.txt`
    await shared.writeFile(path, 'x', { mode: 0o600 })
    expect((await shared.exec(['stat', '-c', '%a', path])).stdout).toBe('600\n')
    const big = 'abcdefghij'.repeat(200_000)
    await shared.writeFile(`${sshd.workDir}/big.txt`, big)
    expect(await shared.readFile(`${sshd.workDir}/big.txt`)).toBe(big)
  })

  it('rejects a missing file with code ENOENT', async () => {
    const error = await rejectionOf(shared.readFile(`${sshd.workDir}/does-not-exist`))
    expect((error as unknown as NodeJS.ErrnoException).code).toBe('ENOENT')
  })
})

describe('host keys', () => {
  it('refuses an unknown host and says how to add it', async () => {
    const knownHostsPath = join(scratch, 'empty_known_hosts')
    writeFileSync(knownHostsPath, '')
    const error = await rejectionOf(connectTo({ knownHostsPath }).exec(['true']))
    expect(error.code).toBe('ssh-host-key')
    expect(error.retryable).toBe(false)
    expect(error.message).toContain(`ssh-keyscan -p ${sshd.port} 127.0.0.1 >> ${knownHostsPath}`)
    expect(error.message).toContain('trustOnFirstUse')
    expect(readFileSync(knownHostsPath, 'utf8')).toBe('')
  })

  it('trusts on first use: accepts, appends, and the recorded key then passes strict checking', async () => {
    const knownHostsPath = join(scratch, 'tofu', 'nested', 'known_hosts')
    expect((await connectTo({ knownHostsPath, trustOnFirstUse: true }).exec(['echo', 'ok'])).stdout).toBe('ok\n')
    expect(readFileSync(knownHostsPath, 'utf8')).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`)
    expect((await connectTo({ knownHostsPath }).exec(['echo', 'again'])).stdout).toBe('again\n')
  })

  it('refuses a changed key loudly, even with trust-on-first-use', async () => {
    const impostor = generateKeyPair(scratch, 'impostor_host')
    const knownHostsPath = join(scratch, 'changed_known_hosts')
    const recorded = `[127.0.0.1]:${sshd.port} ${impostor.publicKey}\n`
    writeFileSync(knownHostsPath, recorded)
    const error = await rejectionOf(connectTo({ knownHostsPath, trustOnFirstUse: true }).exec(['true']))
    expect(error.code).toBe('ssh-host-key')
    expect(error.message).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED/)
    expect(error.message).toMatch(/man-in-the-middle/)
    expect(error.message).toContain(`ssh-keygen -R '[127.0.0.1]:${sshd.port}'`)
    expect(readFileSync(knownHostsPath, 'utf8')).toBe(recorded)
  })

  it('refuses a key marked @revoked', async () => {
    const knownHostsPath = join(scratch, 'revoked_known_hosts')
    writeFileSync(knownHostsPath, `${readFileSync(sshd.knownHostsPath, 'utf8')}@revoked * ${sshd.hostPublicKey}\n`)
    const error = await rejectionOf(connectTo({ knownHostsPath }).exec(['true']))
    expect(error.code).toBe('ssh-host-key')
    expect(error.message).toMatch(/@revoked/)
  })

  it('matches a hashed known_hosts entry (ssh-keygen -H)', async () => {
    const knownHostsPath = join(scratch, 'hashed_known_hosts')
    writeFileSync(knownHostsPath, readFileSync(sshd.knownHostsPath, 'utf8'))
    execFileSync('ssh-keygen', ['-H', '-f', knownHostsPath], { stdio: 'ignore' })
    const hashed = readFileSync(knownHostsPath, 'utf8')
    expect(hashed).toMatch(/^\|1\|/)
    expect(hashed).not.toContain('127.0.0.1')
    expect((await connectTo({ knownHostsPath }).exec(['echo', 'hashed'])).stdout).toBe('hashed\n')
  })
})

describe('connection errors', () => {
  it('maps a key the server does not accept to ssh-auth, without retrying', async () => {
    const stranger = generateKeyPair(scratch, 'stranger_client')
    const transport = connectTo({ privateKeyPath: stranger.privateKeyPath })
    const error = await rejectionOf(transport.exec(['true']))
    expect(error.code).toBe('ssh-auth')
    expect(error.retryable).toBe(false)
    expect(transport.stats().connectAttempts).toBe(1)
    expect(error.message).not.toContain(readFileSync(stranger.privateKeyPath, 'utf8').split('\n')[1])
  })

  it('maps a refused connection to a retryable ssh-socket after backing off deterministically', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const port = (probe.address() as AddressInfo).port
        probe.close(() => resolve(port))
      })
    })
    const delays: number[] = []
    const transport = connectTo({
      port: closedPort,
      reconnect: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 300 },
      sleep: async (delayMs) => {
        delays.push(delayMs)
      },
    })
    const error = await rejectionOf(transport.exec(['true']))
    expect(error.code).toBe('ssh-socket')
    expect(error.retryable).toBe(true)
    expect(error.message).toContain('after 4 attempts')
    expect(delays).toEqual([100, 200, 300])
  })

  it('maps an unresolvable host name to ssh-dns', async () => {
    const error = await rejectionOf(
      connectTo({ host: 'rpo-test.invalid', reconnect: { maxAttempts: 1 } }).exec(['true']),
    )
    expect(error.code).toBe('ssh-dns')
    expect(error.retryable).toBe(true)
  })

  it('uses an encrypted key with its passphrase, and never echoes a wrong passphrase', async () => {
    const privateKeyPath = join(scratch, 'encrypted_client')
    const passphrase = 'correct horse battery staple'
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', privateKeyPath])
    appendFileSync(join(sshd.dir, 'authorized_keys'), readFileSync(`${privateKeyPath}.pub`, 'utf8'))
    expect((await connectTo({ privateKeyPath, passphrase }).exec(['echo', 'ok'])).stdout).toBe('ok\n')
    const error = await rejectionOf(connectTo({ privateKeyPath, passphrase: 'hunter2-wrong' }).exec(['true']))
    expect(error.code).toBe('ssh-config')
    expect(error.retryable).toBe(false)
    expect(`${error.message} ${String(error.cause)}`).not.toContain('hunter2')
  })

  it('maps an unreadable private key file to ssh-config', async () => {
    const error = await rejectionOf(connectTo({ privateKeyPath: join(scratch, 'no-such-key') }).exec(['true']))
    expect(error.code).toBe('ssh-config')
    expect(error.retryable).toBe(false)
  })
})

describe('timeouts and dropped connections', () => {
  it('times out a command, kills it, and keeps the connection usable', async () => {
    const transport = connectTo()
    const error = await rejectionOf(transport.exec(['sleep', '30.123'], { timeoutMs: 300 }))
    expect(error.code).toBe('command-timeout')
    expect(error.message).toContain('sleep 30.123')
    expect((await transport.exec(['echo', 'still here'])).stdout).toBe('still here\n')
    expect(transport.stats().connects).toBe(1)
    // the remote process got the signal instead of lingering
    expect((await transport.exec(['pgrep', '-f', 'sleep 30.123'])).exitCode).toBe(1)
  })

  it('reconnects transparently when an idle connection was dropped', async () => {
    const transport = connectTo()
    const path = `${sshd.workDir}/idle.txt`
    await transport.writeFile(path, 'kept')
    for (let round = 1; round <= 3; round++) {
      expect(await sshd.killConnections()).toBeGreaterThan(0)
      // no pause: the kill may not have reached the client yet, which is the interesting case
      expect((await transport.exec(['echo', `round ${round}`])).stdout).toBe(`round ${round}\n`)
      await sshd.killConnections()
      expect(await transport.readFile(path)).toBe('kept')
    }
    expect(transport.stats().connects).toBe(7)
  })

  it('fails a non-idempotent command whose connection dropped with a retryable "outcome unknown"', async () => {
    const transport = connectTo()
    const running = rejectionOf(transport.exec(['sh', '-c', 'sleep 5.111; echo done']))
    await waitForRemoteProcess('sleep 5.111')
    await sshd.killConnections()
    const error = await running
    expect(error.code).toBe('ssh-socket')
    expect(error.retryable).toBe(true)
    expect(error.message).toMatch(/outcome is unknown/)
    expect((await transport.exec(['echo', 'back'])).stdout).toBe('back\n')
  })

  it('re-runs an idempotent command once on a new connection', async () => {
    const transport = connectTo()
    const log = `${sshd.workDir}/idempotent-runs.log`
    const running = transport.exec(['sh', '-c', 'echo run >> "$1"; sleep 1.222; echo done', 'sh', log], {
      idempotent: true,
    })
    await waitForRemoteProcess('sleep 1.222')
    await sshd.killConnections()
    expect((await running).stdout).toBe('done\n')
    expect(await transport.readFile(log)).toBe('run\nrun\n')
    expect(transport.stats()).toMatchObject({ connects: 2, execs: 2 })
  })

  it('closes cleanly and refuses work afterwards', async () => {
    const transport = connectTo()
    await transport.exec(['true'])
    await transport.close()
    expect(transport.stats().isConnected).toBe(false)
    const error = await rejectionOf(transport.exec(['true']))
    expect(error.code).toBe('ssh-socket')
    expect(error.retryable).toBe(false)
  })
})

describe('performance', () => {
  it('reuses one connection: 200 sequential execs vs a new connection per command', async () => {
    const transport = connectTo()
    await transport.exec(['true'])
    const reusedStart = performance.now()
    for (let i = 0; i < 200; i++) await transport.exec(['true'])
    const reusedMs = (performance.now() - reusedStart) / 200
    const freshStart = performance.now()
    for (let i = 0; i < 10; i++) {
      const fresh = connectTo()
      await fresh.exec(['true'])
      await fresh.close()
    }
    const freshMs = (performance.now() - freshStart) / 10
    console.log(
      `ssh exec of \`true\`: ${reusedMs.toFixed(2)} ms/command over one connection (200 runs); ` +
        `${freshMs.toFixed(2)} ms/command with a new connection each (10 runs)`,
    )
    expect(transport.stats().connects).toBe(1)
    expect(reusedMs).toBeLessThan(freshMs)
  })
})
