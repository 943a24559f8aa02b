/**
 * `rpo serve` and `rpo token` as a user runs them: tokens created (shown once), listed without
 * secrets and revoked; the real bin/rpo.js serving on 127.0.0.1 at a free port, queried with
 * fetch, logging requests without the token, and exiting 0 on SIGTERM.
 */
import { createHash } from 'node:crypto'
import net from 'node:net'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, spawnCli } from '../support/cli-harness.js'
import { removeWorkspace, workspaceWithRuns } from './http-harness.js'

let dir = ''
let runs: Record<string, string> = {}

beforeAll(async () => {
  ;({ dir, runs } = await workspaceWithRuns())
})

afterAll(() => removeWorkspace(dir))

describe('rpo token', () => {
  it('creates a token shown once, lists tokens without secrets, and revokes one', async () => {
    const created = await runCli(dir, ['token', 'create', '--scope', 'read', '--project', 'vision', '--name', 'ci'])
    expect(created.code, created.stderr).toBe(0)
    const [line, secret] = created.stdout.trim().split('\n')
    expect(line).toMatch(/^token (tok-[0-9a-f]{8}) \(read, project vision only\) created; it is shown this once/)
    expect(secret).toMatch(/^rpo_[A-Za-z0-9_-]{43}$/)
    const id = /token (tok-[0-9a-f]{8})/.exec(line as string)?.[1] as string

    const listed = await runCli(dir, ['token', 'list', '--json'])
    const tokens = JSON.parse(listed.stdout)
    expect(tokens).toEqual([
      expect.objectContaining({ id, name: 'ci', scope: 'read', project: 'vision', revokedAt: null }),
    ])
    expect(listed.stdout).not.toContain((secret as string).slice(4))
    // the store has the secret's SHA-256 hash and nothing from which the secret could be read back
    const db = new Database(path.join(dir, '.rpo/rpo.sqlite'), { readonly: true })
    try {
      const row = db.prepare('select * from api_tokens where id = ?').get(id) as Record<string, unknown>
      expect(row.secret_hash).toBe(
        createHash('sha256')
          .update(secret as string)
          .digest('hex'),
      )
      expect(JSON.stringify(row)).not.toContain((secret as string).slice(4))
    } finally {
      db.close()
    }
    const table = await runCli(dir, ['token', 'list'])
    expect(table.stdout).toMatch(new RegExp(`^${id}\\s+ci\\s+read\\s+vision`, 'm'))

    const revoked = await runCli(dir, ['token', 'revoke', id])
    expect(revoked.stdout).toMatch(new RegExp(`^token ${id} revoked at \\d{4}-`))
    expect((await runCli(dir, ['token', 'revoke', 'tok-nothing'])).code).toBe(2)
    const bad = await runCli(dir, ['token', 'create', '--scope', 'root'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/argument 'root' is invalid. Allowed choices are read, admin/)
    const badName = await runCli(dir, ['token', 'create', '--scope', 'read', '--name', 'has space'])
    expect(badName.code).toBe(2)
  })
})

describe('rpo serve', () => {
  it('serves the API from its own process, logs without the token, and exits 0 on SIGTERM', async () => {
    const created = await runCli(dir, ['token', 'create', '--scope', 'read', '--json'])
    const secret = JSON.parse(created.stdout).token as string
    const served = spawnCli(dir, ['serve', '--port', '0', '--log'])
    try {
      await served.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/)
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(served.stdout())?.[1] as string
      const answer = await fetch(`${url}/v1/runs`, { headers: { authorization: `Bearer ${secret}` } })
      expect(answer.status).toBe(200)
      const body = (await answer.json()) as { runs: { runId: string }[] }
      expect(body.runs.map((r) => r.runId).sort()).toEqual([runs.nlp, runs.vision].sort())
      expect((await fetch(`${url}/v1/runs`)).status).toBe(401)
      // rpo serve's /metrics is the store's Prometheus metrics (src/metrics): one series per project and state
      const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${secret}` } })
      expect(metrics.status).toBe(200)
      expect(metrics.headers.get('content-type')).toContain('text/plain')
      const exposition = await metrics.text()
      expect(exposition).toMatch(/^# TYPE rpo_runs gauge$/m)
      expect(exposition).toMatch(/^rpo_runs\{project="vision",state="\w+"\} 1$/m)
      // an open event stream does not keep the server from stopping
      const stream = await fetch(`${url}/v1/events/stream`, { headers: { authorization: `Bearer ${secret}` } })
      expect(stream.status).toBe(200)
      served.child.kill('SIGTERM')
      const { code, stdout, stderr } = await served.closed()
      expect(code, stderr).toBe(0)
      expect(stdout).toMatch(/rpo serve: stopped \(SIGTERM\)/)
      expect(stderr).toContain('"url":"/v1/runs"')
      expect(stderr + stdout).not.toContain(secret)
      expect(stderr + stdout).not.toContain(secret.slice(4, 24))
    } finally {
      if (served.child.exitCode === null) served.child.kill('SIGKILL')
    }
  })

  it('says so when the port is taken (exit 2)', async () => {
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    try {
      const taken = (blocker.address() as net.AddressInfo).port
      const result = await runCli(dir, ['serve', '--port', String(taken)])
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken}: the port is in use`))
    } finally {
      blocker.close()
    }
  })

  it('refuses a bad port, and prints the OpenAPI document without a store', async () => {
    const bad = await runCli(dir, ['serve', '--port', '70000'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/expected a TCP port from 0 to 65535, got "70000"/)
    const printed = await runCli(dir, ['serve', '--print-openapi'])
    expect(JSON.parse(printed.stdout).openapi).toBe('3.1.0')
  })
})
