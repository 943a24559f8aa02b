// The processes of one task attempt, found in /proc, so that all of them can be measured and ended,
// including those that left the task's process group (setsid, double-forked daemons). A process is
// the task's when it carries the attempt's marker variable in its environment (inherited across
// setsid and forks, readable without root for one's own processes) or when its parent was the
// task's when it was first seen (a child that cleared its environment). Only processes not seen
// before are examined, so a sample costs a /proc listing plus one read per task process.
import { openSync, readdirSync, readSync, closeSync } from 'node:fs'

export const MARKER = 'RPO_LOCAL_JOB'

const buffer = Buffer.alloc(256 * 1024)

function readProc(file) {
  let fd
  try {
    fd = openSync(file, 'r')
    let length = 0
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null)
      if (read === 0 || length + read === buffer.length) return buffer.subarray(0, length + read)
      length += read
    }
  } catch {
    return null
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** State letter, parent pid and start time from /proc/<pid>/stat (the name may hold spaces and parentheses). */
function readStat(pid) {
  const stat = readProc(`/proc/${pid}/stat`)?.toString('latin1')
  if (!stat) return null
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { state: fields[0], parent: Number(fields[1]), started: fields[19] }
}

function kilobytes(text, field) {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)
  return match ? Number(match[1]) : 0
}

/** Whether this system lets us find a task's processes through /proc (Linux). */
export function canTrackProcesses() {
  return readProc('/proc/self/environ') !== null && readProc('/proc/self/stat') !== null
}

export class TaskProcesses {
  #rootPid
  #needle
  /** pid → its parent pid when first seen and its start time, for every process in the last listing */
  #seen = new Map()
  /** pid → its start time, for the task's processes (a pid reused by another process is not the task's) */
  #tracked = new Map()

  constructor(rootPid, markerValue) {
    this.#rootPid = rootPid
    this.#needle = Buffer.from(`${MARKER}=${markerValue}\0`)
  }

  /** List /proc and return the task's live processes. */
  refresh() {
    let names
    try {
      names = readdirSync('/proc')
    } catch {
      return [...this.#tracked.keys()]
    }
    const present = new Set()
    for (const name of names) {
      const pid = Number(name)
      if (!Number.isInteger(pid) || pid <= 0) continue
      present.add(pid)
      if (this.#seen.has(pid)) continue
      const stat = readStat(pid)
      if (!stat) continue
      this.#seen.set(pid, stat)
      if (pid === this.#rootPid || this.#carriesMarker(pid)) this.#tracked.set(pid, stat.started)
    }
    for (const pid of this.#seen.keys()) {
      if (!present.has(pid)) {
        this.#seen.delete(pid)
        this.#tracked.delete(pid)
      }
    }
    // descendants by ancestry at first sight, to a fixed point (a new child may be listed before its
    // parent); a process older than the task process with its parent's pid had another parent
    for (let grew = true; grew; ) {
      grew = false
      for (const [pid, { parent, started }] of this.#seen) {
        const parentStarted = this.#tracked.get(parent)
        if (!this.#tracked.has(pid) && parentStarted !== undefined && Number(started) >= Number(parentStarted)) {
          this.#tracked.set(pid, started)
          grew = true
        }
      }
    }
    return [...this.#tracked.keys()]
  }

  #carriesMarker(pid) {
    const environ = readProc(`/proc/${pid}/environ`)
    if (!environ) return false
    const at = environ.indexOf(this.#needle)
    return at === 0 || (at > 0 && environ[at - 1] === 0)
  }

  /** Resident memory of the task's processes in kB (RSS: pages shared between them count more than once). */
  residentKb() {
    let total = 0
    for (const pid of this.#tracked.keys()) {
      const status = readProc(`/proc/${pid}/status`)?.toString('latin1')
      if (status) total += kilobytes(status, 'VmRSS')
    }
    return total
  }

  /**
   * Proportional memory in kB (PSS: a page shared by n processes counts 1/n in each), what the task
   * really holds when it forks workers that share their parent's pages. Slow for large processes
   * (the kernel walks their page tables), so only read to confirm an RSS figure over the limit.
   */
  proportionalKb() {
    let total = 0
    for (const pid of this.#tracked.keys()) {
      const rollup = readProc(`/proc/${pid}/smaps_rollup`)?.toString('latin1')
      if (rollup) total += kilobytes(rollup, 'Pss')
      else {
        const status = readProc(`/proc/${pid}/status`)?.toString('latin1')
        if (status) total += kilobytes(status, 'VmRSS')
      }
    }
    return total
  }

  /** Send a signal to every live process of the task; returns how many were signalled. */
  signalAll(signal) {
    let signalled = 0
    for (const [pid, started] of this.#tracked) {
      const stat = readStat(pid)
      if (!stat || stat.state === 'Z' || stat.started !== started) continue
      try {
        process.kill(pid, signal)
        signalled++
      } catch {}
    }
    return signalled
  }
}
