#!/usr/bin/env node
// rpo local launcher: runs one task attempt as a detached process and records what happened in
// status.json, so the outcome survives the rpo process that started it. It enforces the time limit
// (SIGTERM, then SIGKILL after the grace period) and the memory limit (task-watch.mjs), turns its
// own SIGTERM into a clean cancel, and ends every process the task started when the task ends.
// Plain JavaScript with no dependencies: it runs from the installed package as it is.
import { spawn } from 'node:child_process'
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import path from 'node:path'
import { afterDelay } from './deadline-timer.mjs'
import { MARKER } from './task-processes.mjs'
import { watchTask } from './task-watch.mjs'

const jobDir = process.argv[2]
if (!jobDir) {
  process.stderr.write('usage: launcher.mjs <job-dir>\n')
  process.exit(2)
}
const job = JSON.parse(readFileSync(path.join(jobDir, 'job.json'), 'utf8'))

// handle signals from the start: a cancel that arrives while the command is being started still counts
let child
let cancelRequested = false
const onCancel = () => {
  if (child) stop('cancelled')
  else cancelRequested = true
}
process.on('SIGTERM', onCancel)
process.on('SIGINT', onCancel)
process.on('SIGHUP', () => undefined)

// one launcher per job directory: a second start (a resend after a crash) leaves the first alone
try {
  closeSync(openSync(path.join(jobDir, 'launcher.lock'), 'wx'))
} catch {
  process.exit(0)
}

function lastLine(file) {
  try {
    const text = readFileSync(file, 'utf8').slice(-2000)
    const lines = text.split('\n').map((l) => l.trim()).filter(Boolean)
    const line = lines[lines.length - 1]
    return line ? line.slice(0, 300) : null
  } catch {
    return null
  }
}

function writeStatus(status) {
  const file = path.join(jobDir, 'status.json')
  const temp = `${file}.${process.pid}.tmp`
  const fd = openSync(temp, 'w')
  writeSync(fd, `${JSON.stringify(status)}\n`)
  fsyncSync(fd)
  closeSync(fd)
  renameSync(temp, file)
}

// rpo asked to cancel before this launcher got going: record it and never start the command
if (existsSync(path.join(jobDir, 'cancel-requested'))) {
  const now = new Date().toISOString()
  writeStatus({ state: 'cancelled', launcherPid: process.pid, startedAt: now, endedAt: now, exitCode: null, reason: 'cancelled before it started' })
  process.exit(0)
}

if (job.env.RPO_OUTPUT_DIR) mkdirSync(job.env.RPO_OUTPUT_DIR, { recursive: true })
const stdout = openSync(path.join(jobDir, 'stdout.log'), 'a')
const stderr = openSync(path.join(jobDir, 'stderr.log'), 'a')
const startedAt = new Date().toISOString()
let ending = null
let memoryUsedMb = null
try {
  child = spawn('/bin/bash', ['-c', job.command], {
    cwd: job.cwd,
    // the marker finds the task's processes even after they left its process group (task-processes.mjs)
    env: { ...process.env, ...job.env, [MARKER]: path.resolve(jobDir) },
    stdio: ['ignore', stdout, stderr],
    detached: true,
  })
} catch (error) {
  writeStatus({ state: 'failed', launcherPid: process.pid, startedAt, endedAt: new Date().toISOString(), exitCode: 127, reason: `could not start: ${error.message}` })
  process.exit(0)
}
writeStatus({ state: 'running', launcherPid: process.pid, pid: child.pid, startedAt })

const watch = watchTask({
  pid: child.pid,
  marker: path.resolve(jobDir),
  memoryLimitMb: job.memoryMb,
  // like the kernel's OOM killer under a cgroup limit: no grace period
  onOverLimit(usedMb) {
    if (ending !== null) return
    ending = 'out_of_memory'
    memoryUsedMb = usedMb
    watch.signal('SIGKILL')
  },
})
if (!watch.tracking) {
  writeSync(stderr, 'rpo: this system has no /proc, so the memory limit is not enforced and processes that leave the task\'s process group are not ended with it\n')
}

function stop(why) {
  if (ending !== null) return
  ending = why
  watch.signal('SIGTERM')
  afterDelay(job.killGraceMs, () => watch.signal('SIGKILL'), { keepAlive: false })
}

const cancelLimit = afterDelay(job.timeLimitSeconds * 1000, () => stop('timeout'))
// a checkpointing task is told first, like Slurm's --signal: it saves and exits 85 before the limit
let warned = false
const cancelWarning = job.checkpointWarning
  ? afterDelay(Math.max(0, job.timeLimitSeconds - job.checkpointWarning.leadSeconds) * 1000, () => {
      warned = true
      try {
        process.kill(child.pid, job.checkpointWarning.signal)
      } catch {}
    })
  : () => undefined
if (cancelRequested) stop('cancelled')

child.on('error', async (error) => {
  cancelLimit()
  await watch.endAll()
  writeStatus({ state: 'failed', launcherPid: process.pid, startedAt, endedAt: new Date().toISOString(), exitCode: 127, reason: `could not start: ${error.message}` })
  process.exit(0)
})

child.on('exit', async (code, signal) => {
  cancelLimit()
  cancelWarning()
  const endedAt = new Date().toISOString()
  // the command's own children may linger, in its process group or out of it: end them with it
  await watch.endAll()
  // killed by the warning itself: the task had no handler for it yet (still starting: a slow import).
  // The warning stands for the time limit, so this is the time limit come early, not a failure of the
  // task's own: rpo resumes it from its newest checkpoint like any time-limit ending (maxResumes bounds it)
  const warnedBeforeReady = ending === null && warned && signal === job.checkpointWarning.signal
  const state = ending ?? (warnedBeforeReady ? 'timeout' : code === 0 ? 'succeeded' : 'failed')
  const reason = warnedBeforeReady
    ? `killed by ${signal}, its checkpoint warning ${job.checkpointWarning.leadSeconds}s before its time limit of ${job.timeLimitSeconds}s, before it handled that signal: ended as at its time limit`
    : ending === 'timeout'
      ? `ran past its time limit of ${job.timeLimitSeconds}s and was stopped`
      : ending === 'out_of_memory'
        ? `used ${memoryUsedMb} MB, over its ${job.memoryMb} MB limit`
        : ending === 'cancelled'
          ? 'cancelled'
          : code === 127
            ? 'command not found (exit 127); see stderr.log'
            : signal
              ? `killed by ${signal}`
              : code === 0
                ? null
                : `exited with code ${code}`
  const said = state === 'failed' ? lastLine(path.join(jobDir, 'stderr.log')) : null
  const peakMb = watch.peakMb()
  writeStatus({ state, launcherPid: process.pid, pid: child.pid, startedAt, endedAt, exitCode: code, signal, reason: said ? `${reason}: ${said}` : reason, ...(peakMb === null ? {} : { maxRssMb: Math.max(peakMb, memoryUsedMb ?? 0) }) })
  process.exit(0)
})
