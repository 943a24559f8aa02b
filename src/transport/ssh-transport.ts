/**
 * The SSH transport: one persistent ssh2 connection per transport, reused by every command (as
 * concurrent exec channels, bounded by a queue) and by one cached SFTP session for files. Owns
 * connecting (strict host-key checking against known_hosts), reconnecting with backoff after a drop,
 * the fate of commands that were in flight when it dropped, and per-command timeouts. Never logs or
 * puts into messages the private key or passphrase.
 */

import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { Client, type ConnectConfig, type ServerHostKeyAlgorithm, type SFTPWrapper, type VerifyCallback } from 'ssh2'
import { TransportError } from '../core/errors.js'
import { quoteShellCommand } from '../script/shell-quote.js'
import { describeArgv, describeScript } from './command-label.js'
import { formatKnownHostsName, listKnownKeyTypes, loadKnownHosts } from './known-hosts.js'
import { readSftpFile, writeSftpFile } from './sftp-files.js'
import { computeReconnectDelayMs, DEFAULT_RECONNECT_POLICY, mapSshError, type ReconnectPolicy } from './ssh-errors.js'
import { ChannelSlots, runExecChannel } from './ssh-exec.js'
import { verifyHostKey } from './ssh-host-key.js'
import type { ExecOptions, ExecResult, Transport } from './transport.js'

/** How to reach and authenticate to one SSH server. Secrets here are never logged or put into messages. */
export interface SshTransportOptions {
  /** Host name or IP address; also the name looked up in known_hosts. */
  readonly host: string
  /** @default 22 */
  readonly port?: number
  /** The remote login name. */
  readonly username: string
  /** Path of an OpenSSH private key file (read at each connect; `~/` is expanded). */
  readonly privateKeyPath?: string
  /** The private key itself; takes precedence over `privateKeyPath`. */
  readonly privateKey?: string | Buffer
  /** Passphrase of an encrypted private key. */
  readonly passphrase?: string
  /** ssh-agent socket path. @default process.env.SSH_AUTH_SOCK when no private key is given */
  readonly agent?: string
  /** @default ~/.ssh/known_hosts */
  readonly knownHostsPath?: string
  /**
   * Accept and record (append to known_hosts) the key of a host that has no entry yet. A host whose
   * recorded key differs is refused regardless. @default false
   */
  readonly trustOnFirstUse?: boolean
  /** TCP connect + handshake + authentication, per attempt. @default 20000 */
  readonly connectTimeoutMs?: number
  /** SSH-level keepalive interval, so a silently dead connection is noticed; 0 disables. @default 15000 */
  readonly keepaliveIntervalMs?: number
  /** Unanswered keepalives before the connection is declared dead. @default 3 */
  readonly keepaliveCountMax?: number
  /**
   * Exec channels open at once; further commands wait in a queue. Keep it below sshd's `MaxSessions`
   * (default 10), which also counts the one SFTP session. @default 8
   */
  readonly maxConcurrentChannels?: number
  /** Connection retry schedule; see `ReconnectPolicy` for defaults. */
  readonly reconnect?: Partial<ReconnectPolicy>
  /** Waits between connection attempts; injectable so tests need not sleep. @default setTimeout */
  readonly sleep?: (delayMs: number) => Promise<void>
  /** A seeded source in [0, 1) to jitter reconnect delays. @default no jitter */
  readonly random?: () => number
}

/** Counters for tests and metrics. */
export interface SshTransportStats {
  /** Connections established (handshake and authentication done); 1 while nothing has dropped. */
  readonly connects: number
  /** Connection attempts, successful or not. */
  readonly connectAttempts: number
  /** Exec channels opened (re-runs included). */
  readonly execs: number
  /** Exec channels open now. */
  readonly activeChannels: number
  /** Commands waiting for a free channel. */
  readonly queuedExecs: number
  /** Whether a connection is up right now (a dropped one is re-established by the next call). */
  readonly isConnected: boolean
}

