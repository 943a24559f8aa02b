// Watches one running task for the launcher: samples the memory of all its processes and reports
// when it goes over its limit (the local stand-in for a cgroup's OOM killer), signals all of them,
// and at the end makes sure none is left, even one that left the process group. Where /proc is
// missing (not Linux) only the task's process group can be reached and memory is not measured.
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { canTrackProcesses, TaskProcesses } from './task-processes.mjs'

/** How often the task's processes are listed and measured. */
export const SAMPLE_MS = 250
/** RSS over the limit is confirmed with PSS; while PSS stays under it, at most this often (PSS is slow). */
const CONFIRM_EVERY_MS = 2000
/** How long the end waits for the task's last processes to go. */
const END_ATTEMPTS = 100
const END_PAUSE_MS = 20

/**
 * Start watching the task whose first process is `pid` (a process group leader) and whose processes
 * carry `marker`. `onOverLimit(usedMb)` is called once when the task holds more than `memoryLimitMb`.
 */
export function watchTask({ pid, marker, memoryLimitMb, onOverLimit }) {
  const processes = canTrackProcesses() ? new TaskProcesses(pid, marker) : null
  // a job file without a memory figure (never written by rpo) is measured but not limited
  const limitKb = memoryLimitMb > 0 ? memoryLimitMb * 1024 : Number.POSITIVE_INFINITY
  let peakKb = 0
  let lastConfirm = Number.NEGATIVE_INFINITY
  let timer = null

  const sample = () => {
    processes.refresh()
    const resident = processes.residentKb()
    if (resident <= limitKb) {
      peakKb = Math.max(peakKb, resident)
      return
    }
    // RSS counts pages shared between the task's processes (forked data loaders) once per process
    const now = performance.now()
    if (now - lastConfirm < CONFIRM_EVERY_MS) return
    lastConfirm = now
    const proportional = processes.proportionalKb()
    peakKb = Math.max(peakKb, proportional)
    if (proportional > limitKb) {
      clearInterval(timer)
      onOverLimit(Math.round(proportional / 1024))
    }
  }
  if (processes) {
    timer = setInterval(() => {
      try {
        sample()
      } catch (error) {
        process.stderr.write(`rpo launcher: could not measure the task's memory: ${error.message}\n`)
      }
    }, SAMPLE_MS)
  }

  const signalGroup = (name) => {
    try {
      process.kill(-pid, name)
    } catch {}
  }

  return {
    /** Whether memory is enforced and escaped processes can be found. */
    tracking: processes !== null,
    /** Signal every process of the task. */
    signal(name) {
      // list first: a child that cleared its environment is only known by its parent, still alive now
      processes?.refresh()
      signalGroup(name)
      processes?.signalAll(name)
    },
    /** Stop watching and kill whatever the task left running; resolves once none is left. */
    async endAll() {
      if (timer) clearInterval(timer)
      processes?.refresh()
      signalGroup('SIGKILL')
      if (!processes) return
      for (let i = 0; i < END_ATTEMPTS; i++) {
        processes.refresh()
        if (processes.signalAll('SIGKILL') === 0) return
        await sleep(END_PAUSE_MS)
      }
    },
    /** The most memory the task was seen to hold, in MB (null where it cannot be measured). */
    peakMb() {
      return processes ? Math.round(peakKb / 1024) : null
    },
  }
}
