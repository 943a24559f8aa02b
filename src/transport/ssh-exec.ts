/**
 * One command on one SSH exec channel, and the queue that bounds how many channels are open at
 * once. Owns the per-command timeout (signal, then close the channel) and the classification of a
 * command whose connection dropped: never started (safe to retry) or lost (outcome unknown).
 */

import type { Client, ClientChannel } from 'ssh2'
import { TransportError } from '../core/errors.js'
import type { ExecResult } from './transport.js'

/** How one exec attempt ended, when it did not throw. */
export type ExecOutcome =
  | { readonly kind: 'done'; readonly result: ExecResult }
  /** The connection was gone before the server could have started the command. */
  | { readonly kind: 'not-started'; readonly cause: unknown }
  /** The connection dropped after the command may have started: its outcome is unknown. */
  | { readonly kind: 'lost'; readonly cause: unknown }
  /** The server refused to open a channel (e.g. sshd's MaxSessions was reached); nothing ran. */
  | { readonly kind: 'refused'; readonly cause: unknown }

/** What `runExecChannel` needs besides the connection and the command line. */
export interface ExecChannelOptions {
  /** `ssh user@host:port`, the message prefix. */
  readonly description: string
  /** The command as shown in messages. */
  readonly label: string
  /** Written to the command's stdin, which is then closed (EOF is sent even without it). */
  readonly stdin?: string | undefined
  /** From sending the request to the exit status, in milliseconds. */
  readonly timeoutMs: number
  /** Called once the channel is open (for counters). */
  readonly onOpen: () => void
}

// after SIGTERM, how long the command gets to exit before SIGKILL and a forced channel close
const TERM_GRACE_MS = 1_000
// after the forced close, how long to wait for the server to confirm before giving up on it
const CLOSE_GRACE_MS = 2_000
// the error ssh2 gives channel opens that were still unanswered when the connection closed
// (ssh2 lib/client.js, socket 'close' handler); an opened channel fails with another message
const UNANSWERED_OPEN = 'No response from server'

/**
 * Run `command` (already shell-quoted) on a new exec channel of `connection`. Resolves with the
 * outcome; rejects with `TransportError('command-timeout')` after `timeoutMs` (the command's process
 * group is sent SIGTERM, then SIGKILL, and the channel is closed), or `ssh-socket` when the server
 * refuses to run it.
 */
export function runExecChannel(
  connection: { readonly client: Client; readonly isAlive: boolean },
  command: string,
  options: ExecChannelOptions,
): Promise<ExecOutcome> {
  const { description, label, timeoutMs } = options
  return new Promise<ExecOutcome>((resolve, reject) => {
    let channel: ClientChannel | undefined
    let isTimedOut = false
    let isSettled = false
    const timers: NodeJS.Timeout[] = []
    const settle = (action: () => void): void => {
      if (isSettled) return
      isSettled = true
      for (const timer of timers) clearTimeout(timer)
      action()
    }
    const failTimedOut = (): void =>
      settle(() =>
        reject(
          new TransportError(
            'command-timeout',
            `${description}: \`${label}\` did not finish within ${timeoutMs} ms; it was signalled and its channel closed`,
          ),
        ),
      )
    const stop = (open: ClientChannel): void => {
      sendSignal(open, 'TERM')
      timers.push(
        setTimeout(() => {
          sendSignal(open, 'KILL')
          open.close()
          timers.push(setTimeout(failTimedOut, CLOSE_GRACE_MS))
        }, TERM_GRACE_MS),
      )
    }
    timers.push(
      setTimeout(() => {
        isTimedOut = true
        if (channel !== undefined) stop(channel)
        else timers.push(setTimeout(failTimedOut, TERM_GRACE_MS + CLOSE_GRACE_MS))
      }, timeoutMs),
    )

    if (!connection.isAlive) {
      settle(() => resolve({ kind: 'not-started', cause: new Error('connection closed') }))
      return
    }
    try {
      connection.client.exec(command, (error, opened) => {
        if (error) {
          if (isTimedOut) return failTimedOut()
          if (!connection.isAlive) {
            const kind = error.message === UNANSWERED_OPEN ? 'not-started' : 'lost'
            return settle(() => resolve({ kind, cause: error }))
          }
          // ssh2 sets `reason` only on a CHANNEL_OPEN_FAILURE from the server: the session never existed
          if (typeof (error as { reason?: unknown }).reason === 'number') {
            return settle(() => resolve({ kind: 'refused', cause: error }))
          }
          return settle(() =>
            reject(
              new TransportError('ssh-socket', `${description}: could not start \`${label}\`: ${error.message}`, {
                cause: error,
              }),
            ),
          )
        }
        channel = opened
        options.onOpen()
        collect(opened, (result) => {
          if (isTimedOut) failTimedOut()
          else if (result === undefined) {
            settle(() => resolve({ kind: 'lost', cause: new Error('channel closed without an exit status') }))
          } else settle(() => resolve({ kind: 'done', result }))
        })
        // always send EOF so a command that reads stdin cannot wait forever
        opened.end(options.stdin ?? '')
        // a late channel (the timeout fired while it was opening) is still stopped, never left running
        if (isTimedOut) stop(opened)
      })
    } catch (error) {
      // ssh2 throws synchronously when the socket is already unwritable: nothing was sent
      settle(() => resolve({ kind: 'not-started', cause: error }))
    }
  })
}

