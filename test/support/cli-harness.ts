/**
 * Running the rpo CLI in tests: in-process through `main()` (fast, measured by coverage) or as the
 * real `bin/rpo.js` child process (for signals and crashes). Each test gets its own folder.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { main } from '../../src/cli/main.js'

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..')
export const RPO_BIN = path.join(REPO_ROOT, 'bin/rpo.js')

export function makeWorkDir(prefix = 'rpo-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix))
}

export function writePipeline(dir: string, name: string, text: string): string {
  const file = path.join(dir, name)
  writeFileSync(file, text)
  return file
}

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Run `rpo <args>` in-process with `cwd` as the working folder (config and store are found there). */
export async function runCli(cwd: string, args: readonly string[]): Promise<CliResult> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (chunk) => {
    out += String(chunk)
  })
  stderr.on('data', (chunk) => {
    err += String(chunk)
  })
  const previous = process.cwd()
  process.chdir(cwd)
  try {
    const code = await main(args, {
      stdout: stdout as unknown as NodeJS.WriteStream,
      stderr: stderr as unknown as NodeJS.WriteStream,
    })
    return { code, stdout: out, stderr: err }
  } finally {
    process.chdir(previous)
  }
}

export interface SpawnedCli {
  readonly child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves when stderr or stdout contains the text. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>
  exited(): Promise<number | null>
  /** Resolves once it exited and its output was read to the end: what to await before parsing stdout. */
  closed(): Promise<{ code: number | null; stdout: string; stderr: string }>
}

export function spawnCli(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): SpawnedCli {
  const child = spawn(process.execPath, [RPO_BIN, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  const waiters: (() => void)[] = []
  const check = () => {
    for (const w of [...waiters]) w()
  }
  child.stdout?.on('data', (c) => {
    out += String(c)
    check()
  })
  child.stderr?.on('data', (c) => {
    err += String(c)
    check()
  })
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const closed = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout: out, stderr: err })),
  )
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor(text, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const matches = () => (typeof text === 'string' ? (out + err).includes(text) : text.test(out + err))
        if (matches()) return resolve()
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${String(text)}; output so far:\n${out}\n${err}`)),
          timeoutMs,
        )
        const waiter = () => {
          if (matches()) {
            clearTimeout(timer)
            waiters.splice(waiters.indexOf(waiter), 1)
            resolve()
          }
        }
        waiters.push(waiter)
        exit.then(() => {
          if (!matches()) {
            clearTimeout(timer)
            reject(new Error(`rpo exited before printing ${String(text)}:\n${out}\n${err}`))
          }
        })
      })
    },
    exited: () => exit,
    closed: () => closed,
  }
}

/** Alive and not a zombie (an orphaned zombie waits for init to reap it, which may take a while here). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}