/** A `Transport` over SSH, with counters for tests and metrics. */
export interface SshTransport extends Transport {
  /** A snapshot of the counters; cheap, no I/O. */
  stats(): SshTransportStats
}

/** One live ssh2 connection; `isAlive` turns false for good when it ends or errors. */
interface SshConnection {
  readonly client: Client
  isAlive: boolean
  sftp: Promise<SFTPWrapper> | undefined
}

type TransportErrorCode = ConstructorParameters<typeof TransportError>[0]

const DEFAULT_TIMEOUT_MS = 60_000
// a connection that drops before the command started is not the command's failure; try a few times
const MAX_RESTARTS = 2
// sshd frees a closed session only after its own bookkeeping, so right after a burst of commands
// ends it can still count them against MaxSessions and refuse new channels for a moment
const MAX_REFUSALS = 8
const REFUSAL_BACKOFF: ReconnectPolicy = { maxAttempts: MAX_REFUSALS, baseDelayMs: 20, maxDelayMs: 500 }
// `bash -s` reads a script from a pipe one byte per read(2) (so that a command in it cannot swallow
// the rest): a batch of 1,000 sbatch, a megabyte, spent seconds on that. cat reads it in blocks
const SCRIPT_COMMAND = `bash -c 'eval "$(cat)"'`

/**
 * Create an SSH transport. Nothing connects until the first call. Connection failures throw
 * `TransportError`: `ssh-host-key` (unknown, changed or revoked key), `ssh-auth` and `ssh-config`
 * are permanent; `ssh-socket`, `ssh-dns` and `ssh-timeout` are retryable and are retried here
 * `reconnect.maxAttempts` times before being thrown.
 */
