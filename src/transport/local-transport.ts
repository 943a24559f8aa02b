/**
 * The local transport: commands run as child processes of rpo (argv passed directly, no shell) and
 * files are read and written on this machine. Used when rpo runs on the scheduler's login node or
 * with the local executor. Owns process-group timeouts and atomic local file writes.
 */

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { TransportError } from '../core/errors.js'
import { describeArgv, describeScript } from './command-label.js'
import type { ExecOptions, ExecResult, Transport } from './transport.js'

/** Settings shared by every command the local transport runs. */
export interface LocalTransportOptions {
  /** Working directory of every command. @default process.cwd() */
  readonly cwd?: string
  /** Environment of every command. @default process.env */
  readonly env?: NodeJS.ProcessEnv
}

const DEFAULT_TIMEOUT_MS = 60_000
// after SIGTERM, how long the process group gets to exit before SIGKILL
const TERM_GRACE_MS = 2_000

/**
 * Create the local transport. `exec` never goes through a shell, so argv words arrive literally.
 * A program that does not exist or cannot be executed yields exit code 127 or 126 with a message on
 * stderr, as a shell (and therefore the SSH transport) would report it. On timeout the command's
 * whole process group gets SIGTERM, then SIGKILL after 2 s, and `TransportError('command-timeout')`
 * is thrown.
 */
export function createLocalTransport(options: LocalTransportOptions = {}): Transport {
  return {
    description: 'local',
    exec(argv: readonly string[], execOptions: ExecOptions = {}): Promise<ExecResult> {
      const [program, ...args] = argv
      if (program === undefined) return Promise.reject(new TypeError('exec needs a command: argv is empty'))
      return runProcess(program, args, describeArgv(argv), execOptions, options)
    },
    execScript(script: string, execOptions: Omit<ExecOptions, 'stdin'> = {}): Promise<ExecResult> {
      // read whole, as over SSH: `bash -s` reads a piped script one byte per read(2) (see ssh-transport.ts)
      return runProcess(
        'bash',
        ['-c', 'eval "$(cat)"'],
        describeScript(script),
        { ...execOptions, stdin: script },
        options,
      )
    },
    readFile(path: string): Promise<string> {
      return readFile(path, 'utf8')
    },
    writeFile(path: string, content: string, fileOptions: { mode?: number } = {}): Promise<void> {
      return writeFileAtomic(path, content, fileOptions.mode)
    },
    async close(): Promise<void> {},
  }
}

function runProcess(
  program: string,
  args: readonly string[],
  label: string,
  execOptions: ExecOptions,
  options: LocalTransportOptions,
): Promise<ExecResult> {
  const timeoutMs = execOptions.timeoutMs ?? DEFAULT_TIMEOUT_MS
  return new Promise<ExecResult>((resolve, reject) => {
    // detached: the child leads its own process group, so a timeout can end everything it started
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    let isTimedOut = false
    let killTimer: NodeJS.Timeout | undefined
    const killGroup = (signal: NodeJS.Signals): void => {
      if (child.pid === undefined) return
      try {
        process.kill(-child.pid, signal)
      } catch {
        // the group is already gone
      }
    }
    const timeoutTimer = setTimeout(() => {
      isTimedOut = true
      killGroup('SIGTERM')
      killTimer = setTimeout(() => killGroup('SIGKILL'), TERM_GRACE_MS)
    }, timeoutMs)
    const finish = (): void => {
      clearTimeout(timeoutTimer)
      clearTimeout(killTimer)
    }

    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    // a command that exits without reading its stdin makes our write fail with EPIPE; that is not an error
    child.stdin.on('error', () => undefined)
    child.stdin.end(execOptions.stdin ?? '')

    child.on('error', (error: NodeJS.ErrnoException) => {
      finish()
      if (error.code === 'ENOENT' || error.code === 'EACCES') {
        const exitCode = error.code === 'ENOENT' ? 127 : 126
        const reason = error.code === 'ENOENT' ? 'command not found' : 'permission denied'
        resolve({ stdout: '', stderr: `${program}: ${reason}\n`, exitCode, signal: null })
      } else {
        reject(error)
      }
    })
    child.on('close', (code, signal) => {
      finish()
      if (isTimedOut) {
        reject(
          new TransportError(
            'command-timeout',
            `local: \`${label}\` did not finish within ${timeoutMs} ms; its process group was terminated`,
          ),
        )
        return
      }
      resolve({
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        exitCode: code,
        signal,
      })
    })
  })
}

/**
 * Write `content` to `path` so that readers see the old file or the new one, never a mix: temp file
 * in the same directory, fsync, rename, then fsync the directory so the rename survives a crash.
 * Creates parent directories. `mode` is applied exactly; without it, an existing file keeps its mode.
 */
async function writeFileAtomic(path: string, content: string, mode: number | undefined): Promise<void> {
  const dir = dirname(path)
  await mkdir(dir, { recursive: true })
  const effectiveMode =
    mode ??
    (await stat(path).then(
      (info) => info.mode & 0o7777,
      () => undefined,
    ))
  const tempPath = join(dir, `.${basename(path)}.rpo-tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
  // without an explicit or inherited mode, open() gives the usual 0666 minus umask
  const handle = await open(tempPath, 'wx', effectiveMode ?? 0o666)
  try {
    try {
      await handle.writeFile(content, 'utf8')
      // open() filters the mode through the umask; chmod applies exactly what was asked for
      if (effectiveMode !== undefined) await handle.chmod(effectiveMode)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tempPath, path)
  } catch (error) {
    await unlink(tempPath).catch(() => undefined)
    throw error
  }
  const dirHandle = await open(dir, 'r')
  try {
    await dirHandle.sync()
  } catch {
    // some filesystems refuse fsync on directories; the rename itself already happened
  } finally {
    await dirHandle.close()
  }
}
