/**
 * The live Slurm testbed as the benches see it: its connection file, commands run as its user on
 * the login node (this machine), and the cleanup that cancels every job a bench tagged.
 */
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { packageRoot } from '../src/package-root.js'
import { createSshTransport, type SshTransport } from '../src/transport/ssh-transport.js'

export const CONNECTION = path.join(packageRoot(), 'test/cluster/.testbed/connection.json')

export interface Connection {
  host: string
  port: number
  user: string
  privateKeyPath: string
  knownHostsPath: string
  workDir: string
  defaultAccount: string
}

/** Run a shell script as the testbed's user on the login node; its stdout. */
export function asUser(conn: Connection, script: string): string {
  return execFileSync('su', ['-', conn.user, '-c', script], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
}

export function sshTo(conn: Connection): SshTransport {
  return createSshTransport({
    host: conn.host,
    port: conn.port,
    username: conn.user,
    privateKeyPath: conn.privateKeyPath,
    knownHostsPath: conn.knownHostsPath,
  })
}

export const median = (xs: readonly number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

/**
 * Cancel every queued or running job of `tag` (names `<tag>…` and rpo's keys `rpo.<tag>…`) and wait
 * until squeue lists none. Returns how many were cancelled.
 * @throws Error when some are still listed after 60 s.
 */
export async function cancelTaggedJobs(conn: Connection, tag: string, quiet = false): Promise<number> {
  // %j is printed last so that nothing in a name can shift the id column
  const list = `squeue -h -u ${conn.user} -o '%i %j' | awk -v t=${tag} 'index($2, t) == 1 || index($2, "rpo." t) == 1 { print $1 }'`
  const found = asUser(conn, list).trim()
  const ids = found === '' ? [] : found.split('\n')
  if (ids.length > 0) asUser(conn, `${list} | xargs -r scancel`)
  let left = ''
  for (let i = 0; i < 60; i++) {
    left = asUser(conn, list).trim()
    if (left === '') {
      if (!quiet) console.log(`cleanup: ${ids.length} job(s) tagged ${tag} cancelled; none of them left in the queue`)
      return ids.length
    }
    await new Promise((r) => setTimeout(r, 1000))
  }
  throw new Error(`bench cleanup: ${left.split('\n').length} job(s) tagged ${tag} still queued after scancel`)
}
