/**
 * The one place where ssh2's connection errors become rpo's `TransportError` codes, and the
 * reconnect backoff schedule. ssh2 tags its errors with `err.level`
 * (https://github.com/mscdex/ssh2#client-events): authentication failures are permanent, socket,
 * DNS and timeout failures are transient.
 */

import { TransportError } from '../core/errors.js'

/** How the SSH transport retries a failed connection attempt. */
export interface ReconnectPolicy {
  /** Connection attempts per `exec`/file call before giving up (1 = no retry). @default 4 */
  readonly maxAttempts: number
  /** Delay before the second attempt; doubles for each further one. @default 500 */
  readonly baseDelayMs: number
  /** Upper bound for one delay. @default 30000 */
  readonly maxDelayMs: number
}

export const DEFAULT_RECONNECT_POLICY: ReconnectPolicy = { maxAttempts: 4, baseDelayMs: 500, maxDelayMs: 30_000 }

/**
 * Delay before connection attempt `attempt + 1`, after `attempt` (1-based) failed: `baseDelayMs *
 * 2^(attempt-1)`, capped at `maxDelayMs`. With `random` (a seeded source in [0, 1)), "equal jitter"
 * spreads the delay over [delay/2, delay) so many rpo instances do not reconnect in lockstep. Pure.
 */
export function computeReconnectDelayMs(attempt: number, policy: ReconnectPolicy, random?: () => number): number {
  const exponential = policy.baseDelayMs * 2 ** Math.max(0, attempt - 1)
  const delay = Math.min(policy.maxDelayMs, exponential)
  if (random === undefined) return delay
  return Math.floor(delay / 2 + (random() * delay) / 2)
}

/** The shape of an error ssh2 or node:net raises; only the fields we branch on. */
interface SshLikeError {
  readonly message?: string
  readonly level?: string
  readonly code?: string | number
}

const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'])

/**
 * Map an ssh2 connection error to a `TransportError`. `description` (`ssh user@host:port`) prefixes
 * the message; nothing from the connection config (keys, passphrases) is ever included.
 */
export function mapSshError(error: unknown, description: string): TransportError {
  if (error instanceof TransportError) return error
  const raw = (typeof error === 'object' && error !== null ? error : {}) as SshLikeError
  const detail = raw.message ?? String(error)
  const code = typeof raw.code === 'string' ? raw.code : undefined
  if (raw.level === 'client-authentication') {
    return new TransportError(
      'ssh-auth',
      `${description}: authentication failed (${detail}); check the username and that the public key is in the ` +
        "server's authorized_keys",
      { cause: error },
    )
  }
  if (raw.level === 'agent') {
    return new TransportError('ssh-auth', `${description}: ssh-agent failed: ${detail}`, { cause: error })
  }
  if (raw.level === 'client-timeout') {
    return new TransportError('ssh-timeout', `${description}: timed out (${detail})`, { cause: error })
  }
  if (raw.level === 'client-dns' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new TransportError('ssh-dns', `${description}: cannot resolve host name (${detail})`, { cause: error })
  }
  if (raw.level === 'client-socket' || raw.level === 'protocol' || (code !== undefined && SOCKET_CODES.has(code))) {
    return new TransportError('ssh-socket', `${description}: connection failed (${detail})`, { cause: error })
  }
  if (raw.level === 'handshake') {
    // no common algorithm, bad signature: retrying the same configuration cannot succeed
    return new TransportError('ssh-config', `${description}: SSH handshake failed (${detail})`, { cause: error })
  }
  return new TransportError('ssh-socket', `${description}: ${detail}`, { cause: error })
}
