/**
 * Test helper: a real OpenSSH sshd on 127.0.0.1 and a free port, in a temp dir, with a fresh ed25519
 * host key and a fresh client key authorized for one user. As root it logs in a dedicated user
 * (`rposshtest`, created if missing); otherwise it logs in the current user. Works on a fresh
 * machine: installs openssh-server with apt-get when sshd is missing and we are root.
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'

export const SSHD_PATH = '/usr/sbin/sshd'
export const TEST_USER = 'rposshtest'

export interface TestSshd {
  readonly host: string
  readonly port: number
  readonly username: string
  /** The authorized client key (unencrypted OpenSSH format). */
  readonly privateKeyPath: string
  /** A known_hosts file holding exactly `[127.0.0.1]:port ssh-ed25519 …` for this server. */
  readonly knownHostsPath: string
  /** `ssh-ed25519 AAAA…` (type and base64 blob, no comment). */
  readonly hostPublicKey: string
  /** A directory the login user owns, for file tests. */
  readonly workDir: string
  /** The temp directory holding keys, config and known_hosts (owned by the test process). */
  readonly dir: string
  /** The listener's pid. */
  readonly pid: number
  /** Per-connection sshd processes (direct children of the listener), i.e. open TCP connections. */
  countConnections(): number
  /** SIGKILL every per-connection process tree, as if the network dropped; resolves once they are gone. */
  killConnections(): Promise<number>
  /** The sshd log so far (`-e`: it logs to stderr), for failure messages. */
  log(): string
  stop(): Promise<void>
}

/** Generate an unencrypted ed25519 key pair; returns the private key path and the public key line. */
export function generateKeyPair(dir: string, name: string): { privateKeyPath: string; publicKey: string } {
  const privateKeyPath = join(dir, name)
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `rpo-test-${name}`, '-f', privateKeyPath])
  return { privateKeyPath, publicKey: readFileSync(`${privateKeyPath}.pub`, 'utf8').trim() }
}

/** Start sshd. Call `stop()` in afterAll. */
export async function startSshd(): Promise<TestSshd> {
  ensureSshdInstalled()
  const isRoot = process.getuid?.() === 0
  const username = isRoot ? ensureTestUser() : userInfo().username
  if (isRoot) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })

  const dir = mkdtempSync(join(tmpdir(), 'rpo-sshd-'))
  // sshd reads authorized_keys with the login user's uid, so it must be able to traverse the dir
  chmodSync(dir, 0o755)
  const hostKey = generateKeyPair(dir, 'host_ed25519')
  const client = generateKeyPair(dir, 'client_ed25519')
  const authorizedKeysPath = join(dir, 'authorized_keys')
  writeFileSync(authorizedKeysPath, `${client.publicKey}\n`, { mode: 0o644 })
  const workDir = join(dir, 'work')
  mkdirSync(workDir, { mode: 0o755 })
  if (isRoot) {
    const uid = Number(execFileSync('id', ['-u', username], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', username], { encoding: 'utf8' }).trim())
    chownSync(workDir, uid, gid)
  }

  let lastError: Error | undefined
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await findFreePort()
    const configPath = join(dir, 'sshd_config')
    writeFileSync(
      configPath,
      renderConfig({ port, dir, username, hostKeyPath: hostKey.privateKeyPath, authorizedKeysPath }),
    )
    try {
      const { child, log } = await launch(configPath)
      const hostPublicKey = hostKey.publicKey.split(' ').slice(0, 2).join(' ')
      const knownHostsPath = join(dir, 'known_hosts')
      writeFileSync(knownHostsPath, `[127.0.0.1]:${port} ${hostPublicKey}\n`)
      const pid = child.pid as number
      return {
        host: '127.0.0.1',
        port,
        username,
        privateKeyPath: client.privateKeyPath,
        knownHostsPath,
        hostPublicKey,
        workDir,
        dir,
        pid,
        countConnections: () => listChildren(pid).length,
        killConnections: () => killConnectionTrees(pid),
        log,
        stop: async () => {
          await killConnectionTrees(pid)
          await stopProcess(child)
          rmSync(dir, { recursive: true, force: true })
        },
      }
    } catch (error) {
      lastError = error as Error
      // another process may have taken the port between our probe and sshd's bind
      if (!/Address already in use|Cannot bind/i.test(lastError.message)) break
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw lastError ?? new Error('sshd did not start')
}

function renderConfig(input: {
  port: number
  dir: string
  username: string
  hostKeyPath: string
  authorizedKeysPath: string
}): string {
  return [
    `Port ${input.port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${input.hostKeyPath}`,
    `PidFile ${join(input.dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${input.authorizedKeysPath}`,
    `AllowUsers ${input.username}`,
    // PAM would need a service config; StrictModes would reject the temp dir's ownership
    'UsePAM no',
    'StrictModes no',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin no',
    'Subsystem sftp internal-sftp',
    'MaxStartups 100',
    'LogLevel VERBOSE',
    '',
  ].join('\n')
}

async function launch(configPath: string): Promise<{ child: ChildProcess; log: () => string }> {
  const child = spawn(SSHD_PATH, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] })
  let output = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    // keep the tail only; a long test run logs every connection
    output = (output + chunk).slice(-64_000)
  })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`sshd did not report listening within 10 s:\n${output}`))
    }, 10_000)
    const onData = (): void => {
      if (output.includes('Server listening on')) {
        clearTimeout(timer)
        child.stderr?.off('data', onData)
        resolve()
      }
    }
    child.stderr?.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`sshd exited with ${code} before listening:\n${output}`))
    })
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })
  return { child, log: () => output }
}

