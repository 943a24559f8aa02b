/**
 * Stopping and starting the testbed's daemons one at a time, with the commands test/cluster/up.sh
 * uses (its pid files, logs and config in conf/testbed.sh). Root only, and only under
 * /tmp/rpo-testbed.lock: the testbed is shared. `ensureTestbed` is the safety net of every
 * `finally`: it brings back whatever is still down.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'

const CLUSTER_DIR = path.resolve(import.meta.dirname, '../../cluster')
const STATE_DIR = '/var/lib/rpo-testbed'
const RUN_DIR = `${STATE_DIR}/run`
const LOG_DIR = '/var/log/rpo-testbed'

export type TestbedDaemon = 'slurmctld' | 'slurmdbd' | 'sshd'

const START: Record<TestbedDaemon, string> = {
  slurmctld: `/usr/sbin/slurmctld </dev/null >>${LOG_DIR}/slurmctld.out 2>&1`,
  slurmdbd: `/usr/sbin/slurmdbd </dev/null >>${LOG_DIR}/slurmdbd.out 2>&1`,
  sshd: `/usr/sbin/sshd -f ${STATE_DIR}/ssh/sshd_config -E ${LOG_DIR}/sshd.log </dev/null >>${LOG_DIR}/sshd.out 2>&1`,
}

// answers once the daemon serves again, as up.sh's wait_for_daemon checks do
const READY: Record<TestbedDaemon, string> = {
  slurmctld: 'scontrol ping | grep -q UP',
  slurmdbd: 'sacctmgr -n show cluster >/dev/null 2>&1',
  sshd: 'timeout 5 ssh-keyscan -T 3 -t ed25519 -p 2222 127.0.0.1 2>/dev/null | grep -q ssh-ed25519',
}

function bash(script: string, timeoutMs = 60_000): string {
  return execFileSync('bash', ['-c', script], { encoding: 'utf8', timeout: timeoutMs })
}

export function daemonPid(daemon: TestbedDaemon): number | null {
  const file = `${RUN_DIR}/${daemon}.pid`
  if (!existsSync(file)) return null
  const pid = Number(readFileSync(file, 'utf8').trim())
  try {
    process.kill(pid, 0)
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === daemon ? pid : null
  } catch {
    return null
  }
}

/** SIGTERM through conf/testbed.sh's stop_daemon (which waits, then SIGKILLs a straggler). */
export function stopDaemon(daemon: TestbedDaemon): void {
  bash(
    `SCRIPT_DIR=${CLUSTER_DIR}; source ${CLUSTER_DIR}/conf/testbed.sh; stop_daemon ${daemon} ${RUN_DIR}/${daemon}.pid`,
  )
}

/** Start it as up.sh does and wait until it answers. */
export async function startDaemon(daemon: TestbedDaemon, timeoutMs = 60_000): Promise<void> {
  if (daemonPid(daemon) === null) bash(START[daemon])
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      bash(READY[daemon], 10_000)
      return
    } catch {
      if (Date.now() > deadline) throw new Error(`${daemon} did not come back within ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 500))
    }
  }
}

/** Every daemon of the testbed up again; up.sh heals whatever the direct start could not. */
export async function ensureTestbed(): Promise<void> {
  for (const daemon of ['slurmdbd', 'slurmctld', 'sshd'] as const) {
    try {
      await startDaemon(daemon)
    } catch {
      bash(`bash ${CLUSTER_DIR}/up.sh`, 180_000)
      return
    }
  }
}
