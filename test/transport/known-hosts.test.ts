/**
 * known_hosts parsing and host-key verdicts (with keys and hashed entries made by the real
 * ssh-keygen), the reconnect backoff schedule and the ssh2 error mapping.
 */

import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  appendKnownHost,
  checkHostKey,
  formatFingerprint,
  formatKnownHostsName,
  listKnownKeyTypes,
  matchesKnownHostsName,
  parseKnownHosts,
  readKeyType,
} from '../../src/transport/known-hosts.js'
import { computeReconnectDelayMs, mapSshError } from '../../src/transport/ssh-errors.js'
import { generateKeyPair } from '../support/sshd.js'

let dir: string
let ed25519: { line: string; blob: Buffer }
let other: { line: string; blob: Buffer }
let rsa: { line: string; blob: Buffer }

function makeKey(name: string, type = 'ed25519'): { line: string; blob: Buffer } {
  const path = join(dir, name)
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-f', path])
  const [keyType, base64] = readFileSync(`${path}.pub`, 'utf8').trim().split(' ')
  return { line: `${keyType} ${base64}`, blob: Buffer.from(base64 as string, 'base64') }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rpo-known-hosts-'))
  ed25519 = makeKey('host')
  other = makeKey('other')
  rsa = makeKey('host_rsa', 'rsa')
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('known_hosts', () => {
  it('names hosts as OpenSSH does', () => {
    expect(formatKnownHostsName('Login1.Example.org', 22)).toBe('login1.example.org')
    expect(formatKnownHostsName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222')
  })

  it('parses markers, comments and skips malformed lines', () => {
    const entries = parseKnownHosts(
      [
        '# comment',
        '',
        `login1,10.0.0.1 ${ed25519.line} a comment`,
        `@revoked * ${other.line}`,
        `@cert-authority *.example.org ${rsa.line}`,
        '@unknown-marker host ssh-ed25519 AAAA',
        'truncated-line ssh-ed25519',
        `mismatch ssh-rsa ${ed25519.line.split(' ')[1]}`,
      ].join('\n'),
    )
    expect(entries.map((entry) => [entry.line, entry.marker, entry.hosts, entry.keyType])).toEqual([
      [3, null, 'login1,10.0.0.1', 'ssh-ed25519'],
      [4, 'revoked', '*', 'ssh-ed25519'],
      [5, 'cert-authority', '*.example.org', 'ssh-rsa'],
    ])
    expect(readKeyType(ed25519.blob)).toBe('ssh-ed25519')
  })

  it('matches patterns: lists, wildcards, negation and [host]:port', () => {
    expect(matchesKnownHostsName('login1,login2', 'login2')).toBe(true)
    expect(matchesKnownHostsName('*.example.org', 'login1.example.org')).toBe(true)
    expect(matchesKnownHostsName('login?', 'login7')).toBe(true)
    expect(matchesKnownHostsName('*.example.org,!bad.example.org', 'bad.example.org')).toBe(false)
    expect(matchesKnownHostsName('[127.0.0.1]:2222', '[127.0.0.1]:2222')).toBe(true)
    expect(matchesKnownHostsName('127.0.0.1', '[127.0.0.1]:2222')).toBe(false)
    expect(matchesKnownHostsName('LOGIN1', 'login1')).toBe(true)
  })

  it('matches entries hashed by ssh-keygen -H', () => {
    const path = join(dir, 'hashed')
    writeFileSync(path, `[10.1.2.3]:2200 ${ed25519.line}\ncluster.example.org ${rsa.line}\n`)
    execFileSync('ssh-keygen', ['-H', '-f', path], { stdio: 'ignore' })
    const entries = parseKnownHosts(readFileSync(path, 'utf8'))
    expect(entries.every((entry) => entry.hosts.startsWith('|1|'))).toBe(true)
    expect(checkHostKey(entries, '[10.1.2.3]:2200', ed25519.blob)).toEqual({ kind: 'known' })
    expect(checkHostKey(entries, 'cluster.example.org', rsa.blob)).toEqual({ kind: 'known' })
    expect(checkHostKey(entries, '10.1.2.3', ed25519.blob).kind).toBe('unknown')
  })

  it('tells known, unknown, changed and revoked keys apart', () => {
    const entries = parseKnownHosts(`login1 ${ed25519.line}\nlogin2 ${rsa.line}\n@revoked * ${other.line}\n`)
    expect(checkHostKey(entries, 'login1', ed25519.blob)).toEqual({ kind: 'known' })
    expect(checkHostKey(entries, 'login3', ed25519.blob)).toEqual({ kind: 'unknown', knownKeyTypes: [] })
    expect(checkHostKey(entries, 'login1', makeKey('new').blob)).toEqual({ kind: 'changed', lines: [1] })
    // a key of a type we have no record of is new, not changed (as in ssh)
    expect(checkHostKey(entries, 'login2', ed25519.blob)).toEqual({ kind: 'unknown', knownKeyTypes: ['ssh-rsa'] })
    expect(checkHostKey(entries, 'login1', other.blob)).toEqual({ kind: 'revoked', line: 3 })
    expect(listKnownKeyTypes(entries, 'login2')).toEqual(['ssh-rsa'])
  })

  it('appends a trusted key, creating the file, and never glues onto an unterminated line', async () => {
    const path = join(dir, 'tofu', 'known_hosts')
    await appendKnownHost(path, '[h]:2022', ed25519.blob)
    expect(readFileSync(path, 'utf8')).toBe(`[h]:2022 ${ed25519.line}\n`)
    writeFileSync(path, `first ${rsa.line}`)
    await appendKnownHost(path, 'second', ed25519.blob)
    expect(parseKnownHosts(readFileSync(path, 'utf8')).map((entry) => entry.hosts)).toEqual(['first', 'second'])
  })

  it('formats fingerprints like ssh-keygen -l', () => {
    const pub = join(dir, 'fp.pub')
    const key = generateKeyPair(dir, 'fp')
    writeFileSync(pub, key.publicKey)
    const expected = execFileSync('ssh-keygen', ['-l', '-f', pub], { encoding: 'utf8' }).split(' ')[1]
    const blob = Buffer.from(key.publicKey.split(' ')[1] as string, 'base64')
    expect(formatFingerprint(blob)).toBe(expected)
  })
})

describe('reconnect backoff', () => {
  const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1_000 }

  it('doubles from the base delay up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => computeReconnectDelayMs(attempt, policy))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ])
  })

  it('jitters only with an injected random source, within [delay/2, delay)', () => {
    expect(computeReconnectDelayMs(3, policy, () => 0)).toBe(200)
    expect(computeReconnectDelayMs(3, policy, () => 0.5)).toBe(300)
    expect(computeReconnectDelayMs(3, policy, () => 0.999)).toBe(399)
  })
})

describe('ssh2 error mapping', () => {
  const description = 'ssh alice@login1:22'
  const cases: Array<[object, string, boolean]> = [
    [{ level: 'client-authentication', message: 'All configured authentication methods failed' }, 'ssh-auth', false],
    [{ level: 'client-timeout', message: 'Timed out while waiting for handshake' }, 'ssh-timeout', true],
    [{ level: 'client-socket', code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND' }, 'ssh-dns', true],
    [{ level: 'client-socket', code: 'EAI_AGAIN', message: 'getaddrinfo EAI_AGAIN' }, 'ssh-dns', true],
    [{ level: 'client-socket', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }, 'ssh-socket', true],
    [{ level: 'client-socket', code: 'ECONNRESET', message: 'read ECONNRESET' }, 'ssh-socket', true],
    [{ level: 'handshake', message: 'no matching host key format' }, 'ssh-config', false],
  ]

  it.each(cases)('%o → %s', (raw, code, retryable) => {
    const mapped = mapSshError(Object.assign(new Error((raw as { message: string }).message), raw), description)
    expect(mapped.code).toBe(code)
    expect(mapped.retryable).toBe(retryable)
    expect(mapped.message.startsWith(description)).toBe(true)
  })
})