function ensureSshdInstalled(): void {
  if (existsSync(SSHD_PATH)) return
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    throw new Error(`${SSHD_PATH} is missing: install openssh-server (apt-get install -y openssh-server)`)
  }
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' })
  execFileSync('apt-get', ['install', '-y', '-qq', 'openssh-server'], {
    stdio: 'ignore',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
}

/** Create the test user if missing and make sure its account is not locked (sshd refuses `!` hashes). */
function ensureTestUser(): string {
  if (!userExists(TEST_USER)) {
    try {
      execFileSync('useradd', ['-m', '-s', '/bin/bash', TEST_USER], { stdio: 'pipe' })
    } catch (error) {
      // a parallel test file may have created it in the meantime
      if (!userExists(TEST_USER)) throw error
    }
  }
  for (let attempt = 0; attempt < 10; attempt++) {
    const shadow = execFileSync('getent', ['shadow', TEST_USER], { encoding: 'utf8' })
    if (!(shadow.split(':')[1] ?? '').startsWith('!')) return TEST_USER
    try {
      execFileSync('usermod', ['-p', '*', TEST_USER], { stdio: 'pipe' })
    } catch {
      // /etc/shadow is locked by a parallel usermod; check again
      execFileSync('sleep', ['0.2'])
    }
  }
  throw new Error(`cannot unlock the account ${TEST_USER} (usermod -p '*' failed)`)
}

function userExists(name: string): boolean {
  try {
    execFileSync('id', ['-u', name], { stdio: 'pipe' })
    return true
  } catch {
    return false
  }
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Living (non-zombie) processes with their parent pid, from /proc. */
function readProcessTable(): Array<{ pid: number; ppid: number }> {
  const table: Array<{ pid: number; ppid: number }> = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      // the command name is in parentheses and may contain spaces; fields after it are fixed
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (fields[0] === 'Z') continue
      table.push({ pid: Number(name), ppid: Number(fields[1]) })
    } catch {
      // the process exited while we were reading
    }
  }
  return table
}

function listChildren(pid: number): number[] {
  return readProcessTable()
    .filter((entry) => entry.ppid === pid)
    .map((entry) => entry.pid)
}

function listDescendants(pid: number): number[] {
  const table = readProcessTable()
  const found: number[] = []
  const queue = [pid]
  while (queue.length > 0) {
    const parent = queue.shift() as number
    for (const entry of table) {
      if (entry.ppid === parent) {
        found.push(entry.pid)
        queue.push(entry.pid)
      }
    }
  }
  return found
}

async function killConnectionTrees(listenerPid: number): Promise<number> {
  const connections = listChildren(listenerPid).length
  // the network side of a connection lives in the unprivileged grandchild, so kill the whole tree
  const victims = listDescendants(listenerPid)
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 5_000
  while (Date.now() < deadline) {
    const alive = new Set(readProcessTable().map((entry) => entry.pid))
    if (victims.every((pid) => !alive.has(pid))) return connections
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`sshd connection processes did not die: ${victims.join(', ')}`)
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}
