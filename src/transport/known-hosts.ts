/**
 * OpenSSH known_hosts: parsing, host-key checking and trust-on-first-use recording. Owns the
 * decision "is this server key the one we expect for this host?" so the SSH transport only has to
 * act on the verdict. Format reference: sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"
 * (https://man.openbsd.org/sshd#SSH_KNOWN_HOSTS_FILE_FORMAT).
 */

import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { appendFile, mkdir, readFile, stat } from 'node:fs/promises'
import { dirname } from 'node:path'

/** One key line of a known_hosts file. Certificate-authority lines are kept but never match a plain key. */
export interface KnownHostsEntry {
  /** 1-based line number, for messages that point the user at the offending line. */
  readonly line: number
  readonly marker: 'revoked' | 'cert-authority' | null
  /** The host field as written: comma-separated patterns, or one hashed `|1|salt|hash` name. */
  readonly hosts: string
  /** The key type named on the line, e.g. `ssh-ed25519`. */
  readonly keyType: string
  /** The decoded public key blob (SSH wire format), comparable with what the server sends. */
  readonly key: Buffer
}

/** The verdict for one server key. `changed` means a key of the same type is known and differs. */
export type HostKeyVerdict =
  | { readonly kind: 'known' }
  | { readonly kind: 'unknown'; readonly knownKeyTypes: readonly string[] }
  | { readonly kind: 'changed'; readonly lines: readonly number[] }
  | { readonly kind: 'revoked'; readonly line: number }

/** The name a host is recorded under: `host` on port 22, `[host]:port` otherwise (as OpenSSH writes it). */
export function formatKnownHostsName(host: string, port: number): string {
  const name = host.toLowerCase()
  return port === 22 ? name : `[${name}]:${port}`
}

/** Parse known_hosts text. Malformed lines are skipped, as OpenSSH does. Never throws. */
export function parseKnownHosts(text: string): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = []
  const lines = text.split('\n')
  for (let index = 0; index < lines.length; index++) {
    const trimmed = (lines[index] ?? '').trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    const fields = trimmed.split(/\s+/)
    let marker: KnownHostsEntry['marker'] = null
    if (fields[0]?.startsWith('@')) {
      const name = fields.shift()
      if (name === '@revoked') marker = 'revoked'
      else if (name === '@cert-authority') marker = 'cert-authority'
      else continue
    }
    const [hosts, keyType, keyBase64] = fields
    if (hosts === undefined || keyType === undefined || keyBase64 === undefined) continue
    const key = Buffer.from(keyBase64, 'base64')
    // a blob whose embedded type disagrees with the declared one is corrupt; never match on it
    if (readKeyType(key) !== keyType) continue
    entries.push({ line: index + 1, marker, hosts, keyType, key })
  }
  return entries
}

/** Read and parse a known_hosts file; a missing file is an empty list (every host is unknown). */
export async function loadKnownHosts(path: string): Promise<KnownHostsEntry[]> {
  try {
    return parseKnownHosts(await readFile(path, 'utf8'))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
}

/** Whether an entry's host field names `hostName` (already in `formatKnownHostsName` form). */
export function matchesKnownHostsName(hosts: string, hostName: string): boolean {
  if (hosts.startsWith('|1|')) return matchesHashedName(hosts, hostName)
  let matched = false
  for (const pattern of hosts.split(',')) {
    if (pattern.startsWith('!')) {
      // a matching negated pattern vetoes the whole line (ssh match_hostname semantics)
      if (matchesWildcard(pattern.slice(1), hostName)) return false
    } else if (matchesWildcard(pattern, hostName)) {
      matched = true
    }
  }
  return matched
}

/** Decide whether `key` (the server's public key blob) is acceptable for `hostName`. Pure. */
export function checkHostKey(entries: readonly KnownHostsEntry[], hostName: string, key: Buffer): HostKeyVerdict {
  const forHost = entries.filter((entry) => matchesKnownHostsName(entry.hosts, hostName))
  const revoked = forHost.find((entry) => entry.marker === 'revoked' && entry.key.equals(key))
  if (revoked !== undefined) return { kind: 'revoked', line: revoked.line }
  const plain = forHost.filter((entry) => entry.marker === null)
  if (plain.some((entry) => entry.key.equals(key))) return { kind: 'known' }
  const offeredType = readKeyType(key)
  const sameType = plain.filter((entry) => entry.keyType === offeredType)
  if (sameType.length > 0) return { kind: 'changed', lines: sameType.map((entry) => entry.line) }
  return { kind: 'unknown', knownKeyTypes: [...new Set(plain.map((entry) => entry.keyType))] }
}

/** Key types recorded for `hostName`, so the client can ask the server for a key it can verify. */
export function listKnownKeyTypes(entries: readonly KnownHostsEntry[], hostName: string): string[] {
  const types = entries
    .filter((entry) => entry.marker === null && matchesKnownHostsName(entry.hosts, hostName))
    .map((entry) => entry.keyType)
  return [...new Set(types)]
}

/** The key type embedded in an SSH public key blob (its first string), or '' when the blob is malformed. */
export function readKeyType(key: Buffer): string {
  if (key.length < 4) return ''
  const length = key.readUInt32BE(0)
  if (length > 64 || 4 + length > key.length) return ''
  return key.subarray(4, 4 + length).toString('latin1')
}

/** OpenSSH-style fingerprint, e.g. `SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s`. */
export function formatFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`
}

/** One known_hosts line (plain, not hashed, so a human can audit it), without the trailing newline. */
export function formatKnownHostsLine(hostName: string, key: Buffer): string {
  return `${hostName} ${readKeyType(key)} ${key.toString('base64')}`
}

/**
 * Append `hostName key` to the known_hosts file (trust on first use). Creates the file (mode 0600) and
 * its directory (0700) when missing. Throws the filesystem error when the file cannot be written.
 */
export async function appendKnownHost(path: string, hostName: string, key: Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  let prefix = ''
  try {
    const info = await stat(path)
    if (info.size > 0) {
      const text = await readFile(path, 'utf8')
      // appending to a file without a final newline would glue our entry onto the last line
      if (!text.endsWith('\n')) prefix = '\n'
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  await appendFile(path, `${prefix}${formatKnownHostsLine(hostName, key)}\n`, { mode: 0o600 })
}

function matchesHashedName(hosts: string, hostName: string): boolean {
  const [, , saltBase64, hashBase64] = hosts.split('|')
  if (saltBase64 === undefined || hashBase64 === undefined) return false
  const expected = Buffer.from(hashBase64, 'base64')
  const actual = createHmac('sha1', Buffer.from(saltBase64, 'base64')).update(hostName).digest()
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}

function matchesWildcard(pattern: string, name: string): boolean {
  const source = pattern
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.')
  return new RegExp(`^${source}$`).test(name)
}