export function createSshTransport(options: SshTransportOptions): SshTransport {
  const port = options.port ?? 22
  const description = `ssh ${options.username}@${options.host}:${port}`
  const policy: ReconnectPolicy = { ...DEFAULT_RECONNECT_POLICY, ...options.reconnect }
  const sleep = options.sleep ?? ((delayMs: number) => new Promise<void>((resolve) => setTimeout(resolve, delayMs)))
  const knownHostsPath = expandHome(options.knownHostsPath ?? '~/.ssh/known_hosts')
  const hostName = formatKnownHostsName(options.host, port)
  const slots = new ChannelSlots(options.maxConcurrentChannels ?? 8)
  const counters = { connects: 0, connectAttempts: 0, execs: 0 }
  let connection: SshConnection | undefined
  let connecting: Promise<SshConnection> | undefined
  let isClosed = false

  function assertOpen(): void {
    if (isClosed) throw new TransportError('ssh-socket', `${description}: transport is closed`, { retryable: false })
  }

  async function loadCredentials(): Promise<Pick<ConnectConfig, 'privateKey' | 'passphrase' | 'agent'>> {
    let privateKey = options.privateKey
    if (privateKey === undefined && options.privateKeyPath !== undefined) {
      const path = expandHome(options.privateKeyPath)
      try {
        privateKey = await readFile(path)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'unreadable'
        throw new TransportError('ssh-config', `${description}: cannot read private key file ${path} (${code})`)
      }
    }
    const agent = options.agent ?? (privateKey === undefined ? process.env.SSH_AUTH_SOCK : undefined)
    if (privateKey === undefined && agent === undefined) {
      throw new TransportError(
        'ssh-config',
        `${description}: no credentials; set privateKeyPath, privateKey or agent (or run an ssh-agent)`,
      )
    }
    return { privateKey, passphrase: options.passphrase, agent }
  }

  async function connectOnce(): Promise<SshConnection> {
    counters.connectAttempts += 1
    const credentials = await loadCredentials()
    const entries = await loadKnownHosts(knownHostsPath)
    // ask for a key type we can verify first, as ssh does; otherwise ssh2 may pick a type we have no record of
    const preferred = listKnownKeyTypes(entries, hostName).flatMap(hostKeyAlgorithmsFor)
    const client = new Client()
    const current: SshConnection = { client, isAlive: false, sftp: undefined }
    let hostKeyError: TransportError | undefined
    const hostVerifier = (key: Buffer, verify: VerifyCallback): void => {
      const context = { description, hostName, host: options.host, port, knownHostsPath }
      verifyHostKey(entries, key, context, options.trustOnFirstUse ?? false).then(
        () => verify(true),
        (error: TransportError) => {
          hostKeyError = error
          verify(false)
        },
      )
    }
    const config: ConnectConfig = {
      ...credentials,
      host: options.host,
      port,
      username: options.username,
      readyTimeout: options.connectTimeoutMs ?? 20_000,
      keepaliveInterval: options.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: options.keepaliveCountMax ?? 3,
      hostVerifier,
      ...(preferred.length > 0
        ? { algorithms: { serverHostKey: { remove: preferred, prepend: preferred, append: [] } } }
        : {}),
    }
    return new Promise<SshConnection>((resolve, reject) => {
      let isSettled = false
      const fail = (error: unknown): void => {
        if (isSettled) return
        isSettled = true
        client.end()
        reject(hostKeyError ?? mapSshError(error, description))
      }
      const markDead = (): void => {
        current.isAlive = false
        current.sftp = undefined
        if (connection === current) connection = undefined
      }
      client.on('ready', () => {
        isSettled = true
        current.isAlive = true
        counters.connects += 1
        resolve(current)
      })
      // after 'ready' an error only means the connection is gone; the affected calls report it
      client.on('error', (error) => {
        markDead()
        fail(error)
      })
      client.on('end', markDead)
      client.on('close', () => {
        markDead()
        fail(new TransportError('ssh-socket', `${description}: connection closed during the SSH handshake`))
      })
      try {
        client.connect(config)
        // small request/reply packets: Nagle + delayed ACK would add ~40 ms to every command
        client.setNoDelay(true)
      } catch (error) {
        // ssh2 validates the config (e.g. an unparsable key) synchronously; its messages do not echo the key
        isSettled = true
        reject(new TransportError('ssh-config', `${description}: ${(error as Error).message}`, { cause: error }))
      }
    })
  }

  async function connectWithRetry(): Promise<SshConnection> {
    for (let attempt = 1; ; attempt++) {
      assertOpen()
      try {
        const established = await connectOnce()
        if (isClosed) {
          established.client.end()
          assertOpen()
        }
        connection = established
        return established
      } catch (error) {
        const mapped = mapSshError(error, description)
        if (!mapped.retryable || attempt >= policy.maxAttempts) {
          if (attempt === 1) throw mapped
          throw new TransportError(mapped.code as TransportErrorCode, `${mapped.message} (after ${attempt} attempts)`, {
            cause: mapped.cause,
          })
        }
        await sleep(computeReconnectDelayMs(attempt, policy, options.random))
      }
    }
  }

  function connect(): Promise<SshConnection> {
    if (connection?.isAlive) return Promise.resolve(connection)
    connecting ??= connectWithRetry().finally(() => {
      connecting = undefined
    })
    return connecting
  }

  async function run(command: string, label: string, execOptions: ExecOptions): Promise<ExecResult> {
    assertOpen()
    await slots.acquire()
    try {
      let restarts = 0
      let reruns = 0
      let refusals = 0
      for (;;) {
        assertOpen()
        const current = await connect()
        const outcome = await runExecChannel(current, command, {
          description,
          label,
          stdin: execOptions.stdin,
          timeoutMs: execOptions.timeoutMs ?? DEFAULT_TIMEOUT_MS,
          onOpen: () => {
            counters.execs += 1
          },
        })
        if (outcome.kind === 'done') return outcome.result
        if (outcome.kind === 'refused') {
          refusals += 1
          if (refusals > MAX_REFUSALS) {
            throw new TransportError(
              'ssh-socket',
              `${description}: the server keeps refusing to open a channel for \`${label}\` ` +
                `(${(outcome.cause as Error).message}); lower maxConcurrentChannels below sshd's MaxSessions`,
              { cause: outcome.cause },
            )
          }
          await sleep(computeReconnectDelayMs(refusals, REFUSAL_BACKOFF))
          continue
        }
        if (outcome.kind === 'not-started' && restarts < MAX_RESTARTS) {
          restarts += 1
          continue
        }
        if (outcome.kind === 'lost' && execOptions.idempotent === true && reruns < 1) {
          reruns += 1
          continue
        }
        if (outcome.kind === 'not-started') throw mapSshError(outcome.cause, description)
        throw new TransportError(
          'ssh-socket',
          `${description}: the connection dropped while \`${label}\` was running; its outcome is unknown (it may ` +
            `or may not have taken effect). Check its effects before running it again${reruns > 0 ? ' (it was already re-run once)' : ''}`,
          { cause: outcome.cause },
        )
      }
    } finally {
      slots.release()
    }
  }

  async function withSftp<T>(operation: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      assertOpen()
      const current = await connect()
      try {
        current.sftp ??= openSftp(current)
        return await operation(await current.sftp)
      } catch (error) {
        if (typeof (error as NodeJS.ErrnoException).code === 'string' && current.isAlive) throw error
        // reads and temp+rename writes are idempotent, so one retry on a fresh connection is safe
        if (!current.isAlive && attempt < 2) continue
        throw mapSshError(error, description)
      }
    }
  }

  function openSftp(current: SshConnection): Promise<SFTPWrapper> {
    const opened = new Promise<SFTPWrapper>((resolve, reject) => {
      current.client.sftp((error, sftp) => {
        if (error) return reject(error)
        sftp.on('close', () => {
          if (current.sftp === opened) current.sftp = undefined
        })
        resolve(sftp)
      })
    })
    opened.catch(() => {
      if (current.sftp === opened) current.sftp = undefined
    })
    return opened
  }

  return {
    description,
    exec(argv: readonly string[], execOptions: ExecOptions = {}): Promise<ExecResult> {
      if (argv.length === 0) return Promise.reject(new TypeError('exec needs a command: argv is empty'))
      return run(quoteShellCommand(argv), describeArgv(argv), execOptions)
    },
    execScript(script: string, execOptions: Omit<ExecOptions, 'stdin'> = {}): Promise<ExecResult> {
      return run(SCRIPT_COMMAND, describeScript(script), { ...execOptions, stdin: script })
    },
    readFile(path: string): Promise<string> {
      return withSftp((sftp) => readSftpFile(sftp, path))
    },
    writeFile(path: string, content: string, fileOptions: { mode?: number } = {}): Promise<void> {
      return withSftp((sftp) => writeSftpFile(sftp, path, content, fileOptions.mode))
    },
    async close(): Promise<void> {
      if (isClosed) return
      isClosed = true
      const pending = connecting
      await pending?.catch(() => undefined)
      const current = connection
      connection = undefined
      if (current === undefined || !current.isAlive) return
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5_000)
        current.client.once('close', () => {
          clearTimeout(timer)
          resolve()
        })
        current.client.end()
      })
    },
    stats(): SshTransportStats {
      return {
        ...counters,
        activeChannels: slots.inUse,
        queuedExecs: slots.queued,
        isConnected: connection?.isAlive ?? false,
      }
    },
  }
}

/** ssh2 host-key algorithm names that yield a key of the given known_hosts key type. */
function hostKeyAlgorithmsFor(keyType: string): ServerHostKeyAlgorithm[] {
  switch (keyType) {
    case 'ssh-ed25519':
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521':
      return [keyType]
    case 'ssh-rsa':
      return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']
    default:
      return []
  }
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path
}
