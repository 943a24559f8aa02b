/**
 * Ends what a local job left running when its launcher is gone (killed, or out of memory itself):
 * the launcher's own process tracking (templates/local/task-processes.mjs, shipped with the package)
 * finds the job's processes by the marker in their environment, also those outside its process group.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { templatePath } from '../../src/package-root.js'

interface TaskProcessesModule {
  canTrackProcesses(): boolean
  TaskProcesses: new (
    rootPid: number,
    marker: string,
  ) => { refresh(): number[]; signalAll(signal: NodeJS.Signals): number }
}

let loaded: Promise<TaskProcessesModule> | null = null

/** How long to wait for the killed processes to go (a SIGKILL takes effect a moment later). */
const ATTEMPTS = 100
const PAUSE_MS = 20

/**
 * SIGKILL every process of the job whose launcher started `rootPid` with the marker `jobDir`;
 * resolves once none is left (or after about two seconds).
 */
export async function killLeftovers(rootPid: number | undefined, jobDir: string): Promise<void> {
  loaded ??= import(pathToFileURL(templatePath('local', 'task-processes.mjs')).href) as Promise<TaskProcessesModule>
  const { canTrackProcesses, TaskProcesses } = await loaded
  // by the marker only: the recorded pid may have been reused since the launcher died
  const processes = canTrackProcesses() ? new TaskProcesses(-1, jobDir) : null
  // listed before the group is killed: a dying process's environment can no longer be read
  processes?.refresh()
  if (rootPid !== undefined) {
    try {
      process.kill(-rootPid, 'SIGKILL')
    } catch {
      // the process group is gone already
    }
  }
  if (!processes) return
  for (let i = 0; i < ATTEMPTS; i++) {
    processes.refresh()
    if (processes.signalAll('SIGKILL') === 0) return
    await sleep(PAUSE_MS)
  }
}
