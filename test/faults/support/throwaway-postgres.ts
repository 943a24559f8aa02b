/**
 * A PostgreSQL server of the test's own (Debian's initdb + pg_ctl, as the postgres user, on a free
 * port, in a temp folder), so a test may stop and restart it without touching the machine's shared
 * PostgreSQL on 5432 that other suites use at the same time.
 */
import { execFileSync } from 'node:child_process'
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export interface ThrowawayPostgres {
  readonly url: string
  readonly port: number
  stop(): void
  start(): void
  /** Stop it and delete its folder. */
  destroy(): void
}

function pgBin(tool: string): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))
  if (versions.length === 0) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql')
  return `/usr/lib/postgresql/${versions[0]}/bin/${tool}`
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

const asPostgres = (argv: string[]) =>
  execFileSync('runuser', ['-u', 'postgres', '--', ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'rpo-faults-pg-'))
  const postgresUid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
  const postgresGid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
  chownSync(root, postgresUid, postgresGid)
  const data = path.join(root, 'data')
  const port = await freePort()
  asPostgres([pgBin('initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'])
  const start = () =>
    asPostgres([
      pgBin('pg_ctl'),
      '-D',
      data,
      '-l',
      path.join(root, 'server.log'),
      '-w',
      '-o',
      `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off`,
      'start',
    ])
  const stop = () => asPostgres([pgBin('pg_ctl'), '-D', data, '-w', '-m', 'fast', 'stop'])
  start()
  asPostgres([pgBin('createdb'), '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'rpo'])
  let running = true
  return {
    url: `postgres://postgres@127.0.0.1:${port}/rpo`,
    port,
    start: () => {
      start()
      running = true
    },
    stop: () => {
      stop()
      running = false
    },
    destroy: () => {
      if (running) stop()
      running = false
      rmSync(root, { recursive: true, force: true })
    },
  }
}
