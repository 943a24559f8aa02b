/**
 * Host-key policy for the SSH transport: turns a known_hosts verdict into "connect" or a
 * `TransportError('ssh-host-key')` whose message tells the user exactly what to do. Unknown keys are
 * refused unless trust-on-first-use is on; changed and revoked keys are always refused.
 */

import { TransportError } from '../core/errors.js'
import { quoteShellWord } from '../script/shell-quote.js'
import { appendKnownHost, checkHostKey, formatFingerprint, type KnownHostsEntry, readKeyType } from './known-hosts.js'

/** What the messages need to name the host and the file. */
export interface HostKeyContext {
  /** `ssh user@host:port`, the message prefix. */
  readonly description: string
  /** The known_hosts name, `host` or `[host]:port`. */
  readonly hostName: string
  readonly host: string
  readonly port: number
  readonly knownHostsPath: string
}

/**
 * Accept `key` when known_hosts records it for the host; with `trustOnFirstUse`, also accept a host
 * that has no entry at all and append the key. Rejects with `TransportError('ssh-host-key')`
 * (not retryable) otherwise, or when the key cannot be recorded.
 */
export async function verifyHostKey(
  entries: readonly KnownHostsEntry[],
  key: Buffer,
  context: HostKeyContext,
  trustOnFirstUse: boolean,
): Promise<void> {
  const verdict = checkHostKey(entries, context.hostName, key)
  const offered = `${readKeyType(key)} ${formatFingerprint(key)}`
  const file = quoteShellWord(context.knownHostsPath)
  const keyscan = `ssh-keyscan -p ${context.port} ${quoteShellWord(context.host)} >> ${file}`
  switch (verdict.kind) {
    case 'known':
      return
    case 'revoked':
      throw new TransportError(
        'ssh-host-key',
        `${context.description}: the server's host key (${offered}) is marked @revoked in ` +
          `${context.knownHostsPath}:${verdict.line}; refusing to connect`,
      )
    case 'changed':
      throw new TransportError(
        'ssh-host-key',
        `WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! ${context.description}: the server presented ` +
          `${offered}, but ${context.knownHostsPath} (line ${verdict.lines.join(', ')}) records a different key ` +
          'of that type for this host. Someone could be eavesdropping on you right now (man-in-the-middle attack), ' +
          'or the host key has just been replaced. rpo refuses to connect, with or without trust-on-first-use. ' +
          'If the change is expected, verify the new fingerprint with the cluster admins, remove the old entry ' +
          `with \`ssh-keygen -R ${quoteShellWord(context.hostName)} -f ${file}\` and add the new one with \`${keyscan}\``,
      )
    case 'unknown': {
      if (trustOnFirstUse) {
        try {
          await appendKnownHost(context.knownHostsPath, context.hostName, key)
        } catch (error) {
          // without a record, the next connection would trust whatever key it meets: refuse instead
          const code = (error as NodeJS.ErrnoException).code ?? String(error)
          throw new TransportError(
            'ssh-host-key',
            `${context.description}: cannot record the host key in ${context.knownHostsPath} (${code})`,
            { cause: error },
          )
        }
        return
      }
      const otherTypes =
        verdict.knownKeyTypes.length > 0
          ? ` (it records only ${verdict.knownKeyTypes.join(', ')} keys for this host, which the server did not offer)`
          : ''
      throw new TransportError(
        'ssh-host-key',
        `${context.description}: the host key of ${context.hostName} is not in ${context.knownHostsPath}${otherTypes}; ` +
          `the server offered ${offered}. Verify that fingerprint with the cluster admins, then add the key with ` +
          `\`${keyscan}\`, or set trustOnFirstUse: true to record it on the first connection`,
      )
    }
  }
}