/** Gather output until the channel closes; `result` is undefined when no exit status arrived. */
function collect(channel: ClientChannel, onClose: (result: ExecResult | undefined) => void): void {
  const stdout: Buffer[] = []
  const stderr: Buffer[] = []
  let exit: { code: number | null; signal: string | null } | undefined
  channel.on('data', (chunk: Buffer) => stdout.push(chunk))
  channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
  channel.on('exit', (code: number | null, signal?: string) => {
    exit = { code: code ?? null, signal: signal ?? null }
  })
  // errors surface as a close without exit status; the listener keeps them from crashing the process
  channel.on('error', () => undefined)
  channel.on('close', () => {
    if (exit === undefined) return onClose(undefined)
    onClose({
      stdout: Buffer.concat(stdout).toString('utf8'),
      stderr: Buffer.concat(stderr).toString('utf8'),
      exitCode: exit.code,
      signal: exit.signal,
    })
  })
}

/**
 * Ask sshd to signal the command's process group (OpenSSH >= 7.9 honours `signal` requests).
 * ssh2's `channel.signal()` silently does nothing once our side has sent EOF, which we always do,
 * so this goes to the protocol layer directly; if ssh2's internals change, closing the channel
 * (which the caller does next) still ends the session.
 */
function sendSignal(channel: ClientChannel, name: 'TERM' | 'KILL'): void {
  const internal = channel as unknown as {
    _client?: { _protocol?: { signal?: (id: number, signal: string) => void } }
    outgoing?: { id?: number; state?: string }
  }
  const id = internal.outgoing?.id
  const state = internal.outgoing?.state
  if (id === undefined || (state !== 'open' && state !== 'eof')) return
  try {
    internal._client?._protocol?.signal?.(id, name)
  } catch {
    // best effort: the close that follows still ends the session
  }
}

/** A counting semaphore: at most `size` holders; the rest wait in FIFO order. */
export class ChannelSlots {
  readonly #size: number
  #inUse = 0
  readonly #waiters: Array<() => void> = []

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`maxConcurrentChannels must be >= 1, got ${size}`)
    this.#size = size
  }

  /** Slots held now. */
  get inUse(): number {
    return this.#inUse
  }

  /** Callers waiting for a slot. */
  get queued(): number {
    return this.#waiters.length
  }

  /** Resolves once the caller holds a slot; pair every acquire with one `release()`. */
  acquire(): Promise<void> {
    if (this.#inUse < this.#size) {
      this.#inUse += 1
      return Promise.resolve()
    }
    return new Promise<void>((resolve) => this.#waiters.push(resolve))
  }

  /** Hand the slot to the next waiter, or free it. */
  release(): void {
    const next = this.#waiters.shift()
    if (next !== undefined) next()
    else this.#inUse -= 1
  }
}
